package operations

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/search"
)

// Everything is Patient/[id]/$everything: the patient and every resource in
// its compartment but its AuditEvents (the audit log, searched by type), as
// a paged searchset. Parameters: _since (only resources updated since),
// _type (comma-separated types), _count and the _cursor of the next link.
var Everything = Operation{
	Name:       "everything",
	Definition: "http://hl7.org/fhir/OperationDefinition/Patient-everything",
	Instance:   true,
	Types:      []string{"Patient"},
	Invoke:     everything,
}

func everything(ctx context.Context, in Invocation) (Result, error) {
	if in.Method != http.MethodGet && in.Method != http.MethodPost {
		return Result{}, resources.Invalid("not-supported", "", "$everything takes GET or POST")
	}
	if _, err := in.Ops.Read(ctx, "Patient", in.ID); err != nil {
		return Result{}, err
	}
	c, _ := search.CompartmentOf("Patient", in.ID, true)
	q := &search.Query{Count: search.DefaultCount, Compartment: c}
	params := url.Values{}
	for k, vs := range in.Query {
		v := vs[len(vs)-1]
		switch k {
		case "_format", "_pretty":
			continue
		case "_count":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return Result{}, resources.Invalid("value", "_count", fmt.Sprintf("_count must be a positive integer, not %q", v))
			}
			q.Count = min(n, search.MaxCount)
		case "_cursor":
			q.Cursor = v
		case "_since":
			start, end, err := search.ParseDate(v)
			if err != nil {
				return Result{}, resources.Invalid("value", "_since", err.Error())
			}
			q.Filters = append(q.Filters, search.Filter{Param: search.ParamDef{Code: "_lastUpdated", Type: "date"},
				Values: []search.Value{{Raw: v, Prefix: search.Ge, Start: start, End: end}}})
		case "_type":
			keep := map[string][]string{}
			for _, t := range strings.Split(v, ",") {
				ps, ok := c.Params[t]
				if !ok {
					return Result{}, resources.Invalid("value", "_type", fmt.Sprintf("%q is not a type in the Patient compartment", t))
				}
				if t == search.AuditType {
					// The audit log is not part of the record: reading it
					// here would also grow it with every call.
					return Result{}, resources.Invalid("not-supported", "_type",
						"$everything leaves out AuditEvents; search them with GET AuditEvent?patient=Patient/"+in.ID)
				}
				keep[t] = ps
			}
			c.Params = keep
		default:
			return Result{}, resources.Invalid("not-supported", k, fmt.Sprintf("$everything does not support %q (supported: _since, _type, _count)", k))
		}
		params[k] = vs
	}
	return in.Search(ctx, q, params)
}
