package fhirpath

import "strings"

// Value is one item of a FHIRPath collection. It is one of Boolean, String,
// Integer, Decimal, Date, DateTime, Time, Quantity (System types), *Element
// (a node of the resource tree with its FHIR type), or TypeInfo.
type Value interface {
	isValue()
}

// Boolean is System.Boolean.
type Boolean bool

// String is System.String.
type String string

// Integer is System.Integer.
type Integer int64

func (Boolean) isValue()  {}
func (String) isValue()   {}
func (Integer) isValue()  {}
func (Decimal) isValue()  {}
func (Date) isValue()     {}
func (DateTime) isValue() {}
func (Time) isValue()     {}
func (Quantity) isValue() {}
func (*Element) isValue() {}
func (TypeInfo) isValue() {}

// TypeInfo is the result of type(): a namespace and a name.
type TypeInfo struct {
	Namespace, Name string
}

// Element is a node of the resource tree: a JSON value with its FHIR type
// and, for primitives, the sibling "_name" object holding id and extensions.
type Element struct {
	node *Node  // the JSON value; nil for a primitive with only extensions
	ext  *Node  // "_name" object of a primitive, or nil
	typ  string // FHIR type name (for backbone elements the element path), "" when unknown
}

// Node returns the JSON value of the element (nil for a primitive that has
// only extensions).
func (e *Element) Node() *Node { return e.node }

// Type returns the FHIR type name of the element ("" when unknown).
func (e *Element) Type() string { return e.typ }

// String returns the primitive value as text ("" for objects).
func (e *Element) String() string {
	if e.node == nil {
		return ""
	}
	switch e.node.kind {
	case kindString, kindNumber:
		return e.node.str
	case kindBool:
		if e.node.b {
			return "true"
		}
		return "false"
	}
	return ""
}

// primitiveKinds maps FHIR primitive type names to the System type they
// convert to.
var primitiveKinds = map[string]string{
	"boolean": "Boolean", "integer": "Integer", "positiveInt": "Integer", "unsignedInt": "Integer",
	"integer64": "Integer", "decimal": "Decimal",
	"string": "String", "code": "String", "id": "String", "uri": "String", "url": "String",
	"canonical": "String", "oid": "String", "uuid": "String", "markdown": "String",
	"base64Binary": "String", "xhtml": "String",
	"date": "Date", "dateTime": "DateTime", "instant": "DateTime", "time": "Time",
}

// primitiveBase gives the base type of FHIR primitive types when no model is
// present.
var primitiveBase = map[string]string{
	"code": "string", "id": "string", "markdown": "string", "url": "uri", "canonical": "uri",
	"oid": "uri", "uuid": "uri", "positiveInt": "integer", "unsignedInt": "integer",
}

var quantityTypes = map[string]bool{
	"Quantity": true, "Age": true, "Duration": true, "Distance": true, "Count": true,
	"SimpleQuantity": true, "MoneyQuantity": true,
}

var systemTypes = map[string]bool{
	"Boolean": true, "String": true, "Integer": true, "Decimal": true, "Date": true,
	"DateTime": true, "Time": true, "Quantity": true,
}

// IsPrimitiveType reports whether t is a FHIR primitive type name.
func isPrimitiveType(t string) bool { _, ok := primitiveKinds[t]; return ok }

// system converts v to a System value when it is a FHIR primitive or a
// Quantity element; other values are returned unchanged. ok is false when an
// element has no usable primitive value.
func system(v Value) (Value, bool) {
	e, ok := v.(*Element)
	if !ok {
		return v, true
	}
	if e.node == nil {
		return nil, false
	}
	n := e.node
	kind := primitiveKinds[e.typ]
	if kind == "" {
		switch {
		case quantityTypes[e.typ]:
			q, ok := elementQuantity(e)
			if !ok {
				return v, true
			}
			return q, true
		case n.kind == kindString:
			kind = "String"
		case n.kind == kindBool:
			kind = "Boolean"
		case n.kind == kindNumber:
			if strings.ContainsAny(n.str, ".eE") {
				kind = "Decimal"
			} else {
				kind = "Integer"
			}
		default:
			return v, true
		}
	}
	switch kind {
	case "Boolean":
		if n.kind == kindBool {
			return Boolean(n.b), true
		}
	case "Integer":
		if n.kind == kindNumber {
			if i, ok := parseInt(n.str); ok {
				return Integer(i), true
			}
			if d, ok := ParseDecimal(n.str); ok {
				return d, true
			}
		}
	case "Decimal":
		if n.kind == kindNumber {
			if d, ok := ParseDecimal(n.str); ok {
				return d, true
			}
		}
	case "String":
		if n.kind == kindString {
			return String(n.str), true
		}
	case "Date":
		if d, ok := ParseDate(n.str); ok {
			return d, true
		}
		return String(n.str), true
	case "DateTime":
		if d, ok := ParseDateTime(n.str); ok {
			return d, true
		}
		return String(n.str), true
	case "Time":
		if t, ok := ParseTime(n.str); ok {
			return t, true
		}
		return String(n.str), true
	}
	if n.kind == kindString || n.kind == kindNumber {
		return String(n.str), true
	}
	if n.kind == kindBool {
		return Boolean(n.b), true
	}
	return v, true
}

func parseInt(s string) (int64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	neg := false
	i := 0
	if s[0] == '-' || s[0] == '+' {
		neg, i = s[0] == '-', 1
		if len(s) == 1 {
			return 0, false
		}
	}
	var v int64
	for ; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

// elementQuantity converts a FHIR Quantity-like element to a System.Quantity.
func elementQuantity(e *Element) (Quantity, bool) {
	vn := e.node.get("value")
	if vn == nil || vn.kind != kindNumber {
		return Quantity{}, false
	}
	d, ok := ParseDecimal(vn.str)
	if !ok {
		return Quantity{}, false
	}
	unit := e.node.getString("code")
	if unit == "" {
		unit = e.node.getString("unit")
	}
	if unit == "" {
		unit = "1"
	}
	return Quantity{Value: d, Unit: unit}, true
}

// typeOf returns the type of a value for type() and is/as.
func typeOf(v Value) TypeInfo {
	switch x := v.(type) {
	case Boolean:
		return TypeInfo{"System", "Boolean"}
	case String:
		return TypeInfo{"System", "String"}
	case Integer:
		return TypeInfo{"System", "Integer"}
	case Decimal:
		return TypeInfo{"System", "Decimal"}
	case Date:
		return TypeInfo{"System", "Date"}
	case DateTime:
		return TypeInfo{"System", "DateTime"}
	case Time:
		return TypeInfo{"System", "Time"}
	case Quantity:
		return TypeInfo{"System", "Quantity"}
	case *Element:
		return TypeInfo{"FHIR", x.typ}
	}
	return TypeInfo{"System", "Any"}
}

// typeName is the name used for a type in error messages.
func typeName(v Value) string {
	t := typeOf(v)
	if t.Name == "" {
		return "element"
	}
	return t.Namespace + "." + t.Name
}

// ToSystem converts a FHIR primitive element (or a Quantity-like element) to
// its System value: Boolean, String, Integer, Decimal, Date, DateTime, Time
// or Quantity. Other values are returned unchanged.
func ToSystem(v Value) Value {
	s, ok := system(v)
	if !ok {
		return v
	}
	return s
}

// Extension returns the "_name" object (id and extensions) of a primitive
// element, or nil.
func (e *Element) Extension() *Node { return e.ext }

// choiceSuffixes are the type suffixes of choice elements (value[x]) in R4,
// used to recognise them without a Model.
var choiceSuffixes = map[string]bool{}

func init() {
	for _, t := range strings.Fields(`Base64Binary Boolean Canonical Code Date DateTime Decimal Id Instant
		Integer Markdown Oid PositiveInt String Time UnsignedInt Uri Url Uuid Address Age Annotation
		Attachment CodeableConcept Coding ContactPoint Count Distance Duration HumanName Identifier Money
		Period Quantity Range Ratio Reference SampledData Signature Timing ContactDetail Contributor
		DataRequirement Expression ParameterDefinition RelatedArtifact TriggerDefinition UsageContext
		Dosage Meta`) {
		choiceSuffixes[t] = true
	}
}
