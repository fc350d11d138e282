package operations

import (
	"context"
	"net/http"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// Reindexer starts reindex jobs; the server implements it.
type Reindexer interface {
	// StartReindex activates the SearchParameter resources with status
	// active and rewrites the index entries of every resource of types (all
	// types when empty) in the background. It returns the job's status URL
	// path (e.g. /_jobs/123).
	StartReindex(ctx context.Context, types []string) (statusPath string, err error)
}

// Reindex is $reindex, at system level (every resource) or type level. It
// answers 202 Accepted at once with the job's status URL in
// Content-Location; GET on that URL reports progress. Custom
// SearchParameters become searchable when the job completes.
func Reindex(r Reindexer) Operation {
	return Operation{
		Name:       "reindex",
		Definition: "http://yiyang.meizhou/fhir/OperationDefinition/reindex",
		System:     true,
		Type:       true,
		Admin:      true,
		Invoke: func(ctx context.Context, in Invocation) (Result, error) {
			if in.Method != http.MethodPost {
				return Result{}, resources.Invalid("not-supported", "", "$reindex needs POST")
			}
			var types []string
			if in.Type != "" {
				types = []string{in.Type}
			}
			path, err := r.StartReindex(ctx, types)
			if err != nil {
				return Result{}, err
			}
			return Result{
				Status: http.StatusAccepted,
				Body: resources.OutcomeJSON([]resources.Issue{{Severity: "information", Code: "informational",
					Diagnostics: "reindex started; follow Content-Location for its progress"}}),
				Header: http.Header{"Content-Location": {path}},
			}, nil
		},
	}
}
