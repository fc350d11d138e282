package resources

import "encoding/json"

type ooIssue struct {
	Severity    string   `json:"severity"`
	Code        string   `json:"code"`
	Diagnostics string   `json:"diagnostics,omitempty"`
	Expression  []string `json:"expression,omitempty"`
}

// OutcomeJSON renders issues as an OperationOutcome; no issues give one
// informational "ok" issue.
func OutcomeJSON(issues []Issue) []byte {
	out := struct {
		ResourceType string    `json:"resourceType"`
		Issue        []ooIssue `json:"issue"`
	}{ResourceType: "OperationOutcome"}
	for _, is := range issues {
		sev, code := is.Severity, is.Code
		if sev == "" {
			sev = "error"
		}
		if code == "" {
			code = "processing"
		}
		out.Issue = append(out.Issue, ooIssue{sev, code, is.Diagnostics, is.Expression})
	}
	if len(out.Issue) == 0 {
		out.Issue = []ooIssue{{Severity: "information", Code: "informational", Diagnostics: "ok"}}
	}
	b, _ := json.Marshal(out)
	return b
}
