package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/search"
)

// statements are prepared once per pool: SQLite's prepare is a large part
// of a cheap statement's cost.
type statements struct {
	insert, history, read, vread, current, upsert, remove *sql.Stmt
	auditInsert, auditRef                                 *sql.Stmt
}

func prepare(ctx context.Context, db *sql.DB) (*statements, error) {
	var st statements
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&st.insert, `INSERT INTO resources (type, id, version, last_updated, deleted, data, labels, patients)
			VALUES (?1, ?2, 1, ?3, 0, ?4, ?5, ?6) ON CONFLICT DO NOTHING RETURNING rid`},
		{&st.history, `INSERT INTO resource_history (type, id, version, last_updated, method, deleted, data, labels, patients)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)`},
		{&st.read, `SELECT version, last_updated, deleted, data, patients FROM resources WHERE type = ?1 AND id = ?2`},
		{&st.vread, `SELECT last_updated, deleted, method, data, patients FROM resource_history WHERE type = ?1 AND id = ?2 AND version = ?3`},
		{&st.current, `SELECT version, last_updated, deleted, labels, patients FROM resources WHERE type = ?1 AND id = ?2`},
		{&st.upsert, `INSERT INTO resources (type, id, version, last_updated, deleted, data, labels, patients) VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, ?7)
			ON CONFLICT (type, id) DO UPDATE SET version = excluded.version, last_updated = excluded.last_updated,
				deleted = 0, data = excluded.data, labels = excluded.labels, patients = excluded.patients RETURNING rid`},
		{&st.remove, `UPDATE resources SET version = ?3, last_updated = ?4, deleted = 1, data = NULL WHERE type = ?1 AND id = ?2 RETURNING rid`},
		{&st.auditInsert, `INSERT INTO audit_event (id, recorded, last_updated, outcome, action, terms, refs, data)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING RETURNING seq`},
		{&st.auditRef, `INSERT INTO audit_ref (seq, roles, target_type, target_id, url) VALUES (?1, ?2, ?3, ?4, ?5)`},
	} {
		s, err := db.PrepareContext(ctx, p.sql)
		if err != nil {
			st.close()
			return nil, fmt.Errorf("sqlite: prepare: %w", err)
		}
		*p.dst = s
	}
	return &st, nil
}

func (st *statements) close() {
	for _, s := range []*sql.Stmt{st.insert, st.history, st.read, st.vread, st.current, st.upsert, st.remove, st.auditInsert, st.auditRef} {
		if s != nil {
			s.Close()
		}
	}
}

// ops runs the interactions with prepared statements: the reader pool's
// outside a transaction, the writer's bound to tx inside one.
type ops struct {
	tx  *sql.Tx
	db  *sql.DB // the reader pool, outside a transaction
	st  *statements
	idx *indexStatements // writer's; set inside a transaction
}

// stmt binds a prepared statement to the transaction, if any.
func (o ops) stmt(ctx context.Context, s *sql.Stmt) *sql.Stmt {
	if o.tx != nil {
		return o.tx.StmtContext(ctx, s)
	}
	return s
}

// newResource assigns id and time to a create and stamps its JSON; it needs
// no database, so it runs before the write transaction begins.
func newResource(p resources.CreateParams) (resources.Resource, error) {
	if err := search.CheckAuditID(p); err != nil {
		return resources.Resource{}, err
	}
	id := p.ID
	if search.LogAssigned(p) {
		// The audit log here gives every event an id of its own, kept in
		// the caller's row for a retry (search.LogAssigned).
		if p.Audit.ID == "" {
			p.Audit.ID = newID()
		}
		id = p.Audit.ID
	} else if id == "" {
		id = newID()
	}
	if r, ok := p.PreStamped(id); ok {
		return r, nil
	}
	micros := resources.NextMicros(time.Now(), 0)
	r := resources.Resource{Type: p.Type, ID: id, VersionID: 1, LastUpdated: time.UnixMicro(micros).UTC(), Method: "POST"}
	data, err := resources.Stamp(p.Data, id, 1, r.LastUpdated)
	r.Data = data
	return r, err
}

func (o ops) Create(ctx context.Context, p resources.CreateParams) (resources.Resource, error) {
	r, err := newResource(p)
	if err != nil {
		return resources.Resource{}, err
	}
	return o.create(ctx, r, p)
}

// create writes r, the new resource p makes.
func (o ops) create(ctx context.Context, r resources.Resource, p resources.CreateParams) (resources.Resource, error) {
	if p.Type == search.AuditType && p.Audit != nil {
		// The caller built the event's row (resources.CreateParams.Audit).
		if err := search.Admits(ctx, r.Type, r.ID, p.Index); err != nil {
			return resources.Resource{}, err
		}
		return r, o.insertAudit(ctx, search.AuditRowFor(r, p))
	}
	return o.insert(ctx, r, p.Index)
}

// CreateMany creates the resources one after the other
// (resources.BatchCreator): SQLite has no round trips to save.
func (o ops) CreateMany(ctx context.Context, ps []resources.CreateParams) ([]resources.Resource, error) {
	out := make([]resources.Resource, len(ps))
	for i, p := range ps {
		r, err := o.Create(ctx, p)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

// insert writes a stamped new resource and its index entries.
func (o ops) insert(ctx context.Context, r resources.Resource, idx *resources.Index) (resources.Resource, error) {
	if err := search.Admits(ctx, r.Type, r.ID, idx); err != nil {
		return resources.Resource{}, err
	}
	if r.Type == search.AuditType {
		return r, o.insertAudit(ctx, search.AuditRowOf(r, idx))
	}
	data := r.Data
	var rid int64
	labels := idx.SecurityLabels()
	r.Patients = search.PatientsOf(r.Type, r.ID, idx)
	err := o.stmt(ctx, o.st.insert).QueryRowContext(ctx, r.Type, r.ID, r.LastUpdated.UnixMicro(), data, labels, r.Patients).Scan(&rid)
	if errors.Is(err, sql.ErrNoRows) {
		return resources.Resource{}, resources.ErrVersionConflict
	}
	if err != nil {
		return resources.Resource{}, wrap("create", err)
	}
	if err := o.history(ctx, r, data, labels, r.Patients); err != nil {
		return resources.Resource{}, err
	}
	return r, o.writeIndex(ctx, rid, r.Type, idx, false)
}

// insertAudit writes an AuditEvent into the audit log
// (resources/search/audit.go).
func (o ops) insertAudit(ctx context.Context, row search.AuditRow) error {
	var seq int64
	err := o.stmt(ctx, o.st.auditInsert).QueryRowContext(ctx, row.ID, row.Recorded, row.LastUpdated, row.Outcome, row.Action,
		row.Terms, row.Packed, row.Data).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return resources.ErrVersionConflict
	}
	if err != nil {
		return wrap("create", err)
	}
	ref := o.stmt(ctx, o.st.auditRef)
	for _, x := range row.Refs {
		if _, err := ref.ExecContext(ctx, seq, x.Roles, x.TargetType, x.TargetID, x.URL); err != nil {
			return wrap("create", err)
		}
	}
	return nil
}

// history records a version with its security labels
// (resources.Index.SecurityLabels) and patients (search.PatientsOf); a
// deletion, those of the version it removes.
func (o ops) history(ctx context.Context, r resources.Resource, data []byte, labels, patients string) error {
	_, err := o.stmt(ctx, o.st.history).ExecContext(ctx, r.Type, r.ID, r.VersionID, r.LastUpdated.UnixMicro(), r.Method, r.Deleted, data, labels, patients)
	return wrap("write history", err)
}

func (o ops) Read(ctx context.Context, typ, id string) (resources.Resource, error) {
	if typ == search.AuditType || search.ScopeFrom(ctx).Limits(typ, false) {
		return engine.Read(ctx, o, typ, id)
	}
	r := resources.Resource{Type: typ, ID: id}
	var micros int64
	err := o.stmt(ctx, o.st.read).QueryRowContext(ctx, typ, id).Scan(&r.VersionID, &micros, &r.Deleted, &r.Data, &r.Patients)
	return finish(r, micros, err, "read")
}

func (o ops) VRead(ctx context.Context, typ, id string, version int64) (resources.Resource, error) {
	if typ == search.AuditType || search.ScopeFrom(ctx).Limits(typ, false) {
		return engine.VRead(ctx, o, typ, id, version)
	}
	r := resources.Resource{Type: typ, ID: id, VersionID: version}
	var micros int64
	err := o.stmt(ctx, o.st.vread).QueryRowContext(ctx, typ, id, version).Scan(&micros, &r.Deleted, &r.Method, &r.Data, &r.Patients)
	return finish(r, micros, err, "vread")
}

// finish completes a scanned row into the contract's result and error.
func finish(r resources.Resource, micros int64, err error, op string) (resources.Resource, error) {
	if errors.Is(err, sql.ErrNoRows) {
		return resources.Resource{}, resources.ErrNotFound
	}
	if err != nil {
		return resources.Resource{}, wrap(op, err)
	}
	r.LastUpdated = time.UnixMicro(micros).UTC()
	if r.Deleted {
		r.Method, r.Data = "DELETE", nil
		return r, resources.ErrGone
	}
	return r, nil
}

// current is the current version row of a resource: its version,
// lastUpdated, whether it is deleted, its labels and its patients
// (search.PatientsOf; a deletion keeps those of the version it removes).
type current struct {
	found, deleted   bool
	version, micros  int64
	labels, patients string
}

// current reads the current version row of a resource (found is false
// when there is none).
func (o ops) current(ctx context.Context, typ, id string) (current, error) {
	var c current
	err := o.stmt(ctx, o.st.current).QueryRowContext(ctx, typ, id).Scan(&c.version, &c.micros, &c.deleted, &c.labels, &c.patients)
	if errors.Is(err, sql.ErrNoRows) {
		return current{}, nil
	}
	c.found = err == nil
	return c, wrap("lock", err)
}

// guard applies a write's LabelGuard to the current version, when there is
// one that is not deleted. Writes are serialised: nothing changes the
// labels between this and the write.
func guard(g resources.LabelGuard, cur current) error {
	if g == nil || !cur.found || cur.deleted {
		return nil
	}
	return g(cur.labels)
}

func (o ops) Update(ctx context.Context, p resources.UpdateParams) (resources.Resource, bool, error) {
	if err := search.AuditImmutable(p.Type); err != nil {
		return resources.Resource{}, false, err
	}
	cur, err := o.current(ctx, p.Type, p.ID)
	if err != nil {
		return resources.Resource{}, false, err
	}
	// The caller's scope is judged first, then the labels, then the
	// version: outside the scope, whether a resource exists, what it is
	// labelled and its version are none of the caller's business.
	if err := o.admit(ctx, p.Type, p.ID, cur.found, p.Index); err != nil {
		return resources.Resource{}, false, err
	}
	if err := guard(p.Guard, cur); err != nil {
		return resources.Resource{}, false, err
	}
	if p.IfMatch > 0 && (!cur.found || p.IfMatch != cur.version) {
		return resources.Resource{}, false, resources.ErrPreconditionFailed
	}
	method := p.Method
	if method == "" {
		method = "PUT"
	}
	micros := resources.NextMicros(time.Now(), cur.micros)
	r := resources.Resource{Type: p.Type, ID: p.ID, VersionID: cur.version + 1, LastUpdated: time.UnixMicro(micros).UTC(), Method: method}
	data, err := resources.Stamp(p.Data, p.ID, r.VersionID, r.LastUpdated)
	if err != nil {
		return resources.Resource{}, false, err
	}
	var rid int64
	newLabels := p.Index.SecurityLabels()
	r.Patients = search.PatientsOf(r.Type, r.ID, p.Index)
	if err := o.stmt(ctx, o.st.upsert).QueryRowContext(ctx, p.Type, p.ID, r.VersionID, micros, data, newLabels, r.Patients).Scan(&rid); err != nil {
		return resources.Resource{}, false, wrap("update", err)
	}
	if err := o.history(ctx, r, data, newLabels, r.Patients); err != nil {
		return resources.Resource{}, false, err
	}
	if err := o.writeIndex(ctx, rid, p.Type, p.Index, cur.found); err != nil {
		return resources.Resource{}, false, err
	}
	r.Data = data
	return r, !cur.found, nil
}

func (o ops) Delete(ctx context.Context, p resources.DeleteParams) (resources.Resource, error) {
	if err := search.AuditImmutable(p.Type); err != nil {
		return resources.Resource{}, err
	}
	cur, err := o.current(ctx, p.Type, p.ID)
	switch {
	case err != nil:
		return resources.Resource{}, err
	case !cur.found:
		return resources.Resource{}, resources.ErrNotFound
	}
	// Scope, then labels, then version (see Update).
	if ok, err := engine.Permits(ctx, o, p.Type, p.ID, cur.deleted); err != nil {
		return resources.Resource{}, err
	} else if !ok {
		// Outside the caller's scope the resource is as good as absent.
		return resources.Resource{}, resources.ErrNotFound
	}
	if err := guard(p.Guard, cur); err != nil {
		return resources.Resource{}, err
	}
	if p.IfMatch > 0 && p.IfMatch != cur.version {
		return resources.Resource{}, resources.ErrPreconditionFailed
	}
	if cur.deleted {
		return resources.Resource{Type: p.Type, ID: p.ID, VersionID: cur.version, LastUpdated: time.UnixMicro(cur.micros).UTC(),
			Deleted: true, Method: "DELETE"}, nil
	}
	micros := resources.NextMicros(time.Now(), cur.micros)
	r := resources.Resource{Type: p.Type, ID: p.ID, VersionID: cur.version + 1, LastUpdated: time.UnixMicro(micros).UTC(),
		Deleted: true, Method: "DELETE"}
	var rid int64
	if err := o.stmt(ctx, o.st.remove).QueryRowContext(ctx, p.Type, p.ID, r.VersionID, micros).Scan(&rid); err != nil {
		return resources.Resource{}, wrap("delete", err)
	}
	if err := o.writeIndex(ctx, rid, p.Type, nil, true); err != nil {
		return resources.Resource{}, err
	}
	// The deletion is in the compartments of the version it removes
	// (search.VersionScope) and keeps its labels, so that it is hidden as
	// that version was (resources keeps both).
	return r, o.history(ctx, r, nil, cur.labels, cur.patients)
}

// admit checks an update against the caller's scope, in the write
// transaction: the current version (when there is one) and the new one must
// both be within it.
func (o ops) admit(ctx context.Context, typ, id string, found bool, idx *resources.Index) error {
	if search.ScopeFrom(ctx) == nil {
		return nil
	}
	if !found {
		if search.ScopeFrom(ctx).Limits(typ, true) {
			return search.RefuseUpdate(typ, id)
		}
	} else if ok, err := engine.Permits(ctx, o, typ, id, false); err != nil {
		return err
	} else if !ok {
		return search.RefuseUpdate(typ, id)
	}
	return search.Admits(ctx, typ, id, idx)
}

// History lists versions newest first with keyset paging on (last_updated, seq).
func (s *Store) History(ctx context.Context, p resources.HistoryParams) (resources.HistoryPage, error) {
	if p.Type == search.AuditType {
		return engine.AuditHistory(ctx, s, p)
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "?" + strconv.Itoa(len(args))
	}
	if p.Type != "" {
		where = append(where, "h.type = "+arg(p.Type))
	}
	if p.ID != "" {
		where = append(where, "h.id = "+arg(p.ID))
		var found bool
		var err error
		if search.ScopeFrom(ctx) != nil {
			_, err = engine.Read(ctx, s, p.Type, p.ID)
			found = err == nil || errors.Is(err, resources.ErrGone)
			if errors.Is(err, resources.ErrNotFound) || found {
				err = nil
			}
		} else {
			var one int
			var text string
			err = s.rs.current.QueryRowContext(ctx, p.Type, p.ID).Scan(&one, &one, &one, &text, &text)
			found = err == nil
			if errors.Is(err, sql.ErrNoRows) {
				err = nil
			}
		}
		if err != nil {
			return resources.HistoryPage{}, wrap("history", err)
		}
		if !found {
			return resources.HistoryPage{}, resources.ErrNotFound
		}
	}
	cond, args, err := engine.Condition(ctx, args, "r", p.Type, false)
	if err != nil {
		return resources.HistoryPage{}, err
	}
	if cond != "" {
		where = append(where, "EXISTS (SELECT 1 FROM resources r WHERE r.type = h.type AND r.id = h.id AND "+cond+")")
	}
	if cond, all := engine.Unlabelled(args, "h", p.ExcludeLabels); cond != "" {
		args = all
		where = append(where, cond)
	}
	// Each version, too, must have been in the caller's compartment.
	if cond, all := engine.VersionScope(ctx, args, "h", p.Type); cond != "" {
		args = all
		where = append(where, cond)
	}
	if !p.Since.IsZero() {
		where = append(where, "h.last_updated >= "+arg(p.Since.UnixMicro()))
	}
	if !p.AtEnd.IsZero() {
		where = append(where, "h.last_updated <= "+arg(p.AtEnd.UnixMicro()))
	}
	if !p.AtStart.IsZero() {
		where = append(where, `NOT EXISTS (SELECT 1 FROM resource_history l WHERE l.type = h.type AND l.id = h.id
			AND l.version > h.version AND l.last_updated <= `+arg(p.AtStart.UnixMicro())+`)`)
	}
	c, count, err := resources.PageOf(p)
	if err != nil {
		return resources.HistoryPage{}, err
	}
	if p.Cursor != "" {
		where = append(where, "(h.last_updated, h.seq) < ("+arg(c.Micros)+", "+arg(c.Seq)+")")
	}
	q := `SELECT h.seq, h.type, h.id, h.version, h.last_updated, h.method, h.deleted, h.data, h.labels FROM resource_history h`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY h.last_updated DESC, h.seq DESC LIMIT " + arg(count+1)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return resources.HistoryPage{}, wrap("history", err)
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
			return resources.HistoryPage{}, wrap("history", err)
		}
		r.LastUpdated = time.UnixMicro(last.Micros).UTC()
		if r.Deleted {
			r.Labels = labels
		}
		page.Entries = append(page.Entries, r)
	}
	return page, wrap("history", rows.Err())
}
