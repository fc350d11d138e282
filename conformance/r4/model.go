package r4

import (
	"strings"
	"sync"
)

// FHIRPathModel types FHIRPath evaluation with these tables. It satisfies
// resources/fhirpath's Model: backbone elements are typed by their path
// ("Patient.contact"), elements defined by a content reference by the path
// they reuse, and choice elements list all their types.
type FHIRPathModel struct{}

// elementTypes caches ElementType answers: evaluation asks the same few
// questions for every resource it indexes.
var elementTypes sync.Map // parent + "." + name → elementType

type elementType struct {
	types      []string
	choice, ok bool
}

// ElementType returns the types of element name on parent, a type name or a
// backbone element's path. The returned slice must not be modified.
func (FHIRPathModel) ElementType(parent, name string) (types []string, choice bool, ok bool) {
	key := parent + "." + name
	if v, hit := elementTypes.Load(key); hit {
		et := v.(elementType)
		return et.types, et.choice, et.ok
	}
	types, choice, ok = lookupElementType(parent, name)
	elementTypes.Store(key, elementType{types, choice, ok})
	return types, choice, ok
}

func lookupElementType(parent, name string) (types []string, choice bool, ok bool) {
	e, ok := LookupElement(parent + "." + name)
	if !ok || !declared(parent, name) {
		// FHIRPath names a choice element without its type suffix:
		// Observation.valueQuantity is not an element, Observation.value is.
		return nil, false, false
	}
	if e.ContentRef != "" {
		return []string{strings.TrimPrefix(e.ContentRef, "#")}, false, true
	}
	if name == "id" && IsA(parent, "Resource") {
		return []string{"id"}, false, true // the snapshots say string; the specification says id
	}
	if len(e.Types) == 1 && (e.Types[0] == "BackboneElement" || e.Types[0] == "Element") && ownChildren(e.Path) {
		return []string{e.Path}, false, true
	}
	out := make([]string, len(e.Types))
	for i, t := range e.Types {
		if s, ok := strings.CutPrefix(t, "System."); ok {
			t = strings.ToLower(s)
		}
		out[i] = t
	}
	return out, e.Choice, true
}

// declared reports whether parent declares an element called name (a choice
// element by its name without [x]).
func declared(parent, name string) bool {
	for _, c := range Children(parent) {
		last := c.Path[strings.LastIndexByte(c.Path, '.')+1:]
		if last == name || last == name+"[x]" {
			return true
		}
	}
	return false
}

// ownChildren reports whether the element at path defines children of its
// own beyond id and extensions.
func ownChildren(path string) bool {
	for _, c := range Children(path) {
		switch c.Path[strings.LastIndexByte(c.Path, '.')+1:] {
		case "id", "extension", "modifierExtension":
		default:
			return true
		}
	}
	return false
}

// BaseType returns the type t derives from; a backbone element's path
// derives from the type its element declares.
func (FHIRPathModel) BaseType(t string) string {
	if strings.Contains(t, ".") {
		if e, ok := LookupElement(t); ok && len(e.Types) == 1 {
			return e.Types[0]
		}
		return ""
	}
	return BaseType(t)
}

// IsResource reports whether t is a resource type, abstract ones included.
func (FHIRPathModel) IsResource(t string) bool { return IsType(t) && IsA(t, "Resource") }

// IsType reports whether t is a core type or a backbone element's path.
func (FHIRPathModel) IsType(t string) bool {
	if IsType(t) {
		return true
	}
	if !strings.Contains(t, ".") {
		return false
	}
	_, ok := LookupElement(t)
	return ok
}
