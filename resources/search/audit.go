package search

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// The audit log. AuditEvents, one per request the server answers, are
// by far the most numerous resources and are never changed: each is kept
// in one row of audit_event (its JSON, packed by resources.PackAudit; its
// instant, outcome and action; its other token and string values packed in
// one text column) plus a row in audit_ref per patient, agent and entity
// reference, instead of a row in
// resources, one in resource_history and one per index entry. That makes an
// audit write a few index insertions rather than forty. Both stores route
// the AuditEvent type here: reads, version reads, history and searches run
// the queries below; the stores write the rows (AuditRowOf).
//
// The audit log answers the AuditEvent search parameters auditors use
// (AuditSearchParams); the others, chains from AuditEvent, :missing and
// :contains are refused with a message that says so. _include, _revinclude
// (AuditEvent:patient, AuditEvent:agent, AuditEvent:entity) and _has work,
// and every query carries the caller's scope like any other.

// AuditType is the resource type the audit log keeps.
const AuditType = "AuditEvent"

// AuditSearchParams lists the parameters an AuditEvent search accepts.
const AuditSearchParams = "_id, _lastUpdated, date, patient, agent, entity, outcome, action, subtype, altid and address"

// auditRefParams are the reference parameters kept in audit_ref.
var auditRefParams = []string{"agent", "entity", "patient"}

// auditTerms are the parameters packed in audit_event.terms, by type.
var auditTerms = map[string]string{"subtype": "token", "altid": "token", "address": "string"}

// AuditRow and AuditRef are the audit log's rows (package resources).
type (
	AuditRow = resources.AuditRow
	AuditRef = resources.AuditRef
)

// auditRoles are the bits of the reference parameters kept in audit_ref.
var auditRoles = map[string]int{"patient": resources.AuditRolePatient, "agent": resources.AuditRoleAgent, "entity": resources.AuditRoleEntity}

// AuditRowOf is the row of the stamped AuditEvent r with index entries x
// (as the extractor finds them; entries of other parameters are ignored).
func AuditRowOf(r resources.Resource, x *resources.Index) AuditRow {
	row := AuditRow{ID: r.ID, LastUpdated: r.LastUpdated.UnixMicro(), Recorded: r.LastUpdated.UnixMicro(), Data: resources.PackAudit(r.Data)}
	if x == nil {
		return row
	}
	dated := false
	for _, d := range x.Dates {
		if d.Param == "date" && (!dated || d.Low < row.Recorded) {
			row.Recorded, dated = d.Low, true
		}
	}
	var terms resources.Lines
	for _, t := range x.Tokens {
		switch t.Param {
		case "outcome":
			if row.Outcome == "" && t.System == "" {
				row.Outcome = t.Code
			}
		case "action":
			if row.Action == "" && t.System == "" {
				row.Action = t.Code
			}
		case "subtype", "altid":
			resources.AddAuditToken(&terms, t.Param, t.System, t.Code)
		}
	}
	for _, s := range x.Strings {
		if s.Param == "address" {
			resources.AddAuditString(&terms, s.Param, s.Norm, s.Exact)
		}
	}
	row.Terms = terms.Packed()
	for _, ref := range x.References {
		if bit := auditRoles[ref.Param]; bit != 0 {
			row.Refs = resources.AddAuditRef(row.Refs, bit, ref)
		}
	}
	resources.SortAuditRefs(row.Refs)
	row.Packed = resources.PackAuditRefs(row.Refs)
	return row
}

// AuditRowFor is the row of the stamped AuditEvent r created by p: the row
// p carries (resources.CreateParams.Audit), else the one its index entries
// make. When the log assigns the event's id (LogAssigned), the row keeps
// the number or id that an earlier attempt to write it was given, if any.
func AuditRowFor(r resources.Resource, p resources.CreateParams) AuditRow {
	if p.Audit == nil || p.Stamped.IsZero() {
		return AuditRowOf(r, p.Index)
	}
	row := *p.Audit
	if !LogAssigned(p) {
		row.Seq, row.ID = 0, r.ID
	}
	row.LastUpdated, row.Data = r.LastUpdated.UnixMicro(), resources.PackAudit(r.Data)
	return row
}

// LogAssigned reports whether the audit log chooses the id of the
// AuditEvent p creates: one the server's audit trail built with its row
// (resources.CreateParams.Audit) and without an id. A store gives such an
// event a number (AuditRow.Seq, its id resources.AuditNumberedID) or an id
// (AuditRow.ID) and records it in p.Audit before it writes, so that writing
// the same row again (a retry after a failure that may have come after the
// commit) stores the event under the same key, where it conflicts, and
// never twice.
func LogAssigned(p resources.CreateParams) bool {
	return p.Type == AuditType && p.Audit != nil && p.ID == "" && !p.Stamped.IsZero()
}

// CheckAuditID refuses a create that names an AuditEvent by an id of the
// form the audit log gives the events it numbers (resources.AuditNumberedID):
// those ids are the log's.
func CheckAuditID(p resources.CreateParams) error {
	if p.Type != AuditType {
		return nil
	}
	if _, ok := resources.AuditNumberedSeq(p.ID); ok {
		return resources.Invalid("invalid", "AuditEvent.id", fmt.Sprintf(
			"the audit log keeps ids of the form %q for the events it numbers", resources.AuditNumberedPrefix+"<number>"))
	}
	return nil
}

// auditID is the id of audit_event alias a: its own, or the one its number
// gives it (resources.AuditNumberedID).
func auditID(a string) string {
	return fmt.Sprintf("COALESCE(%s.id, '%s' || %s.seq)", a, resources.AuditNumberedPrefix, a)
}

// auditIDs is the condition that audit_event alias a is one of the events
// ids names, by its own id or by its number.
func (b *builder) auditIDs(a string, ids []string) string {
	var seqs []string
	for _, id := range ids {
		if n, ok := resources.AuditNumberedSeq(id); ok {
			seqs = append(seqs, b.arg(n))
		}
	}
	cond := fmt.Sprintf("%s.id IN (%s)", a, b.list(ids))
	if len(seqs) > 0 {
		cond = fmt.Sprintf("(%s OR (%s.id IS NULL AND %s.seq IN (%s)))", cond, a, a, strings.Join(seqs, ", "))
	}
	return cond
}

// roleParams are the parameter names of a roles set, in auditRefParams order.
func roleParams(roles int) []string {
	var out []string
	for _, p := range auditRefParams {
		if roles&auditRoles[p] != 0 {
			out = append(out, p)
		}
	}
	return out
}

// rolesOf is the roles bits of reference parameters.
func rolesOf(params ...string) int {
	m := 0
	for _, p := range params {
		m |= auditRoles[p]
	}
	return m
}

// auditUnsupported is the error of a search feature the audit log does not
// answer.
func auditUnsupported(code, what string) error {
	return resources.Invalid("not-supported", code, fmt.Sprintf(
		"AuditEvents are kept in the audit log, which does not answer %s; AuditEvent searches take %s", what, AuditSearchParams))
}

// auditWhere compiles a filter on audit_event alias a.
func (b *builder) auditWhere(a string, f Filter) (string, error) {
	code := f.Param.Code
	switch {
	case f.Has != nil:
		return "", auditUnsupported("_has", "_has")
	case f.Chain != nil:
		return "", auditUnsupported(code, "chained parameters ("+code+"."+f.Chain.Filter.Param.Code+")")
	case f.Modifier == "missing":
		return "", auditUnsupported(code, code+":missing")
	}
	modifier := func(allowed ...string) error {
		if f.Modifier != "" && !slices.Contains(allowed, f.Modifier) {
			return auditUnsupported(code, code+":"+f.Modifier)
		}
		return nil
	}
	switch code {
	case "_id":
		if err := modifier("not"); err != nil {
			return "", err
		}
		ids := make([]string, len(f.Values))
		for i, v := range f.Values {
			ids[i] = v.Code
		}
		cond := b.auditIDs(a, ids)
		if f.Modifier == "not" {
			// (An event the log numbered has no id of its own: the IN
			// is unknown, not false, for it.)
			return "NOT COALESCE(" + cond + ", " + b.d.False + ")", nil
		}
		return cond, nil
	case "_lastUpdated", "date":
		if err := modifier(); err != nil {
			return "", err
		}
		col := a + ".last_updated"
		if code == "date" {
			col = a + ".recorded"
		}
		var ors []string
		for _, v := range f.Values {
			if v.Prefix == Eq || v.Prefix == "" {
				ors = append(ors, fmt.Sprintf("(%s >= %s AND %s <= %s)", col, b.arg(v.Start.UnixMicro()), col, b.arg(v.End.UnixMicro())))
			} else {
				ors = append(ors, b.dateRange(col, col, v))
			}
		}
		return "(" + strings.Join(ors, " OR ") + ")", nil
	case "outcome", "action":
		if err := modifier("not"); err != nil {
			return "", err
		}
		// Both are codes: indexed without a system.
		var ors []string
		for _, v := range f.Values {
			switch {
			case v.HasSystem && v.System != "":
				ors = append(ors, "1 = 0")
			case v.Code == "":
				ors = append(ors, "1 = 1")
			default:
				ors = append(ors, fmt.Sprintf("%s.%s = %s", a, code, b.arg(v.Code)))
			}
		}
		return negate(f, "("+strings.Join(ors, " OR ")+")"), nil
	case "patient", "agent", "entity":
		if err := modifier(); err != nil {
			return "", err
		}
		x := b.alias("x")
		var ors []string
		for _, v := range f.Values {
			ors = append(ors, b.reference(x, f, v))
		}
		return fmt.Sprintf("%s.seq IN (SELECT %s FROM audit_ref %s WHERE (%s) AND (%s.roles & %d) <> 0)",
			a, b.d.AuditSeqs(x), x, strings.Join(ors, " OR "), x, auditRoles[code]), nil
	case "subtype", "altid":
		if err := modifier("not"); err != nil {
			return "", err
		}
		var ors []string
		for _, v := range f.Values {
			var pattern string
			switch {
			case !v.HasSystem:
				pattern = "%\n" + likeEscape(code+"#"+resources.OneLine(v.Code)) + "\n%"
			case v.Code == "":
				pattern = "%\n" + likeEscape(code+"|"+resources.OneLine(v.System)+"|") + "%"
			default:
				pattern = "%\n" + likeEscape(code+"|"+resources.OneLine(v.System)+"|"+resources.OneLine(v.Code)) + "\n%"
			}
			ors = append(ors, fmt.Sprintf(`%s.terms LIKE %s ESCAPE '\'`, a, b.arg(pattern)))
		}
		return negate(f, "("+strings.Join(ors, " OR ")+")"), nil
	case "address":
		if err := modifier("exact"); err != nil {
			return "", err
		}
		var ors []string
		for _, v := range f.Values {
			pattern := "%\n" + likeEscape(code+"~"+resources.OneLine(b.fold(v.Text))) + "%"
			if f.Modifier == "exact" {
				pattern = "%\n" + likeEscape(code+"="+resources.OneLine(v.Text)) + "\n%"
			}
			ors = append(ors, fmt.Sprintf(`%s.terms LIKE %s ESCAPE '\'`, a, b.arg(pattern)))
		}
		return "(" + strings.Join(ors, " OR ") + ")", nil
	}
	return "", auditUnsupported(code, "the "+code+" parameter")
}

func negate(f Filter, cond string) string {
	if f.Modifier == "not" {
		return "NOT " + cond
	}
	return cond
}

// auditCompartment is the condition that audit_event alias a is in
// compartment c (through patient, agent or entity); "1 = 0" when the
// compartment has no such link.
func auditCompartment(b *builder, a string, c *Compartment) string {
	roles := rolesOf(c.Params[AuditType]...)
	if roles == 0 {
		return "1 = 0"
	}
	x := b.alias("c")
	return fmt.Sprintf("%s.seq IN (SELECT %s FROM audit_ref %s WHERE %s.target_id = %s AND %s.target_type = %s AND (%s.roles & %d) <> 0)",
		a, b.d.AuditSeqs(x), x, x, b.arg(c.ID), x, b.arg(c.Type), x, roles)
}

// auditFilters compiles an AuditEvent search's filters, compartment and
// scope on audit_event alias r.
func (e Engine) auditFilters(b *builder, q *Query) (string, error) {
	conds := []string{"1 = 1"}
	if c := q.Compartment; c != nil {
		conds = append(conds, compartmentOf(b, "r", c, AuditType))
	}
	if c, err := b.confine("r", AuditType, false); err != nil {
		return "", err
	} else if c != "" {
		conds = append(conds, c)
	}
	for _, f := range q.Filters {
		c, err := b.auditWhere("r", f)
		if err != nil {
			return "", err
		}
		conds = append(conds, c)
	}
	return strings.Join(conds, "\n  AND "), nil
}

// auditSortKeys compiles _sort for an AuditEvent search: by date,
// _lastUpdated or _id.
func auditSortKeys(b *builder, q *Query) ([]sortKey, error) {
	var keys []sortKey
	for _, s := range q.Sort {
		k := sortKey{desc: s.Descending, kind: 'i'}
		switch s.Param.Code {
		case "date":
			k.expr = "r.recorded"
		case "_lastUpdated":
			k.expr = "r.last_updated"
		case "_id":
			k.expr, k.kind = auditID("r")+b.d.Collate, 's'
		default:
			return nil, auditUnsupported("_sort", "_sort="+s.Param.Code+" (it sorts by date, _lastUpdated or _id)")
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// auditColumns select an audit_event row (alias a) as the columns of a
// resource row that scanRow and collect read.
func auditColumns(a string) string {
	return fmt.Sprintf("'%s', %s, 1, %s.last_updated, %s.data", AuditType, auditID(a), a, a)
}

// auditRead reads an AuditEvent by id under the scope of ctx; version 0
// is the current (and only) version.
func (e Engine) auditRead(ctx context.Context, ex Executor, id string, version int64) (resources.Resource, error) {
	b := e.scoped(ctx)
	sql := "SELECT r.last_updated, r.data FROM audit_event r WHERE " + b.auditIDs("r", []string{id})
	cond, err := b.confine("r", AuditType, false)
	if err != nil {
		return resources.Resource{}, err
	}
	if cond != "" {
		sql += " AND " + cond
	}
	r := resources.Resource{Type: AuditType, ID: id, VersionID: 1}
	var micros int64
	found := false
	err = ex.Each(ctx, sql, b.args, func(scan func(...any) error) error {
		found = true
		return scan(&micros, &r.Data)
	})
	if version != 0 {
		r.Method = "POST"
		if version != 1 {
			found = false // an AuditEvent has one version
		}
	}
	r.Data = resources.UnpackAudit(r.Data, id)
	return finishRead(r, micros, found, err)
}

// AuditHistory is the history of AuditEvents (p.Type is AuditType): each
// has one version, its creation, newest first in the order the log was
// written (which follows lastUpdated but for events written concurrently,
// such as two replicas' batches).
func (e Engine) AuditHistory(ctx context.Context, ex Executor, p resources.HistoryParams) (resources.HistoryPage, error) {
	cur, count, err := resources.PageOf(p)
	if err != nil {
		return resources.HistoryPage{}, err
	}
	b := e.scoped(ctx)
	conds := []string{"1 = 1"}
	if p.ID != "" {
		conds = append(conds, b.auditIDs("r", []string{p.ID}))
	}
	if !p.Since.IsZero() {
		since := p.Since.UnixMicro()
		if p.Since.Nanosecond()%1000 != 0 {
			since++
		}
		conds = append(conds, "r.last_updated >= "+b.arg(since))
	}
	if !p.AtEnd.IsZero() {
		// An AuditEvent, once written, is current ever after.
		conds = append(conds, "r.last_updated <= "+b.arg(p.AtEnd.UnixMicro()))
	}
	if p.Cursor != "" {
		conds = append(conds, "r.seq < "+b.arg(cur.Seq))
	}
	if c, err := b.confine("r", AuditType, false); err != nil {
		return resources.HistoryPage{}, err
	} else if c != "" {
		conds = append(conds, c)
	}
	sql := fmt.Sprintf("SELECT r.seq, %s, r.last_updated, r.data FROM audit_event r WHERE %s\nORDER BY r.seq DESC LIMIT %d",
		auditID("r"), strings.Join(conds, "\n  AND "), count+1)
	var page resources.HistoryPage
	var last resources.Cursor
	err = ex.Each(ctx, sql, b.args, func(scan func(...any) error) error {
		if len(page.Entries) == count {
			page.Next = resources.EncodeCursor(last)
			return nil
		}
		r := resources.Resource{Type: AuditType, VersionID: 1, Method: "POST"}
		if err := scan(&last.Seq, &r.ID, &last.Micros, &r.Data); err != nil {
			return err
		}
		r.Data = resources.UnpackAudit(r.Data, r.ID)
		r.LastUpdated = time.UnixMicro(last.Micros).UTC()
		page.Entries = append(page.Entries, r)
		return nil
	})
	if err != nil {
		return resources.HistoryPage{}, err
	}
	if p.ID != "" && len(page.Entries) == 0 {
		if _, err := e.auditRead(ctx, ex, p.ID, 0); err != nil {
			return resources.HistoryPage{}, err
		}
	}
	return page, nil
}

// auditInclude: the resources that the AuditEvents in from refer to. The
// references come from the events' packed list; the targets are read with
// the caller's scope.
func (e Engine) auditInclude(ctx context.Context, ex Executor, inc Include, from []resources.Resource, add func(resources.Resource)) error {
	ids := idsOf(from, AuditType)
	if len(ids) == 0 {
		return nil
	}
	b := e.builder()
	byType := map[string][]string{}
	seen := map[string]bool{}
	err := ex.Each(ctx, "SELECT a.refs FROM audit_event a WHERE "+b.auditIDs("a", ids), b.args, func(scan func(...any) error) error {
		var packed string
		if err := scan(&packed); err != nil {
			return err
		}
		for _, r := range resources.UnpackAuditRefs(packed) {
			switch {
			case r.TargetID == "", !inc.Wildcard && r.Roles&auditRoles[inc.Param.Code] == 0,
				inc.Target != "" && r.TargetType != inc.Target, r.TargetType == AuditType, seen[r.TargetType+"/"+r.TargetID]:
				continue
			}
			seen[r.TargetType+"/"+r.TargetID] = true
			byType[r.TargetType] = append(byType[r.TargetType], r.TargetID)
		}
		return nil
	})
	if err != nil || len(byType) == 0 {
		return err
	}
	types := make([]string, 0, len(byType))
	for t := range byType {
		if inc.Types == nil || slices.Contains(inc.Types, t) {
			types = append(types, t)
		}
	}
	if len(types) == 0 {
		return nil
	}
	slices.Sort(types)
	b = e.scoped(ctx)
	var ors []string
	for _, t := range types {
		ors = append(ors, fmt.Sprintf("(t.type = %s AND t.id IN (%s))", b.arg(t), b.list(byType[t])))
	}
	cond, err := b.andConfined("("+strings.Join(ors, " OR ")+")", "t", inc.Target)
	if err != nil {
		return err
	}
	sql := fmt.Sprintf("SELECT t.type, t.id, t.version, t.last_updated, t.data FROM resources t WHERE %s AND t.deleted = %s", cond, b.d.False)
	return e.collect(ctx, ex, sql, b.args, add)
}

// auditRevinclude: the AuditEvents that refer to the resources of type typ
// with the given ids.
func (e Engine) auditRevinclude(ctx context.Context, ex Executor, inc Include, typ string, ids []string, add func(resources.Resource)) error {
	b := e.scoped(ctx)
	cond := fmt.Sprintf("x.target_type = %s AND x.target_id IN (%s)", b.arg(typ), b.list(ids))
	if !inc.Wildcard {
		cond += fmt.Sprintf(" AND (x.roles & %d) <> 0", auditRoles[inc.Param.Code])
	}
	cond, err := b.andConfined(fmt.Sprintf("s.seq IN (SELECT %s FROM audit_ref x WHERE %s)", b.d.AuditSeqs("x"), cond), "s", AuditType)
	if err != nil {
		return err
	}
	sql := fmt.Sprintf(`SELECT %s, s.seq FROM audit_event s WHERE %s ORDER BY s.seq LIMIT %d`, auditColumns("s"), cond, maxIncluded)
	return ex.Each(ctx, sql, b.args, func(scan func(...any) error) error {
		var r resources.Resource
		var micros, seq int64
		if err := scan(&r.Type, &r.ID, &r.VersionID, &micros, &r.Data, &seq); err != nil {
			return err
		}
		r.Data = resources.UnpackAudit(r.Data, r.ID)
		r.LastUpdated = time.UnixMicro(micros).UTC()
		add(r)
		return nil
	})
}

// auditHas: resources referred to by an AuditEvent, through h.Param, that
// matches the inner filter (_has:AuditEvent:patient:outcome=4).
func (b *builder) auditHas(r string, h *Has) (string, error) {
	if auditRoles[h.Param.Code] == 0 {
		return "", auditUnsupported("_has", "_has:AuditEvent:"+h.Param.Code)
	}
	x, s := b.alias("x"), b.alias("s")
	inner, err := b.auditWhere(s, h.Filter)
	if err != nil {
		return "", err
	}
	if inner, err = b.andConfined(inner, s, AuditType); err != nil {
		return "", err
	}
	return fmt.Sprintf(`EXISTS (SELECT 1 FROM audit_event %s WHERE %s.seq IN (SELECT %s FROM audit_ref %s
		WHERE %s.target_id = %s.id AND %s.target_type = %s.type AND (%s.roles & %d) <> 0) AND %s%s)`,
		s, s, b.d.AuditSeqs(x), x, x, r, x, r, x, auditRoles[h.Param.Code], inner, b.d.NoFlatten), nil
}

// AuditImmutable is the error of an update or delete of an AuditEvent,
// which the audit log refuses (the server refuses them before).
func AuditImmutable(typ string) error {
	if typ != AuditType {
		return nil
	}
	return resources.Invalid("forbidden", "", "AuditEvents are immutable: they cannot be updated or deleted")
}

// AuditIndexOf returns the entries the audit log keeps of an AuditEvent, as
// index entries: what its searches can find (tests and diagnostics).
// Errors: resources.ErrNotFound.
func (e Engine) AuditIndexOf(ctx context.Context, ex Executor, id string) (*resources.Index, error) {
	b := e.builder()
	var recorded int64
	var outcome, action, terms, packed string
	found := false
	err := ex.Each(ctx, "SELECT a.recorded, a.outcome, a.action, a.terms, a.refs FROM audit_event a WHERE "+b.auditIDs("a", []string{id}), b.args,
		func(scan func(...any) error) error {
			found = true
			return scan(&recorded, &outcome, &action, &terms, &packed)
		})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, resources.ErrNotFound
	}
	x := &resources.Index{Dates: []resources.DateEntry{{Param: "date", Low: recorded, High: recorded}}}
	for param, code := range map[string]string{"outcome": outcome, "action": action} {
		if code != "" {
			x.Tokens = append(x.Tokens, resources.TokenEntry{Param: param, Code: code})
		}
	}
	var norms []string
	for _, line := range strings.Split(strings.Trim(terms, "\n"), "\n") {
		i := strings.IndexAny(line, "#|~=")
		if i < 0 {
			continue
		}
		param, mark, value := line[:i], line[i], line[i+1:]
		switch mark {
		case '|':
			j := strings.LastIndexByte(value, '|')
			x.Tokens = append(x.Tokens, resources.TokenEntry{Param: param, System: value[:j], Code: value[j+1:]})
		case '~':
			norms = append(norms, value)
		case '=':
			if len(norms) > 0 {
				x.Strings = append(x.Strings, resources.StringEntry{Param: param, Norm: norms[0], Exact: value})
				norms = norms[1:]
			}
		}
	}
	for _, r := range resources.UnpackAuditRefs(packed) {
		for _, p := range roleParams(r.Roles) {
			x.References = append(x.References, resources.ReferenceEntry{Param: p, TargetType: r.TargetType, TargetID: r.TargetID, URL: r.URL})
		}
	}
	return x, nil
}
