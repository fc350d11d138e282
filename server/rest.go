package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/fhirpatch"
	"github.com/meizhou-yiyang/yiyang/resources/jsonpatch"
)

// pathType returns the resource type of the URL, 404 when unknown.
func pathType(r *http.Request) (string, error) {
	typ := chi.URLParam(r, "type")
	if !resources.IsResourceType(typ) {
		return "", errorf(http.StatusNotFound, "not-supported", "%q is not a resource type this server knows (R4)", typ)
	}
	return typ, nil
}

// immutable refuses changes to the audit trail: AuditEvents may be created
// and read, never updated or deleted through the API.
func immutable(r *http.Request, typ string) error {
	if typ == "AuditEvent" {
		return errorf(http.StatusMethodNotAllowed, "forbidden", "AuditEvents cannot be updated or deleted (%s refused)", r.Method)
	}
	return nil
}

// writeTarget is the common start of the interactions that change one
// resource: its type and id from the URL (AuditEvents refused) and If-Match.
func writeTarget(r *http.Request) (typ, id string, match int64, err error) {
	if typ, id, err = pathTypeID(r); err != nil {
		return "", "", 0, err
	}
	if err = immutable(r, typ); err != nil {
		return "", "", 0, err
	}
	match, err = ifMatch(r)
	return typ, id, match, err
}

// written answers an update: 201 with Location when it created the
// resource, 200 otherwise.
func written(res *resources.Resource, created bool) *response {
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return &response{status: status, resource: res, location: created, prefer: true}
}

// pathTypeID returns the resource type and id of the URL.
func pathTypeID(r *http.Request) (string, string, error) {
	typ, err := pathType(r)
	if err != nil {
		return "", "", err
	}
	id := chi.URLParam(r, "id")
	if !resources.ValidID(id) {
		return "", "", errorAt(http.StatusBadRequest, "value", "id",
			"%q is not a valid id: 1 to 64 characters of A-Z a-z 0-9 - and .", id)
	}
	return typ, id, nil
}

// readBody reads the request body, mapping an oversized body to 413.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, errorf(http.StatusRequestEntityTooLarge, "too-costly", "%s", tooLarge(mbe.Limit))
	}
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "structure", "reading the request body: %v", err)
	}
	if len(b) == 0 {
		return nil, errorf(http.StatusBadRequest, "required", "the request body is empty; send a FHIR resource")
	}
	return b, nil
}

// parseResource reads and validates the body as a resource of type typ.
func (s *Server) parseResource(r *http.Request, typ string) (resources.Parsed, error) {
	if _, err := checkContentType(r); err != nil {
		return resources.Parsed{}, err
	}
	body, err := readBody(r)
	if err != nil {
		return resources.Parsed{}, err
	}
	p, err := s.parser.Parse(body)
	if err != nil {
		return resources.Parsed{}, err
	}
	if p.Type != typ {
		return resources.Parsed{}, errorAt(http.StatusBadRequest, "invalid", "resourceType",
			"the body is a %s but the URL is for %s", p.Type, typ)
	}
	return p, nil
}

// ifMatch parses If-Match: W/"n", "n" or n. 0 means absent.
func ifMatch(r *http.Request) (int64, error) {
	return parseETag(r.Header.Get("If-Match"), "If-Match")
}

func parseETag(h, name string) (int64, error) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, nil
	}
	v := strings.Trim(strings.TrimPrefix(h, "W/"), `"`)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0, errorf(http.StatusBadRequest, "value", `%s %q is not a version ETag such as W/"3"`, name, h)
	}
	return n, nil
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) (*response, error) {
	if strings.HasPrefix(chi.URLParam(r, "type"), "$") {
		return s.operation(w, r)
	}
	typ, err := pathType(r)
	if err != nil {
		return nil, err
	}
	p, err := s.parseResource(r, typ)
	if err != nil {
		return nil, err
	}
	if cond := r.Header.Get("If-None-Exist"); cond != "" {
		return s.conditionalCreate(r, typ, p, cond)
	}
	if err := s.checkLabels(r, "create", &resources.Resource{Type: typ, Data: p.JSON}); err != nil {
		return nil, err
	}
	// The server assigns the id; an id in the body is ignored (FHIR R4 create).
	res, err := s.ops(r.Context()).Create(r.Context(), resources.CreateParams{Type: typ, ID: preassigned(r), Data: p.JSON,
		Index: s.index(r.Context(), typ, p.JSON)})
	if err != nil {
		return nil, err
	}
	return &response{status: http.StatusCreated, resource: &res, location: true, prefer: true}, nil
}

// index extracts the search index entries of a validated resource. A
// parameter whose expression fails on it is logged and left out; the
// resource is stored with the entries of the others.
func (s *Server) index(ctx context.Context, typ string, data []byte) *resources.Index {
	x, err := s.indexer.Extract(typ, data)
	if err != nil {
		s.log.WarnContext(ctx, "search index extraction incomplete", "type", typ, "err", err)
	}
	return x
}

// preassigned is the id a transaction chose for a POST entry.
func preassigned(r *http.Request) string {
	id, _ := r.Context().Value(preassignedKey).(string)
	return id
}

func (s *Server) read(w http.ResponseWriter, r *http.Request) (*response, error) {
	if strings.HasPrefix(chi.URLParam(r, "id"), "$") {
		return s.operation(w, r)
	}
	typ, id, err := pathTypeID(r)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	res, err := s.ops(ctx).Read(ctx, typ, id)
	if errors.Is(err, resources.ErrGone) {
		return nil, goneError(res)
	}
	if err != nil {
		return nil, err
	}
	if err := s.checkLabels(r, "read", &res); err != nil {
		return nil, err
	}
	if err := s.shapeRead(r, &res); err != nil {
		return nil, err
	}
	return notModified(r, &response{resource: &res})
}

// goneError is a 410 carrying the deletion's version headers.
func goneError(res resources.Resource) error {
	return &httpError{status: http.StatusGone, issues: []resources.Issue{{Severity: "error", Code: "deleted",
		Diagnostics: fmt.Sprintf("%s/%s was deleted (version %d)", res.Type, res.ID, res.VersionID)}}}
}

// notModified answers 304 when If-None-Match or If-Modified-Since say the
// client's copy is current.
func notModified(r *http.Request, resp *response) (*response, error) {
	res := resp.resource
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, tag := range strings.Split(inm, ",") {
			tag = strings.TrimSpace(tag)
			if v, err := parseETag(tag, "If-None-Match"); tag == "*" || (err == nil && v == res.VersionID) {
				resp.status, resp.body = http.StatusNotModified, nil
				resp.resource = &resources.Resource{VersionID: res.VersionID, LastUpdated: res.LastUpdated, Patients: res.Patients}
				return resp, nil
			}
		}
		return resp, nil
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		t, err := http.ParseTime(ims)
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "value", "If-Modified-Since %q is not an HTTP date", ims)
		}
		if !res.LastUpdated.Truncate(time.Second).After(t) {
			resp.status = http.StatusNotModified
			resp.resource = &resources.Resource{VersionID: res.VersionID, LastUpdated: res.LastUpdated}
		}
	}
	return resp, nil
}

func (s *Server) vread(w http.ResponseWriter, r *http.Request) (*response, error) {
	typ, id, err := pathTypeID(r)
	if err != nil {
		return nil, err
	}
	vid := chi.URLParam(r, "vid")
	v, err := strconv.ParseInt(vid, 10, 64)
	if err != nil || v < 1 {
		return nil, errorAt(http.StatusBadRequest, "value", "vid", "version %q is not a positive integer", vid)
	}
	res, err := s.ops(r.Context()).VRead(r.Context(), typ, id, v)
	if errors.Is(err, resources.ErrGone) {
		return nil, goneError(res)
	}
	if err != nil {
		return nil, err
	}
	if err := s.checkLabels(r, "vread", &res); err != nil {
		return nil, err
	}
	if err := s.shapeRead(r, &res); err != nil {
		return nil, err
	}
	return notModified(r, &response{resource: &res})
}

func (s *Server) update(w http.ResponseWriter, r *http.Request) (*response, error) {
	typ, id, match, err := writeTarget(r)
	if err != nil {
		return nil, err
	}
	p, err := s.parseResource(r, typ)
	if err != nil {
		return nil, err
	}
	if p.ID == "" {
		return nil, errorAt(http.StatusBadRequest, "required", typ+".id", "the resource must carry id %q to match the URL", id)
	}
	if p.ID != id {
		return nil, errorAt(http.StatusBadRequest, "invalid", typ+".id", "the body's id %q differs from the URL's id %q", p.ID, id)
	}
	if err := s.checkLabels(r, "update", &resources.Resource{Type: typ, Data: p.JSON}); err != nil {
		return nil, err
	}
	res, created, err := s.ops(r.Context()).Update(r.Context(), resources.UpdateParams{Type: typ, ID: id, Data: p.JSON, IfMatch: match,
		Index: s.index(r.Context(), typ, p.JSON), Guard: s.labelGuard(r, "update", typ)})
	if err != nil {
		return nil, err
	}
	return written(&res, created), nil
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request) (*response, error) {
	typ, id, match, err := writeTarget(r)
	if err != nil {
		return nil, err
	}
	res, err := s.ops(r.Context()).Delete(r.Context(), resources.DeleteParams{Type: typ, ID: id, IfMatch: match,
		Guard: s.labelGuard(r, "delete", typ)})
	if errors.Is(err, resources.ErrNotFound) && match == 0 {
		// Deleting what does not exist succeeds without a new version (R4 http.html#delete).
		return deleted(r, nil, typ+"/"+id+" does not exist; nothing to delete"), nil
	}
	if err != nil {
		return nil, err
	}
	return deleted(r, &res, fmt.Sprintf("%s/%s deleted (version %d)", typ, id, res.VersionID)), nil
}

func deleted(r *http.Request, res *resources.Resource, msg string) *response {
	resp := &response{status: http.StatusNoContent}
	if res != nil {
		resp.header = http.Header{"Etag": {etag(res.VersionID)}}
	}
	if preferReturn(r) == "OperationOutcome" {
		resp.status, resp.body = http.StatusOK, information(msg)
	}
	return resp
}

// maxPatchRetries bounds how often a PATCH without If-Match is re-applied
// when a concurrent update wins the race.
const maxPatchRetries = 5

func (s *Server) patch(w http.ResponseWriter, r *http.Request) (*response, error) {
	typ, id, match, err := writeTarget(r)
	if err != nil {
		return nil, err
	}
	if !s.mayRead(r, typ) {
		// A patch works on the stored content: its test operations, and
		// whether its paths exist, would tell a writer what it may not read.
		return nil, forbidden("PATCH works on the stored %s, which this token or role may not read; send the whole resource with PUT", typ)
	}
	const need = "PATCH needs Content-Type application/json-patch+json (JSON Patch) or " +
		"application/fhir+json (FHIRPath Patch, a Parameters resource)"
	ct := r.Header.Get("Content-Type")
	mediaType := strings.ToLower(strings.TrimSpace(strings.Split(ct, ";")[0]))
	switch mediaType {
	case "application/json-patch+json":
	case "application/fhir+json", "application/json":
		mediaType = "application/fhir+json"
	default:
		return nil, errorf(http.StatusUnsupportedMediaType, "not-supported", "%s; got %q", need, ct)
	}
	doc, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if mediaType == "application/fhir+json" {
		// FHIR JSON is a patch only as a Parameters resource; other resources
		// are unsupported, anything else is left to the patch parser (400).
		var body struct {
			ResourceType string `json:"resourceType"`
		}
		if json.Unmarshal(doc, &body) == nil && body.ResourceType != "" && body.ResourceType != "Parameters" {
			return nil, errorf(http.StatusUnsupportedMediaType, "not-supported",
				"%s; got %q with a %s resource", need, ct, body.ResourceType)
		}
	}
	ops := s.ops(r.Context())
	for attempt := 0; ; attempt++ {
		cur, err := ops.Read(r.Context(), typ, id)
		if errors.Is(err, resources.ErrGone) {
			return nil, goneError(cur)
		}
		if err != nil {
			return nil, err
		}
		if match > 0 && match != cur.VersionID {
			return nil, resources.ErrPreconditionFailed
		}
		if err := s.checkLabels(r, "patch", &cur); err != nil {
			return nil, err
		}
		p, err := s.applyPatch(cur, mediaType, doc)
		if err != nil {
			return nil, err
		}
		if err := s.checkLabels(r, "patch", &resources.Resource{Type: typ, Data: p.JSON}); err != nil {
			return nil, err
		}
		res, _, err := ops.Update(r.Context(), resources.UpdateParams{Type: typ, ID: id, Data: p.JSON, IfMatch: cur.VersionID,
			Method: "PATCH", Index: s.index(r.Context(), typ, p.JSON)})
		if errors.Is(err, resources.ErrPreconditionFailed) && match == 0 && attempt < maxPatchRetries {
			continue // a concurrent update won; apply the patch to the new version
		}
		if err != nil {
			return nil, err
		}
		return &response{resource: &res, prefer: true}, nil
	}
}

// applyPatch applies a patch to the current version and validates the
// result: a JSON Patch for mediaType application/json-patch+json, else a
// FHIRPath Patch (a Parameters resource).
func (s *Server) applyPatch(cur resources.Resource, mediaType string, doc []byte) (resources.Parsed, error) {
	kind, apply := "FHIRPath Patch", fhirpatch.Apply
	if mediaType == "application/json-patch+json" {
		kind, apply = "JSON Patch", jsonpatch.Apply
	}
	out, err := apply(cur.Data, doc)
	if err != nil {
		var je *jsonpatch.Error
		var fe *fhirpatch.Error
		if errors.As(err, &je) && je.Malformed || errors.As(err, &fe) && fe.Malformed {
			return resources.Parsed{}, errorf(http.StatusBadRequest, "structure", "malformed %s: %v", kind, err)
		}
		return resources.Parsed{}, errorf(http.StatusUnprocessableEntity, "processing", "the patch cannot be applied: %v", err)
	}
	p, err := s.parser.Parse(out)
	var inv *resources.InvalidError
	if errors.As(err, &inv) {
		return resources.Parsed{}, &httpError{status: http.StatusUnprocessableEntity, issues: inv.Issues}
	}
	if err != nil {
		return resources.Parsed{}, err
	}
	if p.Type != cur.Type || p.ID != cur.ID {
		return resources.Parsed{}, errorf(http.StatusUnprocessableEntity, "processing",
			"a patch may not change resourceType or id (result is %s/%s)", p.Type, p.ID)
	}
	return p, nil
}
