package server

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/search"
	"github.com/meizhou-yiyang/yiyang/server/auth"
)

// txSearcher is what conditional operations need from a transaction: a
// search that sees the transaction's writes, and a lock that serialises
// transactions deciding on the same criteria. Both stores' transactions
// implement it.
type txSearcher interface {
	Search(ctx context.Context, q *search.Query) (search.Page, error)
	Lock(ctx context.Context, key string) error
}

// inTx runs fn in the bundle's transaction when there is one, else in a new one.
func (s *Server) inTx(ctx context.Context, fn func(ctx context.Context, tx resources.Ops) error) error {
	if tx, ok := ctx.Value(txKey).(resources.Ops); ok {
		return fn(ctx, tx)
	}
	return s.store.WithTx(ctx, func(ctx context.Context, tx resources.Ops) error {
		return fn(context.WithValue(ctx, txKey, tx), tx)
	})
}

// match returns the current resources of typ matching a conditional query
// (at most two: more than one is already an error for every caller). The
// lock makes concurrent conditional operations with the same criteria run
// one after the other, so two creates cannot both find nothing. What the
// criteria reach beyond typ (chains, _has) is held to the caller's scopes
// and roles, as in any search (authorizeReach), and nothing is learnt
// through sensitive resources the caller may not see; the matches
// themselves may be sensitive (the write's label check then refuses it)
// unless lookup is set, for conditional references: those are searches of
// typ, which the caller must be allowed (else whether one matches would tell
// what those resources hold), and see only what the caller may. r is the
// request.
func (s *Server) match(ctx context.Context, r *http.Request, tx resources.Ops, typ, query, where string, lookup bool) ([]resources.Resource, error) {
	vals, err := url.ParseQuery(query)
	if err != nil {
		return nil, errorAt(http.StatusBadRequest, "value", where, "the condition %q is not a query string: %v", query, err)
	}
	q, err := search.Parse(s.registry(), typ, vals, search.Options{})
	if err != nil {
		return nil, err
	}
	if len(q.Filters) == 0 {
		return nil, errorAt(http.StatusBadRequest, "required", where, "a conditional operation needs search criteria")
	}
	if lookup {
		if p, ok := auth.FromContext(ctx); ok && s.cfg.Auth != nil && !s.maySearch(r.WithContext(ctx), p, typ) {
			return nil, forbidden("the conditional reference %s?%s at %s searches %s resources, which this token or role may not search", typ, query, where, typ)
		}
	}
	if err := s.authorizeReach(r.WithContext(ctx), q); err != nil {
		return nil, err
	}
	if lookup {
		q.ExcludeLabels = s.hiddenLabels(r)
	} else {
		q.ExcludeReached = s.hiddenLabels(r)
	}
	if err := s.resolveTerms(ctx, q); err != nil {
		return nil, err
	}
	ts, ok := tx.(txSearcher)
	if !ok {
		return nil, errorf(http.StatusNotImplemented, "not-supported", "this store cannot run conditional operations")
	}
	if err := ts.Lock(ctx, typ+"?"+canonicalQuery(vals)); err != nil {
		return nil, err
	}
	q.Count = 2
	page, err := ts.Search(ctx, q)
	return page.Matches, err
}

// canonicalQuery orders a query so that equal criteria share a lock.
func canonicalQuery(v url.Values) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		vs := append([]string(nil), v[k]...)
		sort.Strings(vs)
		for _, x := range vs {
			b.WriteString(k + "=" + x + "&")
		}
	}
	return b.String()
}

var errMultiple = errorf(http.StatusPreconditionFailed, "multiple-matches", "the condition matches more than one resource")

// conditionalCreate is create with If-None-Exist: 201 when nothing matches,
// 200 with the match when one does, 412 when several do.
func (s *Server) conditionalCreate(r *http.Request, typ string, p resources.Parsed, cond string) (*response, error) {
	var res resources.Resource
	var existed bool
	if err := s.checkLabels(r, "create", &resources.Resource{Type: typ, Data: p.JSON}); err != nil {
		return nil, err
	}
	err := s.inTx(r.Context(), func(ctx context.Context, tx resources.Ops) error {
		found, err := s.match(ctx, r, tx, typ, cond, "If-None-Exist", false)
		if err != nil {
			return err
		}
		switch len(found) {
		case 0:
			res, err = tx.Create(ctx, resources.CreateParams{Type: typ, ID: preassigned(r), Data: p.JSON, Index: s.index(ctx, typ, p.JSON)})
			return err
		case 1:
			// The match is returned: a labelled one only to whom may read it.
			res, existed = found[0], true
			return s.checkLabels(r, "read", &res)
		}
		return errMultiple
	})
	if err != nil {
		return nil, err
	}
	if existed {
		return &response{status: http.StatusOK, resource: &res, location: true, prefer: true}, nil
	}
	return &response{status: http.StatusCreated, resource: &res, location: true, prefer: true}, nil
}

// conditionalUpdate serves PUT /{type}?criteria: create when nothing
// matches, update the match when one does, 412 when several do.
func (s *Server) conditionalUpdate(w http.ResponseWriter, r *http.Request) (*response, error) {
	typ, err := pathType(r)
	if err != nil {
		return nil, err
	}
	if err := immutable(r, typ); err != nil {
		return nil, err
	}
	match, err := ifMatch(r)
	if err != nil {
		return nil, err
	}
	p, err := s.parseResource(r, typ)
	if err != nil {
		return nil, err
	}
	if err := s.checkLabels(r, "update", &resources.Resource{Type: typ, Data: p.JSON}); err != nil {
		return nil, err
	}
	var res resources.Resource
	var created bool
	err = s.inTx(r.Context(), func(ctx context.Context, tx resources.Ops) error {
		found, err := s.match(ctx, r, tx, typ, r.URL.RawQuery, "url", false)
		if err != nil {
			return err
		}
		id := p.ID
		switch len(found) {
		case 0:
			if id == "" {
				id = preassigned(r)
			}
			if id == "" {
				res, err = tx.Create(ctx, resources.CreateParams{Type: typ, Data: p.JSON, Index: s.index(ctx, typ, p.JSON)})
				created = true
				return err
			}
		case 1:
			if id != "" && id != found[0].ID {
				return errorAt(http.StatusBadRequest, "invalid", typ+".id", "the body's id %q differs from the matching resource's %q", id, found[0].ID)
			}
			id = found[0].ID
		default:
			return errMultiple
		}
		res, created, err = tx.Update(ctx, resources.UpdateParams{Type: typ, ID: id, Data: p.JSON, IfMatch: match, Index: s.index(ctx, typ, p.JSON),
			Guard: s.labelGuard(r, "update", typ)})
		return err
	})
	if err != nil {
		return nil, err
	}
	return written(&res, created), nil
}

// conditionalDelete serves DELETE /{type}?criteria: deletes the one match;
// nothing matching is a success, several matches are 412.
func (s *Server) conditionalDelete(w http.ResponseWriter, r *http.Request) (*response, error) {
	typ, err := pathType(r)
	if err != nil {
		return nil, err
	}
	if err := immutable(r, typ); err != nil {
		return nil, err
	}
	var res *resources.Resource
	err = s.inTx(r.Context(), func(ctx context.Context, tx resources.Ops) error {
		found, err := s.match(ctx, r, tx, typ, r.URL.RawQuery, "url", false)
		switch {
		case err != nil:
			return err
		case len(found) > 1:
			return errMultiple
		case len(found) == 0:
			return nil
		}
		d, err := tx.Delete(ctx, resources.DeleteParams{Type: typ, ID: found[0].ID, Guard: s.labelGuard(r, "delete", typ)})
		res = &d
		return err
	})
	if err != nil {
		return nil, err
	}
	if res == nil {
		return deleted(r, nil, "nothing matches the condition; nothing to delete"), nil
	}
	return deleted(r, res, typ+"/"+res.ID+" deleted"), nil
}

// resolveConditionalRefs replaces references of the form Type?criteria in
// a transaction entry's resource by the one resource they match (a lookup:
// see match).
func (s *Server) resolveConditionalRefs(ctx context.Context, r *http.Request, tx resources.Ops, body []byte, at string) ([]byte, error) {
	const marker = `"reference":"`
	rest := body
	var out []byte
	for {
		i := strings.Index(string(rest), marker)
		if i < 0 {
			break
		}
		start := i + len(marker)
		end := strings.IndexByte(string(rest[start:]), '"')
		if end < 0 {
			break
		}
		ref := string(rest[start : start+end])
		typ, query, ok := strings.Cut(ref, "?")
		if !ok || !resources.IsResourceType(typ) {
			out = append(out, rest[:start+end]...)
			rest = rest[start+end:]
			continue
		}
		query = strings.ReplaceAll(query, `\u0026`, "&")
		found, err := s.match(ctx, r, tx, typ, query, at, true)
		if err != nil {
			return nil, err
		}
		switch len(found) {
		case 0:
			return nil, errorAt(http.StatusBadRequest, "not-found", at, "the conditional reference %q matches no resource", ref)
		case 1:
		default:
			return nil, errorAt(http.StatusPreconditionFailed, "multiple-matches", at, "the conditional reference %q matches more than one resource", ref)
		}
		out = append(out, rest[:start]...)
		out = append(out, typ+"/"+found[0].ID...)
		rest = rest[start+end:]
	}
	if out == nil {
		return body, nil
	}
	return append(out, rest...), nil
}
