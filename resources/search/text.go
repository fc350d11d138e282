package search

import (
	"fmt"
	"strings"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// fullText compiles _text (the narrative) and _content (all the resource's
// text) against idx_text: in each OR value, terms separated by white space
// must all occur, each as a case- and accent-folded substring (which also
// suits Chinese, written without spaces). :contains means the same;
// :missing=true finds resources without any such text.
func (b *builder) fullText(r, typ string, f Filter) (string, error) {
	col := "narrative"
	if f.Param.Code == "_content" {
		col = "content"
	}
	x := b.alias("x")
	scope := "1 = 1"
	if typ != "" {
		scope = fmt.Sprintf("%s.res_type = %s", x, b.arg(typ))
	}
	switch f.Modifier {
	case "", "contains":
	case "missing":
		cond := b.member(r, x, "idx_text", fmt.Sprintf("%s AND %s.%s <> ''", scope, x, col))
		if f.Missing {
			return "NOT " + cond, nil
		}
		return cond, nil
	default:
		return "", resources.Invalid("not-supported", f.Param.Code+":"+f.Modifier,
			fmt.Sprintf("%s takes no modifier :%s; its terms always match as folded substrings", f.Param.Code, f.Modifier))
	}
	var ors []string
	for _, v := range f.Values {
		terms := strings.Fields(b.fold(v.Text))
		if len(terms) == 0 {
			return "", resources.Invalid("invalid", f.Param.Code, fmt.Sprintf("%s: %q has no search terms", f.Param.Code, v.Raw))
		}
		ands := make([]string, len(terms))
		for i, t := range terms {
			ands[i] = fmt.Sprintf(`%s.%s LIKE %s ESCAPE '\'`, x, col, b.arg("%"+likeEscape(t)+"%"))
		}
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return b.member(r, x, "idx_text", scope+" AND ("+strings.Join(ors, " OR ")+")"), nil
}
