package resources

import "fmt"

// MaxComponents is the most components a composite search parameter may
// have; those of R4 have two or three.
const MaxComponents = 3

// CompositeEntry is one value of a composite parameter: the components of
// one node of the parameter's expression, kept together so that a search
// matches them on the same node (the systolic code with the systolic value).
// Components beyond the parameter's count are zero.
type CompositeEntry struct {
	Param      string
	Components [MaxComponents]Component
}

// Component is one part of a composite entry, normalised as an entry of the
// component parameter's own type; which fields are set depends on it:
//   - token: System, Code;
//   - quantity: System, Code, Value and, when the unit converts, CanonCode
//     and CanonValue (as in QuantityEntry);
//   - number: Value;
//   - date: Low, High (as in DateEntry);
//   - string: Text, folded (as StringEntry.Norm);
//   - uri: Text;
//   - reference: System (target type), Code (target id), Text (URL).
type Component struct {
	System, Code, Text string
	Value              float64
	CanonCode          string
	CanonValue         float64
	Low, High          int64
}

// ComponentFields are the stored fields of a Component, in the order
// Fields returns them and Scan reads them. Stores name the column of field
// f of component i (from 1) "c{i}_{f}".
var ComponentFields = [...]string{"system", "code", "text", "value", "canon_code", "canon_value", "low", "high"}

// Fields returns the entry's values after Param: every component's fields
// in the order of ComponentFields.
func (e *CompositeEntry) Fields() []any {
	out := make([]any, 0, MaxComponents*len(ComponentFields))
	for _, c := range e.Components {
		out = append(out, c.System, c.Code, c.Text, c.Value, c.CanonCode, c.CanonValue, c.Low, c.High)
	}
	return out
}

func (e *CompositeEntry) scanDest() []any {
	out := []any{&e.Param}
	for i := range e.Components {
		c := &e.Components[i]
		out = append(out, &c.System, &c.Code, &c.Text, &c.Value, &c.CanonCode, &c.CanonValue, &c.Low, &c.High)
	}
	return out
}

// CompositeColumns returns the column names of a composite entry's
// components, c1_system ... c3_high, in the order of Fields.
func CompositeColumns() []string {
	out := make([]string, 0, MaxComponents*len(ComponentFields))
	for i := 1; i <= MaxComponents; i++ {
		for _, f := range ComponentFields {
			out = append(out, fmt.Sprintf("c%d_%s", i, f))
		}
	}
	return out
}
