package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/search"
	"github.com/meizhou-yiyang/yiyang/server/auth"
)

// httpError is an error with a status code and the issues to report.
type httpError struct {
	status int
	issues []resources.Issue
}

func (e *httpError) Error() string {
	if len(e.issues) > 0 {
		return e.issues[0].Diagnostics
	}
	return http.StatusText(e.status)
}

// errorf builds an httpError with one error issue.
func errorf(status int, code, format string, args ...any) error {
	return &httpError{status: status, issues: []resources.Issue{{
		Severity: "error", Code: code, Diagnostics: fmt.Sprintf(format, args...),
	}}}
}

// errorAt builds an httpError with one error issue located at expression.
func errorAt(status int, code, expression, format string, args ...any) error {
	e := errorf(status, code, format, args...).(*httpError)
	e.issues[0].Expression = []string{expression}
	return e
}

// statusOf is the one place mapping errors to HTTP status and issues. The
// second result is false for errors whose detail must not reach the client
// (driver errors, bugs): those become a generic 500 and go to the log.
func statusOf(err error) (int, []resources.Issue, bool) {
	var he *httpError
	var inv *resources.InvalidError
	var ae *auth.Error
	switch {
	case errors.As(err, &ae):
		return ae.Status, []resources.Issue{ae.Issue()}, true
	case errors.As(err, &he):
		return he.status, he.issues, true
	case errors.As(err, &inv):
		return http.StatusBadRequest, inv.Issues, true
	case errors.Is(err, resources.ErrNotFound):
		return http.StatusNotFound, issue("not-found", "resource not found"), true
	case errors.Is(err, resources.ErrGone):
		return http.StatusGone, issue("deleted", "resource deleted"), true
	case errors.Is(err, resources.ErrVersionConflict):
		return http.StatusConflict, issue("duplicate", "a resource with this id already exists"), true
	case errors.Is(err, resources.ErrPreconditionFailed):
		return http.StatusPreconditionFailed, issue("conflict", "the resource's current version does not match If-Match"), true
	case errors.Is(err, search.ErrOutOfScope):
		return http.StatusForbidden, issue("forbidden", err.Error()), true
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, issue("timeout", "the request took too long"), true
	case errors.Is(err, context.Canceled):
		// The client went away; the status is only logged.
		return 499, issue("timeout", "request canceled"), true
	}
	return http.StatusInternalServerError, issue("exception", "internal server error; see the server log for the request id"), false
}

func issue(code, msg string) []resources.Issue {
	return []resources.Issue{{Severity: "error", Code: code, Diagnostics: msg}}
}

// outcomeJSON renders issues as an OperationOutcome.
func outcomeJSON(issues []resources.Issue) []byte { return resources.OutcomeJSON(issues) }

// information is a one-issue informational OperationOutcome.
func information(msg string) []byte {
	return outcomeJSON([]resources.Issue{{Severity: "information", Code: "informational", Diagnostics: msg}})
}
