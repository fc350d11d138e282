package postgres

import "github.com/meizhou-yiyang/yiyang/resources"

// compositeTable is idx_composite: the parameter, then the fields of each
// component (resources.CompositeColumns).
func compositeTable() indexTable {
	t := indexTable{name: "idx_composite", columns: append([]string{"param"}, resources.CompositeColumns()...), types: []string{"text"}}
	for range resources.MaxComponents {
		t.types = append(t.types, "text", "text", "text", "float8", "text", "float8", "int8", "int8")
	}
	return t
}

// compositeArgs returns the arrays of compositeTable's columns.
func compositeArgs(x *resources.Index) []any {
	n := len(x.Composites)
	if n == 0 {
		out := make([]any, 1+resources.MaxComponents*len(resources.ComponentFields))
		for i := range out {
			out[i] = []string(nil)
		}
		return out
	}
	params := make([]string, n)
	type cols struct {
		system, code, text, canonCode []string
		value, canonValue             []float64
		low, high                     []int64
	}
	var c [resources.MaxComponents]cols
	for i := range c {
		c[i] = cols{make([]string, n), make([]string, n), make([]string, n), make([]string, n),
			make([]float64, n), make([]float64, n), make([]int64, n), make([]int64, n)}
	}
	for j, e := range x.Composites {
		params[j] = e.Param
		for i, v := range e.Components {
			c[i].system[j], c[i].code[j], c[i].text[j], c[i].canonCode[j] = v.System, v.Code, v.Text, v.CanonCode
			c[i].value[j], c[i].canonValue[j], c[i].low[j], c[i].high[j] = v.Value, v.CanonValue, v.Low, v.High
		}
	}
	out := []any{params}
	for _, v := range c {
		out = append(out, v.system, v.code, v.text, v.value, v.canonCode, v.canonValue, v.low, v.high)
	}
	return out
}
