package search

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// Executor runs a query and calls fn once per row with a scan function
// whose destinations follow the select list. Both stores implement it.
type Executor interface {
	Each(ctx context.Context, sql string, args []any, fn func(scan func(dest ...any) error) error) error
}

// Page is one page of search results.
type Page struct {
	Matches  []resources.Resource
	Included []resources.Resource
	// Next continues the search on the following page; empty on the last.
	Next string
	// Total is the number of matches, or -1 when it was not counted.
	Total int64
}

// Engine runs searches for a store.
type Engine struct {
	Dialect Dialect
	Fold    Folder
	Convert Converter
}

// maxIncluded bounds the resources _include and _revinclude may add to one page.
const maxIncluded = 1000

// sortKey is one ORDER BY expression with its direction and kind.
type sortKey struct {
	expr string
	desc bool
	kind byte // 's' text, 'i' integer, 'f' float
}

// sortKeys compiles _sort into expressions on resources alias r (on the
// audit log for AuditEvents). Missing values sort last in both directions.
func (e Engine) sortKeys(b *builder, q *Query) ([]sortKey, error) {
	if q.Type == AuditType {
		return auditSortKeys(b, q)
	}
	var keys []sortKey
	for _, s := range q.Sort {
		k := sortKey{desc: s.Descending}
		agg := "min"
		if s.Descending {
			agg = "max"
		}
		col, table := "", tableOf(s.Param.Type)
		switch s.Param.Type {
		case "date":
			col, k.kind = "low", 'i'
			if s.Descending {
				col = "high"
			}
		case "string":
			col, k.kind = "norm", 's'
		case "token":
			col, k.kind = "code", 's'
		case "reference":
			col, k.kind = "target_id", 's'
		case "uri":
			col, k.kind = "uri", 's'
		case "number", "quantity":
			col, k.kind = "value", 'f'
		}
		switch s.Param.Code {
		case "_id":
			k.expr, k.kind = "r.id"+b.d.Collate, 's'
		case "_lastUpdated":
			k.expr, k.kind = "r.last_updated", 'i'
		default:
			x := b.alias("o")
			sub := fmt.Sprintf("(SELECT %s(%s.%s%s) FROM %s %s WHERE %s.rid = r.rid AND %s.param = %s)",
				agg, x, col, textCollate(b, k.kind), table, x, x, x, b.arg(s.Param.Code))
			k.expr = fmt.Sprintf("COALESCE(%s, %s)", sub, sentinel(b, k.kind, s.Descending))
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func textCollate(b *builder, kind byte) string {
	if kind == 's' {
		return b.d.Collate
	}
	return ""
}

// sentinel stands in for a missing sort value so that it sorts last.
func sentinel(b *builder, kind byte, desc bool) string {
	switch {
	case kind == 's' && desc:
		return "''"
	case kind == 's':
		return "'\U0010FFFF'" + b.d.Collate
	case kind == 'i' && desc:
		return strconv.FormatInt(math.MinInt64, 10)
	case kind == 'i':
		return strconv.FormatInt(math.MaxInt64, 10)
	case desc:
		return "-1e308"
	}
	return "1e308"
}

// driver returns the index of a filter that can drive the page query from
// its index, in rid order, or -1: with the default order, a token filter with
// one system|code value reads matching rids already sorted from the token
// index and the page stops after Count of them, where probing every match
// would cost the whole code's population (610 ms at 1M Observations).
// Index entries are unique per (resource, param, system, code), so the join
// cannot repeat a resource.
func driver(q *Query) int {
	if len(q.Sort) > 0 || q.Type == "" || q.Type == AuditType || q.Compartment != nil {
		return -1
	}
	for i, f := range q.Filters {
		if f.Chain != nil || f.Has != nil || f.Modifier != "" || f.Param.Type != "token" || len(f.Values) != 1 ||
			strings.HasPrefix(f.Param.Code, "_id") || strings.HasPrefix(f.Param.Code, "_lastUpdated") {
			continue
		}
		if v := f.Values[0]; v.HasSystem && v.System != "" && v.Code != "" {
			return i
		}
	}
	return -1
}

// table is what a search of q reads, aliased r: the resources table, or
// the audit log for AuditEvents (audit.go); where is the query's filters
// compiled on it, all but the one at skip (the driver). cols select a row
// as scanRow reads it and tie orders rows that sort alike.
func (e Engine) table(b *builder, q *Query, skip int) (from, cols, tie, where string, err error) {
	if q.Type == AuditType {
		where, err = e.auditFilters(b, q)
		return "audit_event r", auditColumns("r"), "r.seq", where, err
	}
	where, err = e.filtersExcept(b, q, skip)
	return "resources r", "r.type, r.id, r.version, r.last_updated, r.data", "r.rid", where, err
}

// filtersExcept compiles all filters but the one at skip (the driver).
func (e Engine) filtersExcept(b *builder, q *Query, skip int) (string, error) {
	conds := []string{"r.deleted = " + b.d.False}
	if q.Type != "" {
		conds = append(conds, "r.type = "+b.arg(q.Type))
	}
	if c := q.Compartment; c != nil {
		conds = append(conds, compartment(b, c))
	}
	if c, err := b.confine("r", q.Type, false); err != nil {
		return "", err
	} else if c != "" {
		conds = append(conds, c)
	}
	if len(q.ExcludeLabels) > 0 {
		conds = append(conds, b.excludeLabels("r", q.ExcludeLabels))
	}
	for i, f := range q.Filters {
		if i == skip {
			continue
		}
		c, err := b.where("r", q.Type, f)
		if err != nil {
			return "", err
		}
		conds = append(conds, c)
	}
	return strings.Join(conds, "\n  AND "), nil
}

func (e Engine) builder() *builder { return &builder{d: e.Dialect, fold: e.Fold, conv: e.Convert} }

// scoped is a builder carrying the scope of ctx and the labels its search
// excludes.
func (e Engine) scoped(ctx context.Context) *builder {
	b := e.builder()
	b.scope = ScopeFrom(ctx)
	b.exclude, _ = ctx.Value(excludedKey{}).([]string)
	return b
}

// excludedKey carries Query.ExcludeLabels to the queries of a search
// (count, _include, _revinclude).
type excludedKey struct{}

// Search runs q: one page of matches, then the total when asked for, then
// the _include and _revinclude resources of the page.
func (e Engine) Search(ctx context.Context, ex Executor, q *Query) (Page, error) {
	page := Page{Total: -1}
	if len(q.ExcludeLabels) > 0 {
		ctx = context.WithValue(ctx, excludedKey{}, q.ExcludeLabels)
	} else if len(q.ExcludeReached) > 0 {
		ctx = context.WithValue(ctx, excludedKey{}, q.ExcludeReached)
	}
	b := e.scoped(ctx)
	drive := driver(q)
	b.correlated = drive >= 0
	from, cols, tie, where, err := e.table(b, q, drive)
	if err != nil {
		return Page{}, err
	}
	if drive >= 0 {
		f := q.Filters[drive]
		v := f.Values[0]
		from = "idx_token d JOIN resources r ON r.rid = d.rid"
		where += fmt.Sprintf("\n  AND d.res_type = %s AND d.param = %s AND d.code = %s AND d.system = %s",
			b.arg(q.Type), b.arg(f.Param.Code), b.arg(v.Code), b.arg(v.System))
	}
	if countFirst(q) {
		if page.Total, err = e.count(ctx, ex, q, q.Total == "estimate"); err != nil {
			return Page{}, err
		}
	}
	if q.Summary == "count" || q.Count == 0 {
		return page, nil
	}
	keys, err := e.sortKeys(b, q)
	if err != nil {
		return Page{}, err
	}
	keys = append(keys, sortKey{expr: tie, kind: 'i'})
	if q.Cursor != "" {
		vals, err := decodeSortCursor(q.Cursor, keys)
		if err != nil {
			return Page{}, err
		}
		where += "\n  AND " + keyset(b, keys, vals)
	}
	var sel, order []string
	for i, k := range keys {
		sel = append(sel, fmt.Sprintf("%s AS k%d", k.expr, i))
		dir := ""
		if k.desc {
			dir = " DESC"
		}
		order = append(order, fmt.Sprintf("k%d%s", i, dir))
	}
	sql := fmt.Sprintf("SELECT %s, %s\nFROM %s\nWHERE %s\nORDER BY %s\nLIMIT %d",
		cols, strings.Join(sel, ", "), from, where, strings.Join(order, ", "), q.Count+1)
	var last []any
	err = ex.Each(ctx, sql, b.args, func(scan func(...any) error) error {
		if len(page.Matches) == q.Count {
			page.Next = encodeSortCursor(keys, last)
			return nil
		}
		r, vals, err := scanRow(scan, keys)
		if err != nil {
			return err
		}
		last = vals
		page.Matches = append(page.Matches, r)
		return nil
	})
	if err != nil {
		return Page{}, err
	}
	switch {
	case page.Total >= 0 || q.Total == "none":
	case page.Next == "" && q.Cursor == "":
		page.Total = int64(len(page.Matches)) // the only page: exact for free
	case q.Total == "estimate":
		est, err := e.count(ctx, ex, q, true)
		if err != nil {
			return Page{}, err
		}
		seen := int64(len(page.Matches))
		if page.Next != "" {
			seen++
		}
		page.Total = max(est, seen) // never below what this page shows
	}
	page.Included, err = e.includes(ctx, ex, q, page.Matches)
	return page, err
}

// scanRow reads a result row: the resource, then its sort values.
func scanRow(scan func(...any) error, keys []sortKey) (resources.Resource, []any, error) {
	var r resources.Resource
	var micros int64
	dest := []any{&r.Type, &r.ID, &r.VersionID, &micros, &r.Data}
	vals := make([]any, len(keys))
	ptrs := make([]any, len(keys))
	for i, k := range keys {
		switch k.kind {
		case 's':
			ptrs[i] = new(string)
		case 'i':
			ptrs[i] = new(int64)
		default:
			ptrs[i] = new(float64)
		}
	}
	if err := scan(append(dest, ptrs...)...); err != nil {
		return r, nil, err
	}
	if r.Type == AuditType {
		r.Data = resources.UnpackAudit(r.Data, r.ID) // the audit log keeps events packed
	}
	for i, p := range ptrs {
		switch p := p.(type) {
		case *string:
			vals[i] = *p
		case *int64:
			vals[i] = *p
		case *float64:
			vals[i] = *p
		}
	}
	r.LastUpdated = time.UnixMicro(micros).UTC()
	return r, vals, nil
}

// keyset is the condition "after the cursor row" for the sort keys.
func keyset(b *builder, keys []sortKey, vals []any) string {
	var ors []string
	for i := range keys {
		var ands []string
		for j := 0; j < i; j++ {
			ands = append(ands, fmt.Sprintf("%s = %s", keys[j].expr, b.arg(vals[j])))
		}
		op := ">"
		if keys[i].desc {
			op = "<"
		}
		ands = append(ands, fmt.Sprintf("%s %s %s", keys[i].expr, op, b.arg(vals[i])))
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")"
}

func encodeSortCursor(keys []sortKey, vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		switch v := v.(type) {
		case string:
			parts[i] = "s" + v
		case int64:
			parts[i] = "i" + strconv.FormatInt(v, 10)
		case float64:
			parts[i] = "f" + strconv.FormatFloat(v, 'g', -1, 64)
		}
	}
	b, _ := json.Marshal(parts)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeSortCursor(s string, keys []sortKey) ([]any, error) {
	bad := resources.Invalid("invalid", "_cursor", "the paging cursor is malformed or belongs to another search; start again from the first page")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	var parts []string
	if json.Unmarshal(raw, &parts) != nil || len(parts) != len(keys) {
		return nil, bad
	}
	vals := make([]any, len(parts))
	for i, p := range parts {
		if p == "" || p[0] != keys[i].kind {
			return nil, bad
		}
		switch p[0] {
		case 's':
			vals[i] = p[1:]
		case 'i':
			v, err := strconv.ParseInt(p[1:], 10, 64)
			if err != nil {
				return nil, bad
			}
			vals[i] = v
		case 'f':
			v, err := strconv.ParseFloat(p[1:], 64)
			if err != nil {
				return nil, bad
			}
			vals[i] = v
		}
	}
	return vals, nil
}

// excludeLabels is the condition that resource alias r carries none of the
// labels (as resources.Label renders them): most rows have none, and the
// empty column settles them.
func (b *builder) excludeLabels(r string, labels []string) string {
	if b.d.LabelArrays {
		// One array parameter: five LIKE tests cost a sixth of a name
		// search, mostly in planning; the overlap costs nothing measurable.
		return fmt.Sprintf("(%s.labels = '' OR NOT (string_to_array(%s.labels, E'\\n') && %s::text[]))", r, r, b.arg(labels))
	}
	likes := make([]string, len(labels))
	for i, l := range labels {
		likes[i] = fmt.Sprintf(`%s.labels LIKE %s ESCAPE '\'`, r, b.arg("%\n"+likeEscape(l)+"\n%"))
	}
	return fmt.Sprintf("(%s.labels = '' OR NOT (%s))", r, strings.Join(likes, " OR "))
}

// compartment is the condition "in compartment c" on resources alias r.
func compartment(b *builder, c *Compartment) string {
	types := make([]string, 0, len(c.Params))
	for t := range c.Params {
		types = append(types, t)
	}
	sort.Strings(types)
	var ors []string
	for _, typ := range types {
		if typ == AuditType {
			continue // not in the resources table: search AuditEvents by type
		}
		if cond := compartmentOf(b, "r", c, typ); cond != "1 = 0" {
			ors = append(ors, fmt.Sprintf("(r.type = %s AND %s)", b.arg(typ), cond))
		}
	}
	if len(ors) == 0 {
		return "1 = 0"
	}
	return "(" + strings.Join(ors, "\n   OR ") + ")"
}
