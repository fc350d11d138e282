// Package index extracts the search index entries of a resource: it
// evaluates the FHIRPath expression of every search parameter of the
// resource's type (from the generated R4 tables) and turns each value into
// normalised entries per parameter type. The server extracts before a write;
// the store writes the entries in the same transaction as the resource.
package index

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/meizhou-yiyang/yiyang/conformance/r4"
	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/fhirpath"
)

// param is a compiled search parameter of one resource type.
type param struct {
	code, typ string
	expr      *fhirpath.Expression
	// parts are the components of a composite parameter.
	parts []part
}

// Extractor holds the compiled parameters of each resource type, compiled
// on first use. It is safe for concurrent use.
type Extractor struct {
	mu     sync.RWMutex
	custom []Custom
	types  map[string][]param
	// Skipped lists, per type, parameters that cannot be indexed (no
	// expression, special type, or an expression that does not compile),
	// with the reason.
	skipped map[string]map[string]string
	// base is the server's own base URL ("" when unknown): an absolute
	// reference under it is also indexed as the local Type/id it names.
	base string
}

// New returns an Extractor over the R4 core search parameters.
func New() *Extractor {
	return &Extractor{types: map[string][]param{}, skipped: map[string]map[string]string{}}
}

var model = r4.FHIRPathModel{}

// compiled returns the parameters of typ, compiling them the first time.
func (x *Extractor) compiled(typ string) []param {
	x.mu.RLock()
	ps, ok := x.types[typ]
	x.mu.RUnlock()
	if ok {
		return ps
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if ps, ok := x.types[typ]; ok {
		return ps
	}
	skipped := map[string]string{}
	for _, sp := range r4.SearchParamsFor(typ) {
		expr := sp.ExpressionFor(typ)
		switch {
		case expr == "":
			skipped[sp.Name] = "no FHIRPath expression in the definition"
			continue
		case sp.Name == "_id" || sp.Name == "_lastUpdated":
			skipped[sp.Name] = "searched on the stored resource row (the server sets id and meta.lastUpdated)"
			continue
		case sp.Type == "special":
			skipped[sp.Name] = sp.Type + " parameters are not indexed yet"
			continue
		}
		e, err := fhirpath.Compile(expr)
		if err != nil {
			skipped[sp.Name] = "expression does not compile: " + err.Error()
			continue
		}
		p := param{code: sp.Name, typ: sp.Type, expr: e}
		if sp.Type == "composite" {
			if p.parts, err = compileParts(sp, typ); err != nil {
				skipped[sp.Name] = err.Error()
				continue
			}
		}
		ps = append(ps, p)
	}
	for _, c := range x.custom {
		if !AppliesTo(c.Base, typ) {
			continue
		}
		e, err := fhirpath.Compile(c.Expression)
		if err != nil {
			skipped[c.Code] = "expression does not compile: " + err.Error()
			continue
		}
		ps = append(ps, param{code: c.Code, typ: c.Type, expr: e})
	}
	x.types[typ] = ps
	x.skipped[typ] = skipped
	return ps
}

// Custom is a search parameter defined by a SearchParameter resource.
type Custom struct {
	Code, Type string
	Base       []string
	Expression string
	Targets    []string
}

// CheckCustom reports why c cannot be indexed, or nil.
func CheckCustom(c Custom) error {
	switch c.Type {
	case "string", "token", "reference", "date", "number", "quantity", "uri":
	default:
		return fmt.Errorf("type %q cannot be indexed (string, token, reference, date, number, quantity or uri)", c.Type)
	}
	if c.Code == "" || len(c.Base) == 0 || c.Expression == "" {
		return fmt.Errorf("code, base and expression are required")
	}
	for _, b := range c.Base {
		if !r4.IsType(b) {
			return fmt.Errorf("base %q is not a resource type", b)
		}
		if _, taken := r4.LookupSearchParam(b, c.Code); taken {
			return fmt.Errorf("%s already has a search parameter %q", b, c.Code)
		}
	}
	if _, err := fhirpath.Compile(c.Expression); err != nil {
		return fmt.Errorf("expression: %w", err)
	}
	return nil
}

// SetCustom replaces the custom parameters extracted on every write; they
// must have passed CheckCustom.
func (x *Extractor) SetCustom(cs []Custom) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.custom = append([]Custom(nil), cs...)
	x.types = map[string][]param{}
	x.skipped = map[string]map[string]string{}
}

// AppliesTo reports whether a parameter with these bases applies to typ
// (a base may be Resource or DomainResource).
func AppliesTo(base []string, typ string) bool {
	for _, b := range base {
		if b == typ || r4.IsA(typ, b) {
			return true
		}
	}
	return false
}

// SetBase makes absolute references under base (this server's base URL,
// e.g. https://fhir.example.cn/fhir) count as local references too: they are
// indexed with their Type/id as well as their URL, so that searches, chains,
// includes and compartments follow them. Call it before the first Extract.
func (x *Extractor) SetBase(base string) {
	x.mu.Lock()
	x.base = strings.TrimRight(base, "/")
	x.mu.Unlock()
}

// Base returns the base set by SetBase.
func (x *Extractor) Base() string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.base
}

// HasCustom reports whether custom parameters apply to typ: then only
// Extract knows all of its entries.
func (x *Extractor) HasCustom(typ string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for _, c := range x.custom {
		if AppliesTo(c.Base, typ) {
			return true
		}
	}
	return false
}

// Skipped returns the parameters of typ that are not indexed, with reasons.
func (x *Extractor) Skipped(typ string) map[string]string {
	x.compiled(typ)
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := map[string]string{}
	for k, v := range x.skipped[typ] {
		out[k] = v
	}
	return out
}

// Extract returns the index entries of a resource of type typ given as
// validated JSON. A parameter whose expression fails on this resource is
// reported in the error together with the entries of all the others, so a
// caller may decide to store the resource anyway.
func (x *Extractor) Extract(typ string, data []byte) (*resources.Index, error) {
	out, root, failed := x.extract(typ, data, nil)
	if root == nil {
		return nil, failed
	}
	Dedupe(out)
	out.Text = textOf(root)
	return out, failed
}

// ExtractParams is Extract for the parameters named codes only (and no
// text): what a caller needs of a resource without indexing it whole.
func (x *Extractor) ExtractParams(typ string, data []byte, codes []string) (*resources.Index, error) {
	out, _, failed := x.extract(typ, data, codes)
	return out, failed
}

// extract evaluates typ's parameters (those named in only, when it is not
// nil) over data, with references under the base localized; root is nil
// when data does not decode.
func (x *Extractor) extract(typ string, data []byte, only []string) (out *resources.Index, root *fhirpath.Node, failed error) {
	root, err := fhirpath.DecodeJSON(data)
	if err != nil {
		return nil, nil, fmt.Errorf("index: %w", err)
	}
	out = &resources.Index{}
	ctx := fhirpath.Context{Resource: root, Model: model}
	var parts partMemo
	for _, p := range x.compiled(typ) {
		if only != nil && !slices.Contains(only, p.code) {
			continue
		}
		vals, err := p.expr.EvaluateNode(ctx, root)
		if err != nil {
			if failed == nil {
				failed = fmt.Errorf("index: %s.%s: %w", typ, p.code, err)
			}
			continue
		}
		if p.typ == "composite" {
			if err := addComposite(out, ctx, p, vals, &parts); err != nil && failed == nil {
				failed = fmt.Errorf("index: %s.%s: %w", typ, p.code, err)
			}
			continue
		}
		for _, v := range vals {
			add(out, p, v)
		}
	}
	x.mu.RLock()
	base := x.base
	x.mu.RUnlock()
	if base != "" {
		Localize(out, base)
	}
	return out, root, failed
}

// Localize gives absolute references under base their local Type/id
// (Type/id/_history/v names the resource too), as Extract does when the
// Extractor has a base.
func Localize(out *resources.Index, base string) {
	for i := range out.References {
		LocalizeEntry(&out.References[i], base)
	}
}

// LocalizeEntry is Localize for one reference entry.
func LocalizeEntry(e *resources.ReferenceEntry, base string) {
	if e.TargetID != "" || len(e.URL) <= len(base) || e.URL[len(base)] != '/' || !strings.HasPrefix(e.URL, base) {
		return
	}
	segs := strings.Split(e.URL[len(base)+1:], "/")
	if len(segs) == 4 && segs[2] == "_history" {
		segs = segs[:2]
	}
	if len(segs) == 2 && resources.IsResourceType(segs[0]) && resources.ValidID(segs[1]) {
		e.TargetType, e.TargetID = segs[0], segs[1]
	}
}
