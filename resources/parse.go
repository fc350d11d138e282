package resources

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
)

// MaxDepth bounds the nesting of a resource's JSON; deeper documents are
// rejected before any recursive processing.
const MaxDepth = 100

var (
	typesOnce sync.Once
	typeSet   map[string]bool
	typeList  []string
)

func loadTypes() {
	typeSet = map[string]bool{}
	oneof := (&bcrpb.ContainedResource{}).ProtoReflect().Descriptor().Oneofs().Get(0)
	for i := 0; i < oneof.Fields().Len(); i++ {
		name := string(oneof.Fields().Get(i).Message().Name())
		typeSet[name] = true
		typeList = append(typeList, name)
	}
	sort.Strings(typeList)
}

// IsResourceType reports whether name is an R4 resource type.
func IsResourceType(name string) bool {
	typesOnce.Do(loadTypes)
	return typeSet[name]
}

// ResourceTypes returns every R4 resource type name, sorted.
func ResourceTypes() []string {
	typesOnce.Do(loadTypes)
	return append([]string(nil), typeList...)
}

// ValidID reports whether s is a valid FHIR logical id: 1 to 64 of A-Z a-z 0-9 - and .
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// Parsed is a validated resource.
type Parsed struct {
	Type string
	// ID is the id in the body, empty when absent.
	ID string
	// JSON is the resource as received, compacted.
	JSON []byte
}

// Parser validates FHIR R4 JSON with google/fhir's jsonformat. It is safe for
// concurrent use.
type Parser struct {
	u *jsonformat.Unmarshaller
}

// NewParser returns a Parser for R4.
func NewParser() (*Parser, error) {
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		return nil, fmt.Errorf("resources: jsonformat: %w", err)
	}
	u.MaxNestingDepth = MaxDepth
	return &Parser{u: u}, nil
}

// Parse checks data as one R4 resource: JSON syntax, a known resourceType,
// elements, primitive formats, choice types, cardinality and the required
// bindings jsonformat checks. Problems come back as *InvalidError with one
// issue per problem and its FHIRPath location.
func (p *Parser) Parse(data []byte) (Parsed, error) {
	var compact bytes.Buffer
	compact.Grow(len(data))
	if err := json.Compact(&compact, data); err != nil {
		return Parsed{}, syntaxError(data, err)
	}
	data = compact.Bytes()
	if err := checkStructure(data); err != nil {
		return Parsed{}, prefixType(data, err)
	}
	members, err := splitObject(data)
	if err != nil {
		msg := err.Error()
		if !strings.HasPrefix(msg, "duplicate") {
			msg = "the body must be one JSON object: " + msg
		}
		return Parsed{}, Invalid("structure", "", msg)
	}
	var out Parsed
	for _, m := range members {
		switch m.name {
		case "resourceType":
			if json.Unmarshal(m.value, &out.Type) != nil {
				return Parsed{}, Invalid("structure", "resourceType", "resourceType must be a string")
			}
		case "id":
			if json.Unmarshal(m.value, &out.ID) != nil {
				return Parsed{}, Invalid("structure", "id", "id must be a string")
			}
		}
	}
	if out.Type == "" {
		return Parsed{}, Invalid("required", "resourceType", "resourceType is missing")
	}
	if !IsResourceType(out.Type) {
		return Parsed{}, Invalid("not-supported", "resourceType", fmt.Sprintf("%q is not an R4 resource type", out.Type))
	}
	rep := &reporter{}
	if _, err := p.u.UnmarshalWithErrorReporter(data, rep); err != nil {
		rep.issues = append(issuesFromUnmarshal(err), rep.issues...)
	}
	if len(rep.issues) > 0 {
		return Parsed{}, &InvalidError{Issues: rep.issues}
	}
	out.JSON = data
	return out, nil
}

// syntaxError reports a JSON syntax error with its line and column.
func syntaxError(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := 1, 1
		for _, c := range data[:min(int(se.Offset), len(data))] {
			if c == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		return Invalid("structure", "", fmt.Sprintf("invalid JSON at line %d, column %d: %s", line, col, se.Error()))
	}
	return Invalid("structure", "", "invalid JSON: "+err.Error())
}

// prefixType prefixes the issues' locations with the resource type, when the
// document names a known one, so that they read as FHIRPath.
func prefixType(data []byte, err error) error {
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	var inv *InvalidError
	if json.Unmarshal(data, &head) != nil || !IsResourceType(head.ResourceType) || !errors.As(err, &inv) {
		return err
	}
	for i := range inv.Issues {
		for j, e := range inv.Issues[i].Expression {
			if e == "" {
				inv.Issues[i].Expression[j] = head.ResourceType
			} else {
				inv.Issues[i].Expression[j] = head.ResourceType + "." + e
			}
		}
	}
	return err
}

// reporter collects jsonformat's validation findings as issues.
type reporter struct{ issues []Issue }

func (r *reporter) ReportValidationError(path string, err error) error {
	r.issues = append(r.issues, issueAt("error", path, err.Error()))
	return nil
}

func (r *reporter) ReportValidationWarning(path string, err error) error {
	r.issues = append(r.issues, issueAt("warning", path, err.Error()))
	return nil
}

func issueAt(severity, path, msg string) Issue {
	// jsonformat prefixes messages with `error at "path": `; the path goes in
	// Expression instead.
	if i := strings.Index(msg, "\": "); strings.HasPrefix(msg, "error at \"") && i > 0 {
		msg = msg[i+3:]
	}
	is := Issue{Severity: severity, Code: codeFor(msg), Diagnostics: msg}
	if path != "" {
		is.Expression = []string{path}
	}
	return is
}

func codeFor(msg string) string {
	switch {
	case strings.Contains(msg, "missing required"):
		return "required"
	case strings.Contains(msg, "unknown field"), strings.Contains(msg, "expected"):
		return "structure"
	}
	return "value"
}

// issuesFromUnmarshal turns jsonformat's structural errors into issues. They
// are of an internal type (jsonpbhelper.UnmarshalError / UnmarshalErrorList),
// so their Path, Details and Diagnostics fields are read by reflection.
func issuesFromUnmarshal(err error) []Issue {
	v := reflect.ValueOf(err)
	var items []reflect.Value
	switch {
	case v.Kind() == reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			items = append(items, v.Index(i))
		}
	case v.Kind() == reflect.Pointer && !v.IsNil():
		items = append(items, v)
	}
	var out []Issue
	for _, it := range items {
		if it.Kind() == reflect.Pointer {
			if it.IsNil() {
				continue
			}
			it = it.Elem()
		}
		if it.Kind() != reflect.Struct {
			continue
		}
		path, details, diag := field(it, "Path"), field(it, "Details"), field(it, "Diagnostics")
		if details == "" {
			continue
		}
		msg := details
		if diag != "" && details == "unknown field" {
			msg = details + " " + diag
			if name, err := strconv.Unquote(diag); err == nil && path != "" {
				path += "." + name
			}
		} else if diag != "" && !strings.Contains(details, diag) {
			msg = details + " (" + diag + ")"
		}
		out = append(out, issueAt("error", path, msg))
	}
	if len(out) == 0 {
		out = append(out, Issue{Severity: "error", Code: "structure", Diagnostics: err.Error()})
	}
	return out
}

func field(v reflect.Value, name string) string {
	f := v.FieldByName(name)
	if !f.IsValid() || f.Kind() != reflect.String {
		return ""
	}
	return f.String()
}
