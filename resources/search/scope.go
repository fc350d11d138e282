package search

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// Scope confines what one request may see and change. The server derives it
// from the caller's token (a patient launch context, SMART v2 granular
// scopes) and puts it in the request's context; every store query then
// carries it as a condition: reads, vreads, history, searches with their
// chains, _has, _include and _revinclude, and the checks of updates and
// deletes. Nothing is filtered after the fact.
type Scope struct {
	// Compartment, when set, limits the resource types it lists to the
	// resources in that compartment (Patient/123). Of the types outside
	// the compartment definition, the shared ones (SharedTypes) are read
	// freely; the others (Task, Device, Binary, Bundle, ...) may hold any
	// patient's data without a compartment to tell whose, so nothing of
	// them is in scope, and nothing outside the compartment is written,
	// unless ReadOpen or WriteOpen opens the type.
	Compartment *Compartment
	// ReadOpen and WriteOpen are the types the caller may read or write
	// beyond the compartment ("*": all), as user/ or system/ scopes grant.
	ReadOpen, WriteOpen map[string]bool
	// Restrict limits resource types (or "*", all types) to resources that
	// match all filters of at least one alternative (SMART v2 granular
	// scopes such as patient/Observation.rs?category=vital-signs). Only
	// token filters are allowed, so that writes can be checked too.
	// Restrict holds for reads, and for writes unless RestrictWrite is set.
	Restrict map[string][][]Filter
	// RestrictWrite, when not nil, limits writes instead of Restrict: the
	// token's write grants are restricted differently from its read ones
	// (user/Observation.rs user/Observation.cud?category=vital-signs).
	RestrictWrite map[string][][]Filter
}

type scopeKey struct{}

// WithScope returns ctx carrying s; a nil s removes any scope (the server's
// own writes, such as AuditEvents, run unconfined).
func WithScope(ctx context.Context, s *Scope) context.Context {
	return context.WithValue(ctx, scopeKey{}, s)
}

// ScopeFrom returns the scope of ctx, or nil.
func ScopeFrom(ctx context.Context) *Scope {
	s, _ := ctx.Value(scopeKey{}).(*Scope)
	return s
}

// confined reports whether the compartment limits typ: a type of the
// compartment to its resources there; any other type but a shared one
// read to nothing (compartmentOf is then "1 = 0").
func (s *Scope) confined(typ string, write bool) bool {
	if s == nil || s.Compartment == nil {
		return false
	}
	open := s.ReadOpen
	if write {
		open = s.WriteOpen
	}
	if open["*"] || open[typ] {
		return false
	}
	if _, in := s.Compartment.Params[typ]; in {
		return true
	}
	return write || !SharedTypes[typ]
}

// SharedTypes are the R4 types outside the Patient compartment that hold
// no patient's record: directory, catalogue, terminology, knowledge and
// conformance resources. A compartment-bound caller reads them freely.
var SharedTypes = func() map[string]bool {
	m := map[string]bool{}
	for _, t := range strings.Fields(`ActivityDefinition CapabilityStatement CatalogEntry ChargeItemDefinition
		CodeSystem CompartmentDefinition ConceptMap DeviceDefinition EffectEvidenceSynthesis Endpoint
		EventDefinition Evidence EvidenceVariable ExampleScenario GraphDefinition HealthcareService
		ImplementationGuide InsurancePlan Library Location Measure Medication MedicationKnowledge
		MedicinalProduct MedicinalProductAuthorization MedicinalProductContraindication
		MedicinalProductIndication MedicinalProductIngredient MedicinalProductInteraction
		MedicinalProductManufactured MedicinalProductPackaged MedicinalProductPharmaceutical
		MedicinalProductUndesirableEffect MessageDefinition NamingSystem ObservationDefinition
		OperationDefinition Organization OrganizationAffiliation PlanDefinition Practitioner
		PractitionerRole Questionnaire ResearchDefinition ResearchElementDefinition ResearchStudy
		RiskEvidenceSynthesis SearchParameter SpecimenDefinition StructureDefinition StructureMap
		Substance SubstanceNucleicAcid SubstancePolymer SubstanceProtein SubstanceReferenceInformation
		SubstanceSourceMaterial SubstanceSpecification TerminologyCapabilities TestScript ValueSet`) {
		m[t] = true
	}
	return m
}()

// restrictions are the granular alternatives that apply to typ.
func (s *Scope) restrictions(typ string, write bool) [][]Filter {
	if s == nil {
		return nil
	}
	r := s.Restrict
	if write && s.RestrictWrite != nil {
		r = s.RestrictWrite
	}
	return append(slices.Clip(r[typ]), r["*"]...)
}

// Limits reports whether the scope limits resources of typ in any way.
func (s *Scope) Limits(typ string, write bool) bool {
	return s.confined(typ, write) || len(s.restrictions(typ, write)) > 0
}

// limited lists the types whose resources the scope limits, sorted, and
// whether every type is limited (a "*" restriction).
func (s *Scope) limited(write bool) (types []string, all bool) {
	if s == nil {
		return nil, false
	}
	restrict := s.Restrict
	if write && s.RestrictWrite != nil {
		restrict = s.RestrictWrite
	}
	if len(restrict["*"]) > 0 {
		return nil, true
	}
	seen := map[string]bool{}
	if s.Compartment != nil {
		for t := range s.Compartment.Params {
			if s.confined(t, write) {
				seen[t] = true
			}
		}
		for _, t := range resources.ResourceTypes() {
			if s.confined(t, write) {
				seen[t] = true
			}
		}
	}
	for t := range restrict {
		seen[t] = true
	}
	for t := range seen {
		types = append(types, t)
	}
	sort.Strings(types)
	return types, false
}

// ErrOutOfScope is returned by writes of resources the caller's scope does
// not admit: they would not be in the patient's compartment, or not match
// the granular scope.
var ErrOutOfScope = errors.New("resource outside the caller's access scope")

// RefuseUpdate is the error of an update of typ/id that the scope of ctx
// does not permit: the current version is outside the scope, or there is
// none. Under a limiting scope an update cannot create (POST creates): were
// it allowed, a refused update of someone else's resource and a successful
// create would tell the caller which ids exist. Both cases give this same
// error.
func RefuseUpdate(typ, id string) error {
	return fmt.Errorf("%w: %s/%s cannot be updated under it (create resources with POST)", ErrOutOfScope, typ, id)
}

// confine is the condition that a resource row (alias a, of type typ, or
// of any type when typ is "") is within the scope; "" when nothing limits it.
func (b *builder) confine(a, typ string, write bool) (string, error) {
	s := b.scope
	if s == nil {
		return "", nil
	}
	if typ != "" {
		return b.confineType(a, typ, write)
	}
	types, all := s.limited(write)
	if all {
		// A "*" restriction needs the row's type to compile its filters:
		// every type of the registry would be too many alternatives.
		return "", resources.Invalid("forbidden", "", "a granular scope on all resource types cannot limit a search across types; search one type at a time")
	}
	if len(types) == 0 {
		return "", nil
	}
	ors := []string{fmt.Sprintf("%s.type NOT IN (%s)", a, b.list(types))}
	for _, t := range types {
		if t == AuditType {
			continue // a resources row is never an AuditEvent (see audit.go)
		}
		c, err := b.confineType(a, t, write)
		if err != nil {
			return "", err
		}
		if c != "" && !strings.HasPrefix(c, "1 = 0") {
			ors = append(ors, fmt.Sprintf("(%s.type = %s AND %s)", a, b.arg(t), c))
		}
	}
	return "(" + strings.Join(ors, "\n   OR ") + ")", nil
}

// confineType is confine for a known type.
func (b *builder) confineType(a, typ string, write bool) (string, error) {
	s := b.scope
	var ands []string
	if s.confined(typ, write) {
		if write {
			ands = append(ands, ownedBy(b, a, s.Compartment, typ))
		} else {
			ands = append(ands, compartmentOf(b, a, s.Compartment, typ))
		}
	}
	if alts := s.restrictions(typ, write); len(alts) > 0 {
		var ors []string
		for _, alt := range alts {
			var all []string
			for _, f := range alt {
				c, err := b.where(a, typ, f)
				if err != nil {
					return "", err
				}
				all = append(all, c)
			}
			ors = append(ors, "("+strings.Join(all, " AND ")+")")
		}
		ands = append(ands, "("+strings.Join(ors, " OR ")+")")
	}
	return strings.Join(ands, " AND "), nil
}

// compartmentOf is the condition that resource alias a of type typ is in
// compartment c; "1 = 0" when typ has no place in it.
func compartmentOf(b *builder, a string, c *Compartment, typ string) string {
	if typ == AuditType {
		return auditCompartment(b, a, c) // a is an audit_event row
	}
	var links, params []string
	for _, p := range c.Params[typ] {
		if p == "{def}" {
			if typ == c.Type {
				links = append(links, fmt.Sprintf("%s.id = %s", a, b.arg(c.ID)))
			}
		} else {
			params = append(params, p)
		}
	}
	if len(params) > 0 {
		x := b.alias("c")
		links = append(links, fmt.Sprintf(`%s.rid IN (SELECT %s.rid FROM idx_reference %s WHERE %s.res_type = %s AND %s.param IN (%s)
		AND %s.target_type = %s AND %s.target_id = %s)`, a, x, x, x, b.arg(typ), x, b.list(params), x, b.arg(c.Type), x, b.arg(c.ID)))
	}
	if len(links) == 0 {
		return "1 = 0"
	}
	return "(" + strings.Join(links, " OR ") + ")"
}

// ownedBy is the condition that resource alias a of type typ is the
// compartment owner's alone, as a write under the compartment needs: the
// owner itself (another Patient, even one linked to it, is someone else's
// record), or a resource in its compartment and in no other owner's of
// the same type (an Observation of B's with A as performer is B's too).
func ownedBy(b *builder, a string, c *Compartment, typ string) string {
	if typ == c.Type {
		return fmt.Sprintf("%s.id = %s", a, b.arg(c.ID))
	}
	in := compartmentOf(b, a, c, typ)
	if in == "1 = 0" {
		return in
	}
	var params []string
	for _, p := range c.Params[typ] {
		if p != "{def}" {
			params = append(params, p)
		}
	}
	if len(params) == 0 {
		return in
	}
	x := b.alias("o")
	return fmt.Sprintf(`(%s AND NOT EXISTS (SELECT 1 FROM idx_reference %s WHERE %s.rid = %s.rid AND %s.res_type = %s AND %s.param IN (%s)
		AND %s.target_type = %s AND %s.target_id <> %s))`, in, x, x, a, x, b.arg(typ), x, b.list(params), x, b.arg(c.Type), x, b.arg(c.ID))
}

// Condition returns the SQL condition that resource row alias a (a row of
// the resources table, of type typ or any type when typ is "") is within
// the scope of ctx, with its arguments appended to args; "" when the scope
// does not limit it. Stores use it for history and for the checks of
// updates and deletes.
func (e Engine) Condition(ctx context.Context, args []any, a, typ string, write bool) (string, []any, error) {
	b := e.builder()
	b.scope = ScopeFrom(ctx)
	b.args = args
	c, err := b.confine(a, typ, write)
	if err == nil && c != "" && !write {
		if gone := b.goneInScope(a, typ); gone != "" {
			c = "(" + c + "\n   OR " + gone + ")"
		}
	}
	return c, b.args, err
}

// goneInScope is the condition that resources row a (of type typ, or any
// type when typ is "") is a deletion a patient's scope reads: the deleted
// resource has no index entries to place it in the compartment, but its
// deletion is in the compartment of the version it removed (the stores
// record it so; VersionScope). Types a granular scope restricts are left
// out: the deleted resource has nothing to match the restriction with.
// "" when no type qualifies.
func (b *builder) goneInScope(a, typ string) string {
	s := b.scope
	if s == nil || s.Compartment == nil || s.Compartment.Type != "Patient" {
		return ""
	}
	qualifies := func(t string) bool { return s.confined(t, false) && len(s.restrictions(t, false)) == 0 }
	var which string
	if typ != "" {
		if !qualifies(typ) {
			return ""
		}
	} else {
		var types []string
		for _, t := range resources.ResourceTypes() {
			if t != AuditType && qualifies(t) {
				types = append(types, t)
			}
		}
		if len(types) == 0 {
			return ""
		}
		which = fmt.Sprintf("%s.type IN (%s) AND ", a, b.list(types))
	}
	g := b.alias("g")
	return fmt.Sprintf(`(%s.deleted <> %s AND %sEXISTS (SELECT 1 FROM resource_history %s
		WHERE %s.type = %s.type AND %s.id = %s.id AND %s.version = %s.version AND %s))`,
		a, b.d.False, which, g, g, a, g, a, g, a, b.inPatient(g, s.Compartment.ID))
}

// inPatient is the condition that resource_history row h was in patient
// id's compartment (its patients column, search.PatientsOf).
func (b *builder) inPatient(h, id string) string {
	return fmt.Sprintf(`%s.patients LIKE %s ESCAPE '\'`, h, b.arg("%\n"+likeEscape(id)+"\n%"))
}

// PatientsOf renders the patients in whose compartment a version is (its
// references to Patients through the type's Patient compartment
// parameters, and a Patient itself) as resource_history.patients keeps
// them: "\n" + one id per line, each followed by "\n", sorted; "" for
// none. History and vread judge each version by it (VersionScope).
func PatientsOf(typ, id string, x *resources.Index) string {
	var ids resources.Lines
	for _, p := range PatientIDs(typ, id, x) {
		ids.Add(p)
	}
	return ids.Packed()
}

// PatientIDs lists the ids of the patients in whose compartment a version
// is (see PatientsOf), possibly repeated.
func PatientIDs(typ, id string, x *resources.Index) []string {
	var ids []string
	for _, p := range PatientParams(typ) {
		if p == "{def}" {
			if typ == "Patient" && id != "" {
				ids = append(ids, id)
			}
			continue
		}
		if x == nil {
			continue
		}
		for _, ref := range x.References {
			if ref.Param == p && ref.TargetType == "Patient" && ref.TargetID != "" {
				ids = append(ids, ref.TargetID)
			}
		}
	}
	return ids
}

// PatientParams are the parameters by which a resource of typ is in a
// Patient compartment ("{def}" for the Patient itself); none for types
// outside it.
func PatientParams(typ string) []string {
	if def := patientCompartment(); def != nil {
		return def.Params[typ]
	}
	return nil
}

// patientCompartment is the R4 Patient compartment definition, built once.
var patientCompartment = sync.OnceValue(func() *Compartment {
	c, _ := CompartmentOf("Patient", "", true)
	return c
})

// VersionScope is the condition that a resource_history row (alias a, of
// type typ, or of any type when typ is "") is a version ctx's scope may
// see, with its arguments appended to args; "" when nothing limits it.
// Condition judges the resource as it is now; each version is judged too:
//   - where a patient compartment limits its type, the version must itself
//     have been in the compartment (a version from before the resource
//     moved into the patient's record is not the caller's to see);
//   - where a granular scope restricts its type (?category=vital-signs), or
//     another compartment limits it (a device bridge's Device compartment),
//     only the current version is seen: older ones may not have matched,
//     and the stores keep no index entries of past versions to tell.
func (e Engine) VersionScope(ctx context.Context, args []any, a, typ string) (string, []any) {
	s := ScopeFrom(ctx)
	if s == nil {
		return "", args
	}
	b := e.builder()
	b.args = args
	inPatient := func(t string) bool {
		return s.Compartment != nil && s.Compartment.Type == "Patient" && s.confined(t, false)
	}
	// Where another compartment (a device's) or a granular scope limits a
	// type, the stores keep nothing of past versions to judge them by.
	currentOnly := func(t string) bool {
		return len(s.restrictions(t, false)) > 0 || s.Compartment != nil && s.Compartment.Type != "Patient" && s.confined(t, false)
	}
	var in, current string
	conds := func(t string) []string {
		var out []string
		if inPatient(t) {
			if in == "" {
				in = b.inPatient(a, s.Compartment.ID)
			}
			out = append(out, in)
		}
		if currentOnly(t) {
			if current == "" {
				r := b.alias("v")
				current = fmt.Sprintf("%s.version = (SELECT %s.version FROM resources %s WHERE %s.type = %s.type AND %s.id = %s.id)", a, r, r, r, a, r, a)
			}
			out = append(out, current)
		}
		return out
	}
	if typ != "" {
		c := conds(typ)
		if len(c) == 0 {
			return "", args
		}
		return strings.Join(c, " AND "), b.args
	}
	// Across types: the types limited alike in one group each.
	groups := map[string][]string{}
	var keys, limited []string
	for _, t := range resources.ResourceTypes() {
		c := conds(t)
		if len(c) == 0 {
			continue
		}
		k := strings.Join(c, " AND ")
		if groups[k] == nil {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], t)
		limited = append(limited, t)
	}
	if len(limited) == 0 {
		return "", args
	}
	ors := []string{fmt.Sprintf("%s.type NOT IN (%s)", a, b.list(limited))}
	for _, k := range keys {
		ors = append(ors, fmt.Sprintf("(%s.type IN (%s) AND %s)", a, b.list(groups[k]), k))
	}
	return "(" + strings.Join(ors, "\n   OR ") + ")", b.args
}

// Unlabelled is the condition that the row of alias a (of resources or
// resource_history, whose labels column keeps Index.SecurityLabels)
// carries none of labels (system|code), as Query.ExcludeLabels asks of a
// search, with its arguments appended to args; "" when labels is empty.
func (e Engine) Unlabelled(args []any, a string, labels []string) (string, []any) {
	if len(labels) == 0 {
		return "", args
	}
	b := e.builder()
	b.args = args
	return b.excludeLabels(a, labels), b.args
}

// Read is a store's read by id under the scope of ctx: the condition is part
// of the one query, so a resource outside the scope is simply not found.
func (e Engine) Read(ctx context.Context, ex Executor, typ, id string) (resources.Resource, error) {
	if typ == AuditType {
		return e.auditRead(ctx, ex, id, 0)
	}
	cond, args, err := e.Condition(ctx, []any{typ, id}, "r", typ, false)
	if err != nil {
		return resources.Resource{}, err
	}
	d := e.Dialect
	sql := fmt.Sprintf("SELECT r.version, r.last_updated, r.deleted, r.data, r.patients FROM resources r WHERE r.type = %s AND r.id = %s",
		d.Placeholder(1), d.Placeholder(2))
	if cond != "" {
		sql += " AND " + cond
	}
	r := resources.Resource{Type: typ, ID: id}
	var micros int64
	found := false
	err = ex.Each(ctx, sql, args, func(scan func(...any) error) error {
		found = true
		return scan(&r.VersionID, &micros, &r.Deleted, &r.Data, &r.Patients)
	})
	return finishRead(r, micros, found, err)
}

// VRead is a store's version read under the scope of ctx: the resource, as
// it is now, must be within the scope, and the version must have been in
// the caller's compartment (VersionScope).
func (e Engine) VRead(ctx context.Context, ex Executor, typ, id string, version int64) (resources.Resource, error) {
	if typ == AuditType {
		return e.auditRead(ctx, ex, id, version)
	}
	cond, args, err := e.Condition(ctx, []any{typ, id, version}, "r", typ, false)
	if err != nil {
		return resources.Resource{}, err
	}
	d := e.Dialect
	sql := fmt.Sprintf("SELECT h.last_updated, h.deleted, h.method, h.data FROM resource_history h WHERE h.type = %s AND h.id = %s AND h.version = %s",
		d.Placeholder(1), d.Placeholder(2), d.Placeholder(3))
	if cond != "" {
		sql += " AND EXISTS (SELECT 1 FROM resources r WHERE r.type = h.type AND r.id = h.id AND " + cond + ")"
	}
	if vc, all := e.VersionScope(ctx, args, "h", typ); vc != "" {
		args = all
		sql += " AND " + vc
	}
	r := resources.Resource{Type: typ, ID: id, VersionID: version}
	var micros int64
	found := false
	err = ex.Each(ctx, sql, args, func(scan func(...any) error) error {
		found = true
		return scan(&micros, &r.Deleted, &r.Method, &r.Data)
	})
	return finishRead(r, micros, found, err)
}

func finishRead(r resources.Resource, micros int64, found bool, err error) (resources.Resource, error) {
	switch {
	case err != nil:
		return resources.Resource{}, err
	case !found:
		return resources.Resource{}, resources.ErrNotFound
	}
	r.LastUpdated = time.UnixMicro(micros).UTC()
	if r.Deleted {
		r.Method, r.Data = "DELETE", nil
		return r, resources.ErrGone
	}
	return r, nil
}

// Permits reports whether the current row of typ/id is within the scope of
// ctx for writing; stores ask it, inside the write's transaction after
// locking the row, before they update or delete it. A delete that repeats
// one (repeat: the current row is a deletion) changes nothing and is
// judged as a read is: where the scope reads the resource as gone, the
// delete answers with the deletion as it would without a scope.
func (e Engine) Permits(ctx context.Context, ex Executor, typ, id string, repeat bool) (bool, error) {
	if !ScopeFrom(ctx).Limits(typ, !repeat) {
		return true, nil // every update and delete asks: no work without a scope
	}
	cond, args, err := e.Condition(ctx, []any{typ, id}, "r", typ, !repeat)
	if err != nil || cond == "" {
		return err == nil, err
	}
	d := e.Dialect
	sql := fmt.Sprintf("SELECT 1 FROM resources r WHERE r.type = %s AND r.id = %s AND %s", d.Placeholder(1), d.Placeholder(2), cond)
	found := false
	err = ex.Each(ctx, sql, args, func(scan func(...any) error) error {
		found = true
		var one int
		return scan(&one)
	})
	return found, err
}

// Admits checks a version about to be written (its type, id and index
// entries) against the scope of ctx: in the patient's compartment, and in
// no other patient's, when the compartment limits its type, and matching a
// granular alternative. It returns ErrOutOfScope, wrapped with the reason,
// when it does not.
func Admits(ctx context.Context, typ, id string, x *resources.Index) error {
	s := ScopeFrom(ctx)
	if s == nil {
		return nil
	}
	if s.confined(typ, true) {
		if !inCompartment(s.Compartment, typ, id, x) {
			return fmt.Errorf("%w: %s/%s would not be in the compartment of %s/%s", ErrOutOfScope, typ, id, s.Compartment.Type, s.Compartment.ID)
		}
		// Being in the caller's compartment through one reference (say
		// performer) does not license putting the resource in another's
		// through another (subject); and the only record of the owner's
		// type the caller writes is the owner's own (not a new Patient).
		if typ == s.Compartment.Type && id != s.Compartment.ID {
			return fmt.Errorf("%w: %s/%s is not %s/%s", ErrOutOfScope, typ, id, s.Compartment.Type, s.Compartment.ID)
		}
		if other, ok := otherCompartment(s.Compartment, typ, x); ok && typ != s.Compartment.Type {
			return fmt.Errorf("%w: %s/%s would also be in the compartment of %s", ErrOutOfScope, typ, id, other)
		}
	}
	alts := s.restrictions(typ, true)
	if len(alts) == 0 {
		return nil
	}
	for _, alt := range alts {
		if matchesAll(alt, x) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s/%s does not match the granular scope", ErrOutOfScope, typ, id)
}

func inCompartment(c *Compartment, typ, id string, x *resources.Index) bool {
	for _, p := range c.Params[typ] {
		if p == "{def}" {
			if typ == c.Type && id == c.ID {
				return true
			}
			continue
		}
		if x == nil {
			continue
		}
		for _, ref := range x.References {
			if ref.Param == p && ref.TargetType == c.Type && ref.TargetID == c.ID {
				return true
			}
		}
	}
	return false
}

// otherCompartment names another owner of c's type whose compartment the
// version would be in (Type/id), if any.
func otherCompartment(c *Compartment, typ string, x *resources.Index) (string, bool) {
	if x == nil {
		return "", false
	}
	for _, p := range c.Params[typ] {
		for _, ref := range x.References {
			if ref.Param == p && ref.TargetType == c.Type && ref.TargetID != c.ID {
				return ref.TargetType + "/" + ref.TargetID, true
			}
		}
	}
	return "", false
}

// matchesAll evaluates token filters (the only kind a Restrict holds)
// against index entries.
func matchesAll(alt []Filter, x *resources.Index) bool {
	for _, f := range alt {
		if !matchesToken(f, x) {
			return false
		}
	}
	return true
}

func matchesToken(f Filter, x *resources.Index) bool {
	if x == nil || f.Param.Type != "token" || f.Modifier != "" {
		return false
	}
	for _, v := range f.Values {
		for _, t := range x.Tokens {
			if t.Param == f.Param.Code && (v.Code == "" || t.Code == v.Code) && (!v.HasSystem || t.System == v.System) {
				return true
			}
		}
	}
	return false
}

// andConfined appends to cond the scope's condition on alias a of type typ
// and the exclusion of the search's excluded labels (which AuditEvents,
// not in the resources table, do not carry).
func (b *builder) andConfined(cond, a, typ string) (string, error) {
	c, err := b.confine(a, typ, false)
	if err != nil {
		return cond, err
	}
	if c != "" {
		cond += " AND " + c
	}
	if len(b.exclude) > 0 && typ != AuditType {
		cond += " AND " + b.excludeLabels(a, b.exclude)
	}
	return cond, nil
}
