package postgres

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/search"
)

const sqlExists = `SELECT EXISTS (SELECT 1 FROM resources WHERE type = $1 AND id = $2)`

// history lists versions newest first with keyset paging on
// (last_updated, seq). The query text depends only on which filters are
// present, so each shape is prepared once per connection.
func (o *ops) history(ctx context.Context, p resources.HistoryParams) (resources.HistoryPage, error) {
	if p.Type == search.AuditType {
		return engine.AuditHistory(ctx, o, p)
	}
	cur, count, err := resources.PageOf(p)
	if err != nil {
		return resources.HistoryPage{}, err
	}

	var sb strings.Builder
	args := make([]any, 0, 8)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	sep := "\nWHERE "
	and := func(cond string) {
		sb.WriteString(sep)
		sb.WriteString(cond)
		sep = "\n  AND "
	}
	sb.WriteString(`SELECT h.seq, h.type, h.id, h.version, h.last_updated, h.method, h.deleted, h.data, h.labels
FROM resource_history h`)
	if p.Type != "" || p.ID != "" {
		and("h.type = " + arg(p.Type))
	}
	if p.ID != "" {
		and("h.id = " + arg(p.ID))
	}
	if !p.Since.IsZero() {
		and("h.last_updated >= " + arg(ceilMicros(p.Since)))
	}
	if !p.AtEnd.IsZero() {
		and("h.last_updated <= " + arg(p.AtEnd.UnixMicro()))
	}
	if !p.AtStart.IsZero() {
		// A version is current at AtStart or later unless a later version
		// of the same resource had already replaced it by AtStart.
		and(`NOT EXISTS (SELECT 1 FROM resource_history l
	WHERE l.type = h.type AND l.id = h.id AND l.version > h.version AND l.last_updated <= ` +
			arg(p.AtStart.UnixMicro()) + ")")
	}
	if p.Cursor != "" {
		and("(h.last_updated, h.seq) < (" + arg(cur.Micros) + ", " + arg(cur.Seq) + ")")
	}
	scoped := search.ScopeFrom(ctx) != nil
	if scoped {
		// The resource, as it is now, must be within the caller's scope.
		cond, all, err := engine.Condition(ctx, args, "r", p.Type, false)
		if err != nil {
			return resources.HistoryPage{}, err
		}
		args = all
		if cond != "" {
			and("EXISTS (SELECT 1 FROM resources r WHERE r.type = h.type AND r.id = h.id AND " + cond + ")")
		}
	}
	if cond, all := engine.Unlabelled(args, "h", p.ExcludeLabels); cond != "" {
		args = all
		and(cond)
	}
	// Each version, too, must have been in the caller's compartment.
	if cond, all := engine.VersionScope(ctx, args, "h", p.Type); cond != "" {
		args = all
		and(cond)
	}
	sb.WriteString("\nORDER BY h.last_updated DESC, h.seq DESC LIMIT ")
	sb.WriteString(arg(count + 1))

	rows, err := o.q.Query(ctx, sb.String(), args...)
	if err != nil {
		return resources.HistoryPage{}, wrap(ctx, "history", err)
	}
	defer rows.Close()
	var page resources.HistoryPage
	var last resources.Cursor
	for rows.Next() {
		if len(page.Entries) == count {
			page.Next = resources.EncodeCursor(last)
			break
		}
		var r resources.Resource
		var labels string
		if err := rows.Scan(&last.Seq, &r.Type, &r.ID, &r.VersionID, &last.Micros, &r.Method, &r.Deleted, &r.Data, &labels); err != nil {
			return resources.HistoryPage{}, wrap(ctx, "history", err)
		}
		r.LastUpdated = time.UnixMicro(last.Micros).UTC()
		if r.Deleted {
			r.Data, r.Labels = nil, labels
		}
		page.Entries = append(page.Entries, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return resources.HistoryPage{}, wrap(ctx, "history", err)
	}
	// An instance with rows has history; only an empty page needs to check
	// that the resource exists at all.
	if p.ID != "" && len(page.Entries) == 0 && scoped {
		if _, err := engine.Read(ctx, o, p.Type, p.ID); err != nil && !errors.Is(err, resources.ErrGone) {
			return resources.HistoryPage{}, err
		}
	} else if p.ID != "" && len(page.Entries) == 0 {
		var exists bool
		if err := o.q.QueryRow(ctx, sqlExists, p.Type, p.ID).Scan(&exists); err != nil {
			return resources.HistoryPage{}, wrap(ctx, "history", err)
		}
		if !exists {
			return resources.HistoryPage{}, resources.ErrNotFound
		}
	}
	return page, nil
}

// ceilMicros is the first whole microsecond at or after t, so that
// "last_updated >= t" keeps exactly the versions stored at or after t.
// (UnixMicro rounds down, which is already exact for the "<=" bounds.)
func ceilMicros(t time.Time) int64 {
	m := t.UnixMicro()
	if t.Nanosecond()%1000 != 0 {
		m++
	}
	return m
}
