package resources

import (
	"fmt"
	"strings"

	"github.com/meizhou-yiyang/yiyang/conformance/r4"
	"github.com/meizhou-yiyang/yiyang/resources/jsontree"
)

// Summarize returns the summary view of a resource (_summary=true): at every
// level, only the elements its base definition marks isSummary, plus the
// mandatory ones (minimum cardinality 1 or more) of every element kept, so
// that the result stays valid. Also:
//   - resourceType, id and meta of the resource are always kept, meta whole;
//   - an element of type Extension that is kept (a backbone element's
//     modifierExtension) is kept whole: a modifier without its value would
//     mislead;
//   - a kept element of type Resource (Bundle.entry.resource) is summarised
//     as a resource of its own resourceType;
//   - the extensions of primitive values ("_birthDate") are left out: their
//     elements (id, extension) are not in the summary.
//
// The result carries the SUBSETTED tag. data must be a resource's JSON.
func Summarize(data []byte) ([]byte, error) {
	v, err := jsontree.Parse(data, MaxDepth)
	if err != nil {
		return nil, err
	}
	obj, ok := v.(*jsontree.Object)
	if !ok {
		return nil, fmt.Errorf("resources: summary: not a JSON object")
	}
	if err := summarizeResource(obj); err != nil {
		return nil, err
	}
	return WithSubsettedTag(jsontree.Encode(make([]byte, 0, len(data)), obj))
}

// summarizeResource keeps the summary elements of a resource object.
func summarizeResource(o *jsontree.Object) error {
	rt, _ := o.Get("resourceType")
	typ, _ := rt.(string)
	if !r4.IsResourceType(typ) {
		return fmt.Errorf("resources: summary: %q is not a resource type", typ)
	}
	summarizeObject(o, typ, true)
	return nil
}

// summarizeObject filters the members of o, an instance of the type or
// backbone element ctx ("HumanName", "Patient.contact").
func summarizeObject(o *jsontree.Object, ctx string, root bool) {
	kept := o.Members[:0]
	for _, m := range o.Members {
		if root && (m.Key == "resourceType" || m.Key == "id" || m.Key == "meta") {
			kept = append(kept, m)
			continue
		}
		if strings.HasPrefix(m.Key, "_") {
			continue // a primitive's id and extensions
		}
		e, ok := r4.LookupElement(ctx + "." + m.Key)
		if !ok || (!e.Summary && e.Min == 0) {
			continue
		}
		summarizeValue(m.Val, ctx+"."+m.Key, e)
		kept = append(kept, m)
	}
	o.Members = kept
}

// summarizeValue filters the children of the value (or the items of the
// array) of element e at path.
func summarizeValue(v any, path string, e r4.Element) {
	if a, ok := v.(*jsontree.Array); ok {
		for _, item := range a.Elems {
			summarizeValue(item, path, e)
		}
		return
	}
	o, ok := v.(*jsontree.Object)
	if !ok {
		return // a primitive value
	}
	switch {
	case e.ContentRef != "":
		summarizeObject(o, strings.TrimPrefix(e.ContentRef, "#"), false)
	case len(e.Types) != 1:
		// A choice element named without its type suffix cannot appear in
		// JSON; keep what is there.
	case e.Types[0] == "Extension":
	case e.Types[0] == "Resource":
		if summarizeResource(o) != nil {
			o.Members = nil
		}
	case e.Types[0] == "BackboneElement" || e.Types[0] == "Element":
		summarizeObject(o, path, false)
	default:
		summarizeObject(o, e.Types[0], false)
	}
}
