package index

import (
	"fmt"

	"github.com/meizhou-yiyang/yiyang/conformance/r4"
	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/fhirpath"
)

// part is a compiled component of a composite parameter: its own
// parameter's code and type, and the expression evaluated on each node the
// composite's expression selects.
type part struct {
	code, typ string
	expr      *fhirpath.Expression
}

// maxCompositeEntries bounds the entries one node of a composite parameter
// may produce: the product of its components' values (a code with three
// codings and a value with three codings is nine).
const maxCompositeEntries = 64

// compileParts compiles the components of composite parameter sp on typ.
func compileParts(sp r4.SearchParam, typ string) ([]part, error) {
	parts, err := sp.CompositeParts(typ)
	if err != nil {
		return nil, err
	}
	if len(parts) > resources.MaxComponents {
		return nil, fmt.Errorf("composite of %d components (at most %d are indexed)", len(parts), resources.MaxComponents)
	}
	out := make([]part, len(parts))
	for i, c := range parts {
		switch c.Param.Type {
		case "string", "token", "reference", "date", "number", "quantity", "uri":
		default:
			return nil, fmt.Errorf("component %s is of type %s, which cannot be indexed", c.Param.Name, c.Param.Type)
		}
		e, err := fhirpath.Compile(c.Expression)
		if err != nil {
			return nil, fmt.Errorf("expression of component %s does not compile: %v", c.Param.Name, err)
		}
		out[i] = part{code: c.Param.Name, typ: c.Param.Type, expr: e}
	}
	return out, nil
}

// addComposite adds the entries of composite parameter p for the nodes its
// expression selected: for each node, every combination of its components'
// values (a node lacking a value for some component has none). An error
// names a component whose expression failed or a node with too many
// combinations; the other nodes are indexed all the same.
func addComposite(out *resources.Index, ctx fhirpath.Context, p param, nodes []fhirpath.Value, memo *partMemo) error {
	var failed error
	lists := make([][]resources.Component, len(p.parts))
	for _, n := range nodes {
		complete := true
		// Last part first: the value parts (value.as(CodeableConcept), ...)
		// are the ones most often absent, and one absent part ends the node.
		for i := len(p.parts) - 1; i >= 0; i-- {
			var err error
			if lists[i], err = memo.values(&ctx, p.parts[i], n); err != nil {
				if failed == nil {
					failed = fmt.Errorf("component %s: %w", p.parts[i].code, err)
				}
				complete = false
				break
			}
			if len(lists[i]) == 0 {
				complete = false
				break
			}
		}
		if !complete {
			continue
		}
		total := 1
		for _, l := range lists {
			total *= len(l)
		}
		if total > maxCompositeEntries {
			if failed == nil {
				failed = fmt.Errorf("a node has %d combinations of component values; the first %d are indexed", total, maxCompositeEntries)
			}
			total = maxCompositeEntries
		}
		// Enumerate the combinations like an odometer over the lists.
		idx := make([]int, len(lists))
		for k := 0; k < total; k++ {
			e := resources.CompositeEntry{Param: p.code}
			for i, l := range lists {
				e.Components[i] = l[idx[i]]
			}
			out.Composites = append(out.Composites, e)
			for i := len(idx) - 1; i >= 0; i-- {
				if idx[i]++; idx[i] < len(lists[i]) {
					break
				}
				idx[i] = 0
			}
		}
	}
	return failed
}

// partMemo keeps the values of the parts evaluated while indexing one
// resource: composites share parts (code-value-quantity and
// combo-code-value-quantity both read code and value.as(Quantity) of the
// Observation), evaluated once.
type partMemo []struct {
	expr, typ string
	node      *fhirpath.Node
	values    []resources.Component
}

// values returns the components of part c on node n.
func (m *partMemo) values(ctx *fhirpath.Context, c part, n fhirpath.Value) ([]resources.Component, error) {
	el, _ := n.(*fhirpath.Element)
	var node *fhirpath.Node
	if el != nil {
		node = el.Node()
	}
	src := c.expr.String()
	if node != nil {
		for _, e := range *m {
			if e.node == node && e.expr == src && e.typ == c.typ {
				return e.values, nil
			}
		}
	}
	vals, err := c.expr.Evaluate(ctx, n)
	if err != nil {
		return nil, err
	}
	var scratch resources.Index
	for _, v := range vals {
		add(&scratch, param{code: c.code, typ: c.typ}, v)
	}
	out := uniq(components(&scratch, c.code))
	if node != nil {
		*m = append(*m, struct {
			expr, typ string
			node      *fhirpath.Node
			values    []resources.Component
		}{src, c.typ, node, out})
	}
	return out, nil
}

// components turns the entries the component parameter code produced in x
// into composite components. Tokens without a code are left out: a
// composite search always names one.
func components(x *resources.Index, code string) []resources.Component {
	var out []resources.Component
	for _, e := range x.Strings {
		if e.Param == code {
			out = append(out, resources.Component{Text: e.Norm})
		}
	}
	for _, e := range x.Tokens {
		if e.Param == code && e.Code != "" {
			out = append(out, resources.Component{System: e.System, Code: e.Code})
		}
	}
	for _, e := range x.References {
		if e.Param == code {
			out = append(out, resources.Component{System: e.TargetType, Code: e.TargetID, Text: e.URL})
		}
	}
	for _, e := range x.Dates {
		if e.Param == code {
			out = append(out, resources.Component{Low: e.Low, High: e.High})
		}
	}
	for _, e := range x.Numbers {
		if e.Param == code {
			out = append(out, resources.Component{Value: e.Value})
		}
	}
	for _, e := range x.Quantities {
		if e.Param == code {
			out = append(out, resources.Component{System: e.System, Code: e.Code, Value: e.Value, CanonCode: e.CanonCode, CanonValue: e.CanonValue})
		}
	}
	for _, e := range x.URIs {
		if e.Param == code {
			out = append(out, resources.Component{Text: e.URI})
		}
	}
	return out
}
