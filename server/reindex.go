package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/index"
	"github.com/meizhou-yiyang/yiyang/resources/search"
)

// registryBox holds the search registry in force: the R4 core parameters
// plus the custom ones activated by the last completed $reindex.
type registryBox struct{ search.Registry }

func (s *Server) registry() search.Registry {
	if b := s.reg.Load(); b != nil {
		return b.Registry
	}
	return search.R4
}

// reindexer is what a store offers $reindex; both stores implement it.
type reindexer interface {
	Reindex(ctx context.Context, typ, id string, version int64, x *resources.Index) (bool, error)
}

// job is one $reindex run, reported at /_jobs/{id}.
type job struct {
	mu        sync.Mutex
	ID        string            `json:"id"`
	Status    string            `json:"status"` // running, completed, failed
	Types     []string          `json:"types,omitempty"`
	Total     int64             `json:"total"`
	Processed int64             `json:"processed"`
	Started   string            `json:"started"`
	Finished  string            `json:"finished,omitempty"`
	Params    []string          `json:"activatedParameters,omitempty"`
	Rejected  map[string]string `json:"rejectedParameters,omitempty"`
	Error     string            `json:"error,omitempty"`
}

type jobs struct {
	mu   sync.Mutex
	byID map[string]*job
}

// customParams reads the active SearchParameter resources and returns the
// ones that can be indexed, and the reasons for the others, by URL or id.
func (s *Server) customParams(ctx context.Context) ([]index.Custom, map[string]string, error) {
	st, ok := s.cfg.Store.(searcher)
	if !ok {
		return nil, nil, fmt.Errorf("the store cannot search")
	}
	q, err := search.Parse(search.R4, "SearchParameter", url.Values{"status": {"active"}, "_count": {"1000"}}, search.Options{})
	if err != nil {
		return nil, nil, err
	}
	var out []index.Custom
	rejected := map[string]string{}
	for {
		page, err := st.Search(ctx, q)
		if err != nil {
			return nil, nil, err
		}
		for _, r := range page.Matches {
			var sp struct {
				URL, Code, Type, Expression string
				Base, Target                []string
			}
			if err := json.Unmarshal(r.Data, &sp); err != nil {
				continue
			}
			c := index.Custom{Code: sp.Code, Type: sp.Type, Base: sp.Base, Expression: sp.Expression, Targets: sp.Target}
			if err := index.CheckCustom(c); err != nil {
				rejected["SearchParameter/"+r.ID] = err.Error()
				continue
			}
			out = append(out, c)
		}
		if page.Next == "" {
			return out, rejected, nil
		}
		q.Cursor = page.Next
	}
}

// activate makes custom parameters searchable.
func (s *Server) activate(cs []index.Custom) {
	defs := map[string][]search.ParamDef{}
	for _, t := range resources.ResourceTypes() {
		for _, c := range cs {
			if index.AppliesTo(c.Base, t) {
				defs[t] = append(defs[t], search.ParamDef{Code: c.Code, Type: c.Type, Targets: c.Targets})
			}
		}
	}
	s.reg.Store(&registryBox{search.WithCustom(search.R4, defs)})
}

// LoadCustomParams activates the active SearchParameter resources at start:
// their entries were written by earlier $reindex runs and by every write
// since.
func (s *Server) LoadCustomParams(ctx context.Context) error {
	cs, rejected, err := s.customParams(ctx)
	if err != nil {
		return err
	}
	for id, why := range rejected {
		s.log.Warn("SearchParameter not used", "resource", id, "reason", why)
	}
	s.indexer.SetCustom(cs)
	s.activate(cs)
	return nil
}

// StartReindex implements operations.Reindexer.
func (s *Server) StartReindex(ctx context.Context, types []string) (string, error) {
	rx, ok := s.cfg.Store.(reindexer)
	st, ok2 := s.cfg.Store.(searcher)
	if !ok || !ok2 {
		return "", errorf(http.StatusNotImplemented, "not-supported", "this store cannot reindex")
	}
	cs, rejected, err := s.customParams(ctx)
	if err != nil {
		return "", err
	}
	if len(types) == 0 {
		types = resources.ResourceTypes()
	}
	j := &job{ID: uuid.NewString(), Status: "running", Types: types, Started: resources.FormatInstant(time.Now()), Rejected: rejected}
	for _, c := range cs {
		j.Params = append(j.Params, c.Code)
	}
	sort.Strings(j.Params)
	s.jobs.mu.Lock()
	s.jobs.byID[j.ID] = j
	s.jobs.mu.Unlock()
	// New writes index the new parameters from now on; the job covers the
	// resources written before.
	s.indexer.SetCustom(cs)
	go s.runReindex(context.WithoutCancel(ctx), j, st, rx, cs)
	return "/_jobs/" + j.ID, nil
}

func (s *Server) runReindex(ctx context.Context, j *job, st searcher, rx reindexer, cs []index.Custom) {
	fail := func(err error) {
		j.mu.Lock()
		j.Status, j.Error, j.Finished = "failed", err.Error(), resources.FormatInstant(time.Now())
		j.mu.Unlock()
		s.log.Error("reindex failed", "job", j.ID, "err", err)
	}
	var total int64
	for _, t := range j.Types {
		page, err := st.Search(ctx, &search.Query{Type: t, Summary: "count"})
		if err != nil {
			fail(err)
			return
		}
		total += page.Total
	}
	j.mu.Lock()
	j.Total = total
	j.mu.Unlock()
	var done atomic.Int64
	for _, t := range j.Types {
		q := &search.Query{Type: t, Count: 500}
		for {
			page, err := st.Search(ctx, q)
			if err != nil {
				fail(err)
				return
			}
			for _, r := range page.Matches {
				x, err := s.indexer.Extract(r.Type, r.Data)
				if err != nil && x == nil {
					fail(err)
					return
				}
				if _, err := rx.Reindex(ctx, r.Type, r.ID, r.VersionID, x); err != nil {
					fail(err)
					return
				}
				n := done.Add(1)
				j.mu.Lock()
				j.Processed = n
				j.mu.Unlock()
			}
			if page.Next == "" {
				break
			}
			q.Cursor = page.Next
		}
	}
	s.activate(cs)
	j.mu.Lock()
	j.Status, j.Finished = "completed", resources.FormatInstant(time.Now())
	j.mu.Unlock()
	s.log.Info("reindex completed", "job", j.ID, "resources", done.Load())
}

// jobStatus serves GET /_jobs/{id}: 202 while running, 200 when done, with
// the job's progress as JSON.
func (s *Server) jobStatus(w http.ResponseWriter, r *http.Request) (*response, error) {
	s.jobs.mu.Lock()
	j, ok := s.jobs.byID[chi.URLParam(r, "id")]
	s.jobs.mu.Unlock()
	if !ok {
		return nil, errorf(http.StatusNotFound, "not-found", "no such job on this server")
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	body, err := json.Marshal(j)
	status := http.StatusOK
	if j.Status == "running" {
		status = http.StatusAccepted
	}
	return &response{status: status, body: body}, err
}
