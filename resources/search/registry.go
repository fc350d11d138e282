package search

import (
	"sync"

	"github.com/meizhou-yiyang/yiyang/conformance/r4"
)

// R4 is the Registry of the R4 core search parameters, from the tables
// generated out of the official package. A system-level search ("" type)
// sees the parameters every resource has (_id, _lastUpdated, ...).
var R4 Registry = r4Registry{}

type r4Registry struct{}

var urlIndex = sync.OnceValue(func() map[string]r4.SearchParam {
	m := map[string]r4.SearchParam{}
	for _, p := range r4.SearchParams() {
		m[p.URL] = p
	}
	return m
})

func (r4Registry) Lookup(resourceType, code string) (ParamDef, bool) {
	if resourceType == "" {
		resourceType = "Resource"
	}
	p, ok := r4.LookupSearchParam(resourceType, code)
	if !ok {
		return ParamDef{}, false
	}
	return toDef(p), true
}

func toDef(p r4.SearchParam) ParamDef {
	d := ParamDef{Code: p.Name, Type: p.Type, Targets: p.Targets}
	for _, c := range p.Components {
		cp, ok := urlIndex()[c.Definition]
		if !ok {
			// A component the package does not define cannot be parsed; make
			// the whole parameter unsearchable rather than half-understood.
			return ParamDef{Code: p.Name, Type: "special"}
		}
		d.Components = append(d.Components, ParamDef{Code: cp.Name, Type: cp.Type, Targets: cp.Targets})
	}
	return d
}

// WithCustom returns a registry that knows base's parameters plus custom
// ones, given per resource type. Custom parameters never shadow base ones.
func WithCustom(base Registry, custom map[string][]ParamDef) Registry {
	if len(custom) == 0 {
		return base
	}
	return customRegistry{base: base, custom: custom}
}

type customRegistry struct {
	base   Registry
	custom map[string][]ParamDef
}

func (r customRegistry) Lookup(resourceType, code string) (ParamDef, bool) {
	if d, ok := r.base.Lookup(resourceType, code); ok {
		return d, true
	}
	for _, d := range r.custom[resourceType] {
		if d.Code == code {
			return d, true
		}
	}
	return ParamDef{}, false
}

// CompartmentOf is the R4 compartment of owner (Patient, Encounter,
// Practitioner, RelatedPerson, Device) for resource id: every resource type
// in its definition with its linking parameters, and, with self, the owner
// itself ("{def}"). ok is false when owner has no compartment.
func CompartmentOf(owner, id string, self bool) (c *Compartment, ok bool) {
	def, ok := r4.CompartmentFor(owner)
	if !ok {
		return nil, false
	}
	c = &Compartment{Type: owner, ID: id, Params: make(map[string][]string, len(def.Resources)+1)}
	for typ, ps := range def.Resources {
		c.Params[typ] = ps
	}
	if self {
		c.Params[owner] = append([]string{"{def}"}, c.Params[owner]...)
	}
	return c, true
}
