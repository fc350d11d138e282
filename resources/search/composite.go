package search

import (
	"fmt"
	"strings"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// Composite parameters (code-value-quantity=http://loinc.org|8480-6$gt140)
// are searched in idx_composite, whose rows hold the components of one node
// side by side: component i of a value is compared with the columns c{i}_*
// of the same row, each by its own parameter type, so all parts must match
// one node (the systolic code with the systolic value).

// componentNames lists a composite's parts for messages: "code$value-quantity".
func componentNames(def ParamDef) string {
	names := make([]string, len(def.Components))
	for i, c := range def.Components {
		names[i] = c.Code
	}
	return strings.Join(names, "$")
}

// composite compiles one composite value against index alias x.
func (b *builder) composite(x string, f Filter, v Value) (string, error) {
	if len(v.Components) != len(f.Param.Components) || len(v.Components) > resources.MaxComponents {
		return "", resources.Invalid("invalid", f.Param.Code, fmt.Sprintf("%s takes %d parts separated by $ (%s)",
			f.Param.Code, len(f.Param.Components), componentNames(f.Param)))
	}
	conds := make([]string, 0, len(v.Components))
	for i, c := range f.Param.Components {
		cond, err := b.component(fmt.Sprintf("%s.c%d_", x, i+1), c, v.Components[i])
		if err != nil {
			return "", err
		}
		conds = append(conds, cond)
	}
	return "(" + strings.Join(conds, " AND ") + ")", nil
}

// component compiles part v of parameter type c.Type against the columns
// starting with col ("x1.c2_").
func (b *builder) component(col string, c ParamDef, v Value) (string, error) {
	switch c.Type {
	case "token":
		var parts []string
		if v.Code != "" {
			parts = append(parts, fmt.Sprintf("%scode = %s", col, b.arg(v.Code)))
		}
		if v.HasSystem {
			parts = append(parts, fmt.Sprintf("%ssystem = %s", col, b.arg(v.System)))
		}
		if len(parts) == 0 {
			return "", resources.Invalid("invalid", c.Code, "a token part needs a code or a system")
		}
		return "(" + strings.Join(parts, " AND ") + ")", nil
	case "string":
		return fmt.Sprintf(`%stext LIKE %s ESCAPE '\'`, col, b.arg(likeEscape(b.fold(v.Text))+"%")), nil
	case "uri":
		return fmt.Sprintf("%stext = %s", col, b.arg(v.Text)), nil
	case "reference":
		// Stored as a token: target id in code, type in system, URL in text.
		return b.referenceIn(col+"code", col+"system", col+"text", "", v), nil
	case "date":
		return b.dateRange(col+"low", col+"high", v), nil
	case "number":
		return b.number(col+"value", v, 1), nil
	case "quantity":
		if v.Code != "" && b.conv != nil && (!v.HasSystem || v.System == "http://unitsofmeasure.org") {
			if unit, factor, ok := b.conv(v.Code); ok {
				return fmt.Sprintf("(%scanon_code = %s AND %s)", col, b.arg(unit), b.number(col+"canon_value", v, factor)), nil
			}
		}
		cond := b.number(col+"value", v, 1)
		if v.Code != "" {
			cond += fmt.Sprintf(" AND %scode = %s", col, b.arg(v.Code))
		}
		if v.HasSystem && v.System != "" {
			cond += fmt.Sprintf(" AND %ssystem = %s", col, b.arg(v.System))
		}
		return "(" + cond + ")", nil
	}
	return "", resources.Invalid("not-supported", c.Code, fmt.Sprintf("composite parts of type %s cannot be searched", c.Type))
}
