package search

import (
	"fmt"
	"strings"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// listParam is the definition of _list: resources an entry of the List
// with the given id refers to (List.entry.item, indexed as the List
// parameter item).
var listParam = ParamDef{Code: "_list", Type: "special"}

// functionalLists are the functional list names of R4 (search.html#list):
// they need the current patient's context, which this server does not
// resolve, so they are refused.
var functionalLists = map[string]bool{"$current-problems": true, "$current-medications": true,
	"$current-allergies": true, "$current-drug-allergies": true}

// list parses _list=id[,id]: a List's ids, ORed.
func (p *parser) list(q *Query, key, mod, raw string) (Filter, bool) {
	if mod != "" {
		p.fail(key, "_list takes no modifier :%s", mod)
		return Filter{}, false
	}
	parts := splitEscaped(raw, ',')
	if len(parts) > MaxOrValues {
		p.fail(key, "_list has %d values; at most %d may be ORed", len(parts), MaxOrValues)
		return Filter{}, false
	}
	f := Filter{Param: listParam}
	for _, part := range parts {
		id := unescape(part)
		switch {
		case strings.HasPrefix(id, "$"):
			if functionalLists[id] {
				p.unsupported(q, key, "the functional list %s needs a patient context, which this server does not resolve; name a List by id", id)
			} else {
				p.fail(key, "_list: %q is not a functional list of FHIR R4", id)
			}
			return Filter{}, false
		case !resources.ValidID(id):
			p.fail(key, "_list: %q is not a List id", id)
			return Filter{}, false
		}
		f.Values = append(f.Values, Value{Raw: part, Code: id})
	}
	return f, true
}

// listMember is the condition "resource r is an item of one of the Lists
// of f": a List that exists and is not deleted, whose entry.item (the List
// parameter item in idx_reference) names r's type and id.
func (b *builder) listMember(r string, f Filter) (string, error) {
	l, x, t := b.alias("l"), b.alias("x"), b.alias("t")
	ids := make([]string, len(f.Values))
	for i, v := range f.Values {
		ids[i] = v.Code
	}
	lists := fmt.Sprintf("%s.type = %s AND %s.id IN (%s) AND %s.deleted = %s", l, b.arg("List"), l, b.list(ids), l, b.d.False)
	lists, err := b.andConfined(lists, l, "List")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(`%s.rid IN (SELECT %s.rid FROM resources %s JOIN idx_reference %s ON %s.rid = %s.rid
		JOIN resources %s ON %s.type = %s.target_type AND %s.id = %s.target_id
		WHERE %s AND %s.res_type = %s AND %s.param = %s)`,
		r, t, l, x, x, l,
		t, t, x, t, x,
		lists, x, b.arg("List"), x, b.arg("item")), nil
}
