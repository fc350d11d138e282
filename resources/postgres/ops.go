package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/search"
)

// querier is the part of *pgxpool.Pool and pgx.Tx the interactions use.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// ops implements resources.Ops on q. Outside a transaction q is the pool and
// pool is set, so Update and Delete begin their own transaction; inside
// WithTx q is the caller's transaction, pool is nil and every statement runs
// in it. No statement is expected to fail on conflicts (ON CONFLICT DO
// NOTHING, row locks), so an outer transaction is never left aborted.
type ops struct {
	q    querier
	pool *pgxpool.Pool
}

// Methods recorded in history.
const (
	methodPOST   = "POST"
	methodPUT    = "PUT"
	methodDELETE = "DELETE"
)

// maxCreateRaces bounds how often Update retries after losing the race to
// create a resource; one retry is enough under READ COMMITTED.
const maxCreateRaces = 5

// insertSQL creates version 1, its history row and its index entries in one
// statement; it returns 0 when the id is taken. writeSQL replaces the
// current version (a locked row), records it and replaces its index
// entries. Both take the index arrays of the tables in their mask only.
var (
	insertSQL = statements{build: func(m tableMask) string {
		return `WITH r AS (
	INSERT INTO resources (type, id, version, last_updated, deleted, data, labels, patients)
	VALUES ($1, $2, 1, $3, false, $4, $6, $7)
	ON CONFLICT DO NOTHING
	RETURNING rid),
h AS (INSERT INTO resource_history (type, id, version, last_updated, method, deleted, data, labels, patients)
	SELECT $1, $2, 1, $3, $5::text, false, $4, $6, $7 FROM r)` + indexCTEsFor(8, false, m) + `
SELECT count(*) FROM r`
	}}

	writeSQL = statements{build: func(m tableMask) string {
		return `WITH r AS (
	UPDATE resources SET version = $3, last_updated = $4, deleted = $5, data = $6, labels = $8, patients = $9
	WHERE type = $1 AND id = $2
	RETURNING rid),
h AS (INSERT INTO resource_history (type, id, version, last_updated, method, deleted, data, labels, patients)
	SELECT $1, $2, $3, $4, $7::text, $5, $6, $8, $9 FROM r)` + indexCTEsFor(10, true, m) + `
SELECT count(*) FROM r`
	}}
)

const (
	sqlRead  = `SELECT version, last_updated, deleted, data, patients FROM resources WHERE type = $1 AND id = $2`
	sqlLock  = `SELECT version, last_updated, deleted, labels, patients FROM resources WHERE type = $1 AND id = $2 FOR UPDATE`
	sqlVRead = `SELECT last_updated, deleted, method, data, patients FROM resource_history
WHERE type = $1 AND id = $2 AND version = $3`
)

func (o *ops) Create(ctx context.Context, p resources.CreateParams) (resources.Resource, error) {
	if p.Type == search.AuditType {
		r, err := newCreate(ctx, p)
		if err != nil {
			return resources.Resource{}, err
		}
		var audit auditRows
		audit.add(search.AuditRowFor(r, p), p, 0, 1)
		if err := createAudit(ctx, o.q, audit); err != nil {
			return resources.Resource{}, err
		}
		r.ID = audit.rows[0].AssignedID()
		return r, nil
	}
	id := p.ID
	if id == "" {
		id = uuid.Must(uuid.NewV7()).String()
	}
	if err := search.Admits(ctx, p.Type, id, p.Index); err != nil {
		return resources.Resource{}, err
	}
	r, ok, err := insert(ctx, o.q, p.Type, id, p.Data, p.Index, methodPOST)
	if err != nil {
		return resources.Resource{}, err
	}
	if !ok {
		return resources.Resource{}, resources.ErrVersionConflict
	}
	return r, nil
}

// CreateMany creates the resources in a few round trips: small batches
// pipeline their insert statements, larger ones are copied (COPY FROM) into
// every table (resources.BatchCreator). Outside a transaction they run in one.
func (o *ops) CreateMany(ctx context.Context, ps []resources.CreateParams) ([]resources.Resource, error) {
	if o.pool != nil {
		tx, err := o.pool.BeginTx(ctx, txOptions)
		if err != nil {
			return nil, wrap(ctx, "create", err)
		}
		out, err := (&ops{q: tx}).CreateMany(ctx, ps)
		if err := end(ctx, tx, "create", err); err != nil {
			return nil, err
		}
		return out, nil
	}
	out := make([]resources.Resource, len(ps))
	// AuditEvents go to the audit log, the others to the resources.
	var audit auditRows
	var rest []resources.Resource
	var restIdx []*resources.Index
	for i, p := range ps {
		r, err := newCreate(ctx, p)
		if err != nil {
			return nil, err
		}
		if p.Type != search.AuditType {
			r.Patients = search.PatientsOf(r.Type, r.ID, p.Index)
		}
		out[i] = r
		if p.Type == search.AuditType {
			audit.add(search.AuditRowFor(r, p), p, i, len(ps)-i)
		} else {
			rest, restIdx = append(rest, r), append(restIdx, p.Index)
		}
	}
	if len(audit.rows) > 0 {
		if err := createAudit(ctx, o.q, audit); err != nil {
			return nil, err
		}
		for k, i := range audit.at {
			out[i].ID = audit.rows[k].AssignedID()
		}
	}
	if len(rest) >= minCopyBatch {
		if _, err := copyCreate(ctx, o.q, rest, restIdx); err != nil {
			return nil, err
		}
		return out, nil
	}
	if len(rest) == 0 {
		return out, nil
	}
	batch := &pgx.Batch{}
	for i, r := range rest {
		sql, args := insertStatement(r, restIdx[i])
		batch.Queue(sql, args...)
	}
	br := o.q.SendBatch(ctx, batch)
	for range rest {
		var n int64
		if err := br.QueryRow().Scan(&n); err != nil {
			br.Close()
			return nil, wrap(ctx, "create", err)
		}
		if n == 0 {
			br.Close()
			return nil, resources.ErrVersionConflict
		}
	}
	return out, wrap(ctx, "create", br.Close())
}

// insert writes version 1 of a resource; ok is false when the id is taken.
func insert(ctx context.Context, q querier, typ, id string, data []byte, idx *resources.Index, method string) (resources.Resource, bool, error) {
	r, err := version1(typ, id, data, method)
	if err != nil {
		return resources.Resource{}, false, err
	}
	r.Patients = search.PatientsOf(r.Type, r.ID, idx)
	var n int64
	sql, args := insertStatement(r, idx)
	if err := q.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		return resources.Resource{}, false, wrap(ctx, "create", err)
	}
	if n == 0 {
		return resources.Resource{}, false, nil
	}
	return r, true, nil
}

// newCreate is version 1 of the resource p creates, with its id: p.ID, a
// new one, or for an event whose id the audit log assigns
// (search.LogAssigned) the one an earlier attempt gave it, if any (the
// caller sets it once the log has).
func newCreate(ctx context.Context, p resources.CreateParams) (resources.Resource, error) {
	if err := search.CheckAuditID(p); err != nil {
		return resources.Resource{}, err
	}
	id := p.ID
	if search.LogAssigned(p) {
		id = p.Audit.AssignedID()
	} else if id == "" {
		id = uuid.Must(uuid.NewV7()).String()
	}
	if err := search.Admits(ctx, p.Type, id, p.Index); err != nil {
		return resources.Resource{}, err
	}
	return newVersion(p, id)
}

// newVersion is version 1 of a create, stamped unless it came so.
func newVersion(p resources.CreateParams, id string) (resources.Resource, error) {
	if r, ok := p.PreStamped(id); ok {
		return r, nil
	}
	return version1(p.Type, id, p.Data, methodPOST)
}

// version1 is version 1 of a new resource, stamped.
func version1(typ, id string, data []byte, method string) (resources.Resource, error) {
	lu := time.UnixMicro(resources.NextMicros(time.Now(), 0)).UTC()
	r := resources.Resource{Type: typ, ID: id, VersionID: 1, LastUpdated: lu, Method: method}
	var err error
	r.Data, err = resources.Stamp(data, id, 1, lu)
	return r, err
}

// insertStatement is the statement (insertSQL) and arguments creating r
// (its Patients set: search.PatientsOf of idx).
func insertStatement(r resources.Resource, idx *resources.Index) (string, []any) {
	ia := indexArgs(idx)
	m := maskOf(ia)
	return insertSQL.sql(m), append([]any{r.Type, r.ID, r.LastUpdated.UnixMicro(), r.Data, r.Method, idx.SecurityLabels(),
		r.Patients}, pick(ia, m)...)
}

func (o *ops) Read(ctx context.Context, typ, id string) (resources.Resource, error) {
	if typ == search.AuditType || search.ScopeFrom(ctx).Limits(typ, false) {
		return engine.Read(ctx, o, typ, id)
	}
	r := resources.Resource{Type: typ, ID: id}
	var micros int64
	err := o.q.QueryRow(ctx, sqlRead, typ, id).Scan(&r.VersionID, &micros, &r.Deleted, &r.Data, &r.Patients)
	return scanned(ctx, r, micros, err, "read")
}

func (o *ops) VRead(ctx context.Context, typ, id string, version int64) (resources.Resource, error) {
	if typ == search.AuditType || search.ScopeFrom(ctx).Limits(typ, false) {
		return engine.VRead(ctx, o, typ, id, version)
	}
	r := resources.Resource{Type: typ, ID: id, VersionID: version}
	var micros int64
	err := o.q.QueryRow(ctx, sqlVRead, typ, id, version).Scan(&micros, &r.Deleted, &r.Method, &r.Data, &r.Patients)
	return scanned(ctx, r, micros, err, "vread")
}

// scanned completes a row read by Read or VRead into the contract's result.
func scanned(ctx context.Context, r resources.Resource, micros int64, err error, op string) (resources.Resource, error) {
	if errors.Is(err, pgx.ErrNoRows) {
		return resources.Resource{}, resources.ErrNotFound
	}
	if err != nil {
		return resources.Resource{}, wrap(ctx, op, err)
	}
	r.LastUpdated = time.UnixMicro(micros).UTC()
	if r.Deleted {
		r.Method, r.Data = methodDELETE, nil
		return r, resources.ErrGone
	}
	return r, nil
}

func (o *ops) Update(ctx context.Context, p resources.UpdateParams) (resources.Resource, bool, error) {
	if err := search.AuditImmutable(p.Type); err != nil {
		return resources.Resource{}, false, err
	}
	if o.pool == nil {
		return update(ctx, o.q, p)
	}
	tx, err := o.pool.BeginTx(ctx, txOptions)
	if err != nil {
		return resources.Resource{}, false, wrap(ctx, "update", err)
	}
	r, created, err := update(ctx, tx, p)
	if err := end(ctx, tx, "update", err); err != nil {
		return resources.Resource{}, false, err
	}
	return r, created, nil
}

// update runs an update in the transaction q: lock the current row, then
// write the next version, or create version 1 when there is no row.
func update(ctx context.Context, q querier, p resources.UpdateParams) (resources.Resource, bool, error) {
	method := p.Method
	if method == "" {
		method = methodPUT
	}
	for range maxCreateRaces {
		cur, found, err := lock(ctx, q, p.Type, p.ID, "update")
		if err != nil {
			return resources.Resource{}, false, err
		}
		// The caller's scope is judged first, then the labels, then the
		// version: outside the scope, whether a resource exists, what it
		// is labelled and its version are none of the caller's business.
		if !found {
			if search.ScopeFrom(ctx).Limits(p.Type, true) {
				return resources.Resource{}, false, search.RefuseUpdate(p.Type, p.ID)
			}
			if p.IfMatch > 0 {
				return resources.Resource{}, false, resources.ErrPreconditionFailed
			}
			r, ok, err := insert(ctx, q, p.Type, p.ID, p.Data, p.Index, method)
			if err != nil || ok {
				return r, ok, err
			}
			// A concurrent creator committed first; its row is visible to
			// the next statement, so lock it and update it.
			continue
		}
		if ok, err := engine.Permits(ctx, &ops{q: q}, p.Type, p.ID, false); err != nil {
			return resources.Resource{}, false, err
		} else if !ok {
			return resources.Resource{}, false, search.RefuseUpdate(p.Type, p.ID)
		}
		if err := search.Admits(ctx, p.Type, p.ID, p.Index); err != nil {
			return resources.Resource{}, false, err
		}
		if err := cur.guard(p.Guard); err != nil {
			return resources.Resource{}, false, err
		}
		if p.IfMatch > 0 && p.IfMatch != cur.version {
			return resources.Resource{}, false, resources.ErrPreconditionFailed
		}
		r, err := write(ctx, q, p.Type, p.ID, cur, p.Data, p.Index, method)
		return r, false, err
	}
	return resources.Resource{}, false, fmt.Errorf("postgres: update: %s/%s: lost the race to create it %d times", p.Type, p.ID, maxCreateRaces)
}

func (o *ops) Delete(ctx context.Context, p resources.DeleteParams) (resources.Resource, error) {
	if err := search.AuditImmutable(p.Type); err != nil {
		return resources.Resource{}, err
	}
	if o.pool == nil {
		return remove(ctx, o.q, p)
	}
	tx, err := o.pool.BeginTx(ctx, txOptions)
	if err != nil {
		return resources.Resource{}, wrap(ctx, "delete", err)
	}
	r, err := remove(ctx, tx, p)
	if err := end(ctx, tx, "delete", err); err != nil {
		return resources.Resource{}, err
	}
	return r, nil
}

// remove runs a delete in the transaction q.
func remove(ctx context.Context, q querier, p resources.DeleteParams) (resources.Resource, error) {
	cur, found, err := lock(ctx, q, p.Type, p.ID, "delete")
	switch {
	case err != nil:
		return resources.Resource{}, err
	case !found:
		return resources.Resource{}, resources.ErrNotFound
	}
	// Scope, then labels, then version (see update).
	if ok, err := engine.Permits(ctx, &ops{q: q}, p.Type, p.ID, cur.deleted); err != nil {
		return resources.Resource{}, err
	} else if !ok {
		// Outside the caller's scope the resource is as good as absent.
		return resources.Resource{}, resources.ErrNotFound
	}
	if err := cur.guard(p.Guard); err != nil {
		return resources.Resource{}, err
	}
	if p.IfMatch > 0 && p.IfMatch != cur.version {
		return resources.Resource{}, resources.ErrPreconditionFailed
	}
	if cur.deleted {
		return resources.Resource{Type: p.Type, ID: p.ID, VersionID: cur.version,
			LastUpdated: time.UnixMicro(cur.micros).UTC(), Deleted: true, Method: methodDELETE}, nil
	}
	// The deletion is in the compartments of the version it removes
	// (search.VersionScope): cur.patients.
	return write(ctx, q, p.Type, p.ID, cur, nil, nil, methodDELETE)
}

// current is the locked current row of a resource; its patients are those
// of its version (search.PatientsOf), which a deletion keeps.
type current struct {
	version, micros  int64
	deleted          bool
	labels, patients string
}

// guard applies a write's LabelGuard to the locked current version.
func (cur current) guard(g resources.LabelGuard) error {
	if g == nil || cur.deleted {
		return nil
	}
	return g(cur.labels)
}

// lock selects the current row FOR UPDATE; found is false when there is none.
func lock(ctx context.Context, q querier, typ, id, op string) (cur current, found bool, err error) {
	err = q.QueryRow(ctx, sqlLock, typ, id).Scan(&cur.version, &cur.micros, &cur.deleted, &cur.labels, &cur.patients)
	if errors.Is(err, pgx.ErrNoRows) {
		return current{}, false, nil
	}
	if err != nil {
		return current{}, false, wrap(ctx, op, err)
	}
	return cur, true, nil
}

// write stores the version after cur: the resource data, or a deletion when
// method is DELETE.
func write(ctx context.Context, q querier, typ, id string, cur current, data []byte, idx *resources.Index, method string) (resources.Resource, error) {
	micros := resources.NextMicros(time.Now(), cur.micros)
	r := resources.Resource{Type: typ, ID: id, VersionID: cur.version + 1, LastUpdated: time.UnixMicro(micros).UTC(),
		Method: method, Deleted: method == methodDELETE}
	op := "delete"
	if !r.Deleted {
		op = "update"
		var err error
		if r.Data, err = resources.Stamp(data, id, r.VersionID, r.LastUpdated); err != nil {
			return resources.Resource{}, err
		}
	}
	var n int64
	ia := indexArgs(idx)
	m := maskOf(ia)
	// A deletion keeps the labels and patients of the version it removes,
	// so that it is hidden and shown as that version was.
	labels, patients := cur.labels, cur.patients
	if !r.Deleted {
		labels, patients = idx.SecurityLabels(), search.PatientsOf(typ, id, idx)
		r.Patients = patients
	}
	args := append([]any{typ, id, r.VersionID, micros, r.Deleted, r.Data, method, labels, patients}, pick(ia, m)...)
	if err := q.QueryRow(ctx, writeSQL.sql(m), args...).Scan(&n); err != nil {
		return resources.Resource{}, wrap(ctx, op, err)
	}
	if n != 1 {
		return resources.Resource{}, fmt.Errorf("postgres: %s: %s/%s: the locked row was not written", op, typ, id)
	}
	return r, nil
}

// end commits tx when err is nil and rolls it back otherwise.
func end(ctx context.Context, tx pgx.Tx, op string, err error) error {
	if err != nil {
		_ = tx.Rollback(ctx)
		return err
	}
	return wrap(ctx, op, tx.Commit(ctx))
}
