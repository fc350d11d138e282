package search

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// maxIterations bounds :iterate rounds.
const maxIterations = 4

// includes loads the _include and _revinclude resources of a page:
// first for the matches, then, for :iterate ones, for what was included,
// until nothing new comes or the bounds are reached.
func (e Engine) includes(ctx context.Context, ex Executor, q *Query, matches []resources.Resource) ([]resources.Resource, error) {
	if len(q.Includes) == 0 && len(q.RevIncludes) == 0 || len(matches) == 0 {
		return nil, nil
	}
	seen := map[string]bool{}
	for _, m := range matches {
		seen[m.Type+"/"+m.ID] = true
	}
	var out []resources.Resource
	frontier := matches
	for round := 0; round < maxIterations && len(frontier) > 0 && len(out) < maxIncluded; round++ {
		var next []resources.Resource
		add := func(r resources.Resource) {
			key := r.Type + "/" + r.ID
			if !seen[key] && len(out) < maxIncluded {
				seen[key] = true
				out = append(out, r)
				next = append(next, r)
			}
		}
		for _, inc := range q.Includes {
			if round > 0 && !inc.Iterate {
				continue
			}
			if err := e.include(ctx, ex, inc, frontier, add); err != nil {
				return nil, err
			}
		}
		for _, inc := range q.RevIncludes {
			if round > 0 && !inc.Iterate {
				continue
			}
			if err := e.revinclude(ctx, ex, inc, frontier, add); err != nil {
				return nil, err
			}
		}
		frontier = next
	}
	return out, nil
}

// idsOf returns the ids of the resources of type typ.
func idsOf(rs []resources.Resource, typ string) []string {
	var ids []string
	for _, r := range rs {
		if r.Type == typ {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

func (b *builder) list(vals []string) string {
	ps := make([]string, len(vals))
	for i, v := range vals {
		ps[i] = b.arg(v)
	}
	return strings.Join(ps, ", ")
}

// include: the resources that resources of inc.Source in from refer to.
func (e Engine) include(ctx context.Context, ex Executor, inc Include, from []resources.Resource, add func(resources.Resource)) error {
	if inc.Source == AuditType {
		return e.auditInclude(ctx, ex, inc, from, add)
	}
	ids := idsOf(from, inc.Source)
	if len(ids) == 0 {
		return nil
	}
	b := e.scoped(ctx)
	cond := fmt.Sprintf("s.type = %s AND s.id IN (%s)", b.arg(inc.Source), b.list(ids))
	if !inc.Wildcard {
		cond += " AND x.param = " + b.arg(inc.Param.Code)
	}
	if inc.Target != "" {
		cond += " AND x.target_type = " + b.arg(inc.Target)
	}
	if inc.Types != nil {
		if len(inc.Types) == 0 {
			return nil
		}
		cond += fmt.Sprintf(" AND t.type IN (%s)", b.list(inc.Types))
	}
	cond, err := b.andConfined(cond, "t", inc.Target)
	if err != nil {
		return err
	}
	sql := fmt.Sprintf(`SELECT DISTINCT t.type, t.id, t.version, t.last_updated, t.data
FROM resources s JOIN idx_reference x ON x.rid = s.rid
JOIN resources t ON t.type = x.target_type AND t.id = x.target_id
WHERE %s AND t.deleted = %s`, cond, b.d.False)
	return e.collect(ctx, ex, sql, b.args, add)
}

// revinclude: the resources of inc.Source that refer to resources in from.
func (e Engine) revinclude(ctx context.Context, ex Executor, inc Include, from []resources.Resource, add func(resources.Resource)) error {
	byType := map[string][]string{}
	for _, r := range from {
		if inc.Target == "" || inc.Target == r.Type {
			byType[r.Type] = append(byType[r.Type], r.ID)
		}
	}
	for typ, ids := range byType {
		if inc.Source == AuditType {
			if err := e.auditRevinclude(ctx, ex, inc, typ, ids, add); err != nil {
				return err
			}
			continue
		}
		b := e.scoped(ctx)
		cond := fmt.Sprintf("x.res_type = %s AND x.target_type = %s AND x.target_id IN (%s)", b.arg(inc.Source), b.arg(typ), b.list(ids))
		if !inc.Wildcard {
			cond += " AND x.param = " + b.arg(inc.Param.Code)
		}
		cond, err := b.andConfined(cond, "s", inc.Source)
		if err != nil {
			return err
		}
		sql := fmt.Sprintf(`SELECT DISTINCT s.type, s.id, s.version, s.last_updated, s.data
FROM idx_reference x JOIN resources s ON s.rid = x.rid
WHERE %s AND s.deleted = %s`, cond, b.d.False)
		if err := e.collect(ctx, ex, sql, b.args, add); err != nil {
			return err
		}
	}
	return nil
}

func (e Engine) collect(ctx context.Context, ex Executor, sql string, args []any, add func(resources.Resource)) error {
	return ex.Each(ctx, sql, args, func(scan func(...any) error) error {
		var r resources.Resource
		var micros int64
		if err := scan(&r.Type, &r.ID, &r.VersionID, &micros, &r.Data); err != nil {
			return err
		}
		r.LastUpdated = time.UnixMicro(micros).UTC()
		add(r)
		return nil
	})
}
