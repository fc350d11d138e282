package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/search"
)

// Bundle and its parts, with resources kept as raw JSON.
type bundle struct {
	ResourceType string        `json:"resourceType"`
	ID           string        `json:"id"`
	Meta         *bundleMeta   `json:"meta,omitempty"`
	Type         string        `json:"type"`
	Total        *int          `json:"total,omitempty"`
	Link         []bundleLink  `json:"link,omitempty"`
	Entry        []bundleEntry `json:"entry,omitempty"`
}

type bundleMeta struct {
	LastUpdated string `json:"lastUpdated"`
}

type bundleLink struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

type bundleEntry struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource json.RawMessage `json:"resource,omitempty"`
	Search   *entrySearch    `json:"search,omitempty"`
	Request  *entryRequest   `json:"request,omitempty"`
	Response *entryResponse  `json:"response,omitempty"`
}

type entrySearch struct {
	Mode string `json:"mode"`
}

type entryRequest struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}

type entryResponse struct {
	Status       string          `json:"status"`
	Location     string          `json:"location,omitempty"`
	Etag         string          `json:"etag,omitempty"`
	LastModified string          `json:"lastModified,omitempty"`
	Outcome      json.RawMessage `json:"outcome,omitempty"`
}

func newBundle(typ string) *bundle {
	return &bundle{ResourceType: "Bundle", ID: uuid.NewString(), Type: typ,
		Meta: &bundleMeta{LastUpdated: resources.FormatInstant(time.Now())}}
}

// historyParams are the parameters the history interaction understands.
var historyParams = map[string]bool{"_count": true, "_since": true, "_at": true, "_cursor": true, "_format": true, "_pretty": true}

func (s *Server) history(w http.ResponseWriter, r *http.Request) (*response, error) {
	var p resources.HistoryParams
	if chi.URLParam(r, "type") != "" {
		typ, err := pathType(r)
		if err != nil {
			return nil, err
		}
		p.Type = typ
		if chi.URLParam(r, "id") != "" {
			if _, p.ID, err = pathTypeID(r); err != nil {
				return nil, err
			}
		}
	}
	q := r.URL.Query()
	lenient := handlingLenient(r)
	for k := range q {
		if !historyParams[k] && !lenient {
			return nil, errorAt(http.StatusBadRequest, "not-supported", k,
				"history does not support parameter %q (supported: _count, _since, _at); send Prefer: handling=lenient to ignore it", k)
		}
	}
	if v := q.Get("_count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, errorAt(http.StatusBadRequest, "value", "_count", "_count %q is not a non-negative integer", v)
		}
		p.Count = n
	}
	if v := q.Get("_since"); v != "" {
		start, _, err := search.ParseDate(v)
		if err != nil {
			return nil, errorAt(http.StatusBadRequest, "value", "_since", "_since %q is not a FHIR instant or dateTime", v)
		}
		p.Since = start
	}
	if v := q.Get("_at"); v != "" {
		start, end, err := search.ParseDate(v)
		if err != nil {
			return nil, errorAt(http.StatusBadRequest, "value", "_at", "_at %q is not a FHIR date or dateTime", v)
		}
		p.AtStart, p.AtEnd = start, end
	}
	p.Cursor = q.Get("_cursor")
	if p.ID == "" {
		// A type or system history leaves out, in its query, the versions
		// whose labels the caller may not see (an instance history of
		// such a resource is refused below, as reading it is).
		p.ExcludeLabels = s.hiddenLabels(r)
	}
	page, err := s.store.History(r.Context(), p)
	if err != nil {
		return nil, err
	}
	b := newBundle("history")
	self := s.base(r) + r.URL.Path
	b.Link = append(b.Link, bundleLink{"self", self + sortedQuery(q, "")})
	if page.Next != "" {
		b.Link = append(b.Link, bundleLink{"next", self + sortedQuery(q, page.Next)})
	}
	base := s.base(r)
	for _, e := range page.Entries {
		// Labelled versions are for whom may read them: the history of a
		// labelled resource is refused as reading it is. A type or system
		// history has left out the labels hiddenLabels names; a policy
		// directory may deny others, whose versions are dropped here (the
		// page is then shorter).
		if err := s.checkLabels(r, historyInteraction(p), &e); err != nil {
			if p.ID != "" {
				return nil, err
			}
			continue
		}
		b.Entry = append(b.Entry, historyEntry(base, e))
	}
	body, err := json.Marshal(b)
	return &response{body: body}, err
}

// historyInteraction is the interaction a history request is.
func historyInteraction(p resources.HistoryParams) string {
	switch {
	case p.ID != "":
		return "history-instance"
	case p.Type != "":
		return "history-type"
	}
	return "history-system"
}

func historyEntry(base string, e resources.Resource) bundleEntry {
	ref := e.Type + "/" + e.ID
	be := bundleEntry{FullURL: base + "/" + ref, Request: &entryRequest{Method: e.Method, URL: ref}}
	status := "200 OK"
	switch {
	case e.Deleted:
		status = "204 No Content"
	case e.Method == "POST":
		be.Request.URL = e.Type
		status = "201 Created"
	case e.VersionID == 1:
		status = "201 Created"
	}
	if !e.Deleted {
		be.Resource = e.Data
	}
	be.Response = &entryResponse{Status: status, Etag: etag(e.VersionID), LastModified: resources.FormatInstant(e.LastUpdated)}
	return be
}

func handlingLenient(r *http.Request) bool {
	for _, v := range r.Header.Values("Prefer") {
		for _, p := range strings.Split(v, ";") {
			k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "handling") && strings.EqualFold(strings.Trim(val, `"`), "lenient") {
				return true
			}
		}
	}
	return false
}
