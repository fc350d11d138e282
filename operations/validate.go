package operations

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// Validate is $validate: it checks a resource against the R4 base
// definitions without storing it. The body is the resource itself or a
// Parameters resource with a "resource" parameter. The answer is always an
// OperationOutcome with status 200; the issues tell whether it is valid.
var Validate = Operation{
	Name:       "validate",
	Definition: "http://hl7.org/fhir/OperationDefinition/Resource-validate",
	Type:       true,
	Instance:   true,
	AnyAccess:  true,
	Invoke:     validate,
}

func validate(ctx context.Context, in Invocation) (Result, error) {
	if in.Method != http.MethodPost {
		return Result{}, resources.Invalid("not-supported", "", "$validate needs POST with the resource to check")
	}
	body := in.Body
	p, err := in.Parser.Parse(body)
	if err == nil && p.Type == "Parameters" {
		body, err = parameterResource(p.JSON, "resource")
		if err == nil {
			p, err = in.Parser.Parse(body)
		}
	}
	var inv *resources.InvalidError
	switch {
	case errors.As(err, &inv):
		return Result{Status: http.StatusOK, Body: resources.OutcomeJSON(inv.Issues)}, nil
	case err != nil:
		return Result{}, err
	case p.Type != in.Type:
		return Result{Status: http.StatusOK, Body: resources.OutcomeJSON([]resources.Issue{{Severity: "error", Code: "invalid",
			Expression: []string{"resourceType"}, Diagnostics: fmt.Sprintf("resource is a %s, not a %s", p.Type, in.Type)}})}, nil
	}
	return Result{Status: http.StatusOK, Body: resources.OutcomeJSON([]resources.Issue{{Severity: "information", Code: "informational",
		Diagnostics: "the resource is valid against the R4 base definitions"}})}, nil
}
