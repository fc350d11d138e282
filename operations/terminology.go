package operations

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/terminology"
)

// ValueSetExpand is ValueSet/$expand over the stored terminology: GET or
// POST at type level with url (and valueSetVersion), POST with the ValueSet
// itself in a valueSet parameter, or on a stored ValueSet (instance level).
// It answers the ValueSet with a flat expansion.
var ValueSetExpand = Operation{
	Name: "expand", Definition: "http://hl7.org/fhir/OperationDefinition/ValueSet-expand",
	Type: true, Instance: true, Types: []string{"ValueSet"}, Invoke: expandValueSet,
}

// CodeSystemLookup is CodeSystem/$lookup: system and code (or coding) in,
// name, version, display and the parent and child properties out.
var CodeSystemLookup = Operation{
	Name: "lookup", Definition: "http://hl7.org/fhir/OperationDefinition/CodeSystem-lookup",
	Type: true, Types: []string{"CodeSystem"}, Invoke: lookupCode,
}

// CodeSystemSubsumes is CodeSystem/$subsumes: system, codeA and codeB in,
// the subsumption outcome out.
var CodeSystemSubsumes = Operation{
	Name: "subsumes", Definition: "http://hl7.org/fhir/OperationDefinition/CodeSystem-subsumes",
	Type: true, Types: []string{"CodeSystem"}, Invoke: subsumes,
}

// termParams are an operation's primitive parameters (from the query, or
// from a Parameters body) and the resource a valueSet parameter carries.
type termParams struct {
	values   map[string]string
	valueSet []byte
}

// readTermParams reads the query and, for POST, a Parameters body.
func readTermParams(in Invocation) (termParams, error) {
	p := termParams{values: map[string]string{}}
	for k, vs := range in.Query {
		if len(vs) > 0 && k != "_format" && k != "_pretty" {
			p.values[k] = vs[0]
		}
	}
	if in.Method != http.MethodPost || len(in.Body) == 0 {
		return p, nil
	}
	var body struct {
		ResourceType string `json:"resourceType"`
		Parameter    []struct {
			Name        string  `json:"name"`
			ValueURI    *string `json:"valueUri"`
			ValueString *string `json:"valueString"`
			ValueCode   *string `json:"valueCode"`
			ValueCanon  *string `json:"valueCanonical"`
			ValueCoding *struct {
				System, Code string
			} `json:"valueCoding"`
			Resource json.RawMessage `json:"resource"`
		} `json:"parameter"`
	}
	if err := json.Unmarshal(in.Body, &body); err != nil || body.ResourceType != "Parameters" {
		return p, resources.Invalid("structure", "Parameters", "the body must be a Parameters resource")
	}
	for _, pp := range body.Parameter {
		for _, v := range []*string{pp.ValueURI, pp.ValueString, pp.ValueCode, pp.ValueCanon} {
			if v != nil {
				p.values[pp.Name] = *v
			}
		}
		if pp.ValueCoding != nil {
			p.values["system"], p.values["code"] = pp.ValueCoding.System, pp.ValueCoding.Code
		}
		if pp.Name == "valueSet" && len(pp.Resource) > 0 {
			p.valueSet = pp.Resource
		}
	}
	return p, nil
}

func needTerminology(in Invocation) error {
	if in.Terminology == nil {
		return resources.Invalid("not-supported", "", "this server has no terminology service")
	}
	return nil
}

// required returns the named parameter or an error naming it.
func (p termParams) required(names ...string) ([]string, error) {
	out := make([]string, len(names))
	for i, n := range names {
		v := p.values[n]
		if v == "" {
			return nil, resources.Invalid("required", n, "the parameter "+n+" is required")
		}
		out[i] = v
	}
	return out, nil
}

func expandValueSet(ctx context.Context, in Invocation) (Result, error) {
	if err := needTerminology(in); err != nil {
		return Result{}, err
	}
	p, err := readTermParams(in)
	if err != nil {
		return Result{}, err
	}
	var data []byte
	var e *terminology.Expansion
	switch {
	case in.ID != "":
		r, err := in.Ops.Read(ctx, "ValueSet", in.ID)
		if err != nil {
			return Result{}, err
		}
		data = r.Data
		e, err = in.Terminology.ExpandResource(ctx, data)
		if err != nil {
			return Result{}, err
		}
	case p.valueSet != nil:
		data = p.valueSet
		if e, err = in.Terminology.ExpandResource(ctx, data); err != nil {
			return Result{}, err
		}
	case p.values["url"] != "":
		ref := p.values["url"]
		if v := p.values["valueSetVersion"]; v != "" {
			ref += "|" + v
		}
		if e, err = in.Terminology.Expand(ctx, ref); err != nil {
			return Result{}, err
		}
		vs := map[string]any{"resourceType": "ValueSet", "url": e.URL, "status": "active"}
		if e.Version != "" {
			vs["version"] = e.Version
		}
		data, _ = json.Marshal(vs)
	default:
		return Result{}, resources.Invalid("required", "url", "$expand needs url, a valueSet parameter, or a ValueSet id")
	}
	var vs map[string]any
	if err := json.Unmarshal(data, &vs); err != nil {
		return Result{}, resources.Invalid("structure", "ValueSet", "the ValueSet cannot be read")
	}
	contains := make([]map[string]string, len(e.Contains))
	for i, c := range e.Contains {
		m := map[string]string{"system": c.System, "code": c.Code}
		if c.Version != "" {
			m["version"] = c.Version
		}
		if c.Display != "" {
			m["display"] = c.Display
		}
		contains[i] = m
	}
	exp := map[string]any{"identifier": "urn:uuid:" + uuid.NewString(),
		"timestamp": time.Now().UTC().Format(time.RFC3339), "total": len(contains)}
	if len(contains) > 0 {
		exp["contains"] = contains
	}
	vs["expansion"] = exp
	delete(vs, "meta")
	body, err := json.Marshal(vs)
	return Result{Status: http.StatusOK, Body: body}, err
}

// parameters renders a Parameters resource.
func parameters(params ...map[string]any) ([]byte, error) {
	return json.Marshal(map[string]any{"resourceType": "Parameters", "parameter": params})
}

func lookupCode(ctx context.Context, in Invocation) (Result, error) {
	if err := needTerminology(in); err != nil {
		return Result{}, err
	}
	p, err := readTermParams(in)
	if err != nil {
		return Result{}, err
	}
	v, err := p.required("system", "code")
	if err != nil {
		return Result{}, err
	}
	d, err := in.Terminology.Lookup(ctx, v[0], v[1])
	if err != nil {
		return Result{}, err
	}
	name := d.Name
	if name == "" {
		name = d.System
	}
	out := []map[string]any{{"name": "name", "valueString": name}}
	if d.Version != "" {
		out = append(out, map[string]any{"name": "version", "valueString": d.Version})
	}
	if d.Display != "" {
		out = append(out, map[string]any{"name": "display", "valueString": d.Display})
	}
	prop := func(code, value string) map[string]any {
		return map[string]any{"name": "property", "part": []map[string]any{
			{"name": "code", "valueCode": code}, {"name": "value", "valueCode": value}}}
	}
	for _, c := range d.Parents {
		out = append(out, prop("parent", c))
	}
	for _, c := range d.Children {
		out = append(out, prop("child", c))
	}
	body, err := parameters(out...)
	return Result{Status: http.StatusOK, Body: body}, err
}

func subsumes(ctx context.Context, in Invocation) (Result, error) {
	if err := needTerminology(in); err != nil {
		return Result{}, err
	}
	p, err := readTermParams(in)
	if err != nil {
		return Result{}, err
	}
	v, err := p.required("system", "codeA", "codeB")
	if err != nil {
		return Result{}, err
	}
	outcome, err := in.Terminology.Subsumes(ctx, v[0], v[1], v[2])
	if err != nil {
		return Result{}, err
	}
	body, err := parameters(map[string]any{"name": "outcome", "valueCode": outcome})
	return Result{Status: http.StatusOK, Body: body}, err
}
