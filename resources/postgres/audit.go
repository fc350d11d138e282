package postgres

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/search"
)

// sqlAuditInsert writes one AuditEvent into the audit log with its
// references (resources/search/audit.go), an audit_ref row of one number
// each; it returns 0 when the id or number is taken. The event takes the
// number $13 when it has one already (numbered in a batch that failed), a
// new one otherwise; its id $1 is null when it is known by its number.
const sqlAuditInsert = `WITH e AS (
	INSERT INTO audit_event (seq, id, recorded, last_updated, outcome, action, terms, refs, data)
	VALUES (COALESCE($13::bigint, nextval('audit_event_seq_seq')), $1, $2, $3, $4, $5, $6, $7, $8)
	ON CONFLICT DO NOTHING
	RETURNING seq),
x AS (INSERT INTO audit_ref (seqs, roles, target_type, target_id, url)
	SELECT ARRAY[e.seq], r.o, r.t, r.i, r.u FROM e, unnest($9::int[], $10::text[], $11::text[], $12::text[]) AS r(o, t, i, u))
SELECT count(*) FROM e`

// sqlAuditSeqs reserves the sequence numbers of a batch that is copied, in
// blocks of auditSeqBlock: the sequence's increment (migration 13), so
// that nextval(...) = v hands out v to v+auditSeqBlock-1. (The sequence is
// named once: looking it up per row, as pg_get_serial_sequence would, cost
// a tenth of the copy; a nextval per event cost as much again.)
const sqlAuditSeqs = `SELECT nextval('audit_event_seq_seq') FROM generate_series(1, $1)`

// auditSeqBlock is the increment of the audit log's sequence.
const auditSeqBlock = 1024

// The columns createAudit copies, in its order.
var (
	auditEventColumns = []string{"seq", "id", "recorded", "last_updated", "outcome", "action", "terms", "refs", "data"}
	auditRefColumns   = []string{"seqs", "roles", "target_type", "target_id", "url"}
)

// maxRefSeqs is the most sequence numbers an audit_ref row holds
// (migration 14): 1.5 KiB of array, short of TOAST.
const maxRefSeqs = 192

var errShortSeqs = errors.New("the audit log's sequence returned too few numbers")

func auditInsertArgs(row search.AuditRow) []any {
	n := len(row.Refs)
	os, ts, is, us := make([]int32, n), make([]string, n), make([]string, n), make([]string, n)
	for i, r := range row.Refs {
		os[i], ts[i], is[i], us[i] = int32(r.Roles), r.TargetType, r.TargetID, r.URL
	}
	var id, seq any
	if row.ID != "" {
		id = row.ID
	}
	if row.Seq != 0 {
		seq = row.Seq
	}
	return []any{id, row.Recorded, row.LastUpdated, row.Outcome, row.Action, row.Terms, row.Packed, row.Data, os, ts, is, us, seq}
}

// auditRows are the audit log rows of a create: rows[k] is the row of the
// create at index at[k] of its batch, origin[k] the caller's row
// (resources.CreateParams.Audit) when the log assigns the event's id
// (search.LogAssigned), else nil.
type auditRows struct {
	rows   []search.AuditRow
	at     []int
	origin []*resources.AuditRow
}

// add adds the row of create i of p; room is how many more may come.
func (a *auditRows) add(row search.AuditRow, p resources.CreateParams, i, room int) {
	if a.rows == nil {
		a.rows, a.at, a.origin = make([]search.AuditRow, 0, room), make([]int, 0, room), make([]*resources.AuditRow, 0, room)
	}
	var origin *resources.AuditRow
	if search.LogAssigned(p) {
		origin = p.Audit
	}
	a.rows, a.at, a.origin = append(a.rows, row), append(a.at, i), append(a.origin, origin)
}

// createAudit writes the rows of stamped AuditEvents into the audit log in
// the transaction (or pool) q: one statement each, pipelined, for a few;
// COPY into both tables for a batch in a transaction, where a taken id or
// number fails the whole copy with ErrVersionConflict (the caller's
// transaction must then roll back).
//
// An event whose id the log assigns gets, in a copied batch, a number and
// no id of its own (resources.AuditNumberedID): the audit log's unique
// index on ids costs PostgreSQL a third of storing a row. Written on its
// own, it gets a new id instead, as the statement could not tell the
// number it took if the answer were lost. Either is recorded in the
// caller's row before anything is sent (search.LogAssigned), and the rows
// of a tell the assigned ids (AssignedID) when createAudit returns.
func createAudit(ctx context.Context, q querier, a auditRows) error {
	tx, inTx := q.(pgx.Tx)
	rows := a.rows
	if len(rows) < minCopyBatch || !inTx {
		batch := &pgx.Batch{}
		for k := range rows {
			row := &rows[k]
			if o := a.origin[k]; o != nil && row.ID == "" && row.Seq == 0 {
				row.ID = uuid.Must(uuid.NewV7()).String()
				o.ID = row.ID
			}
			batch.Queue(sqlAuditInsert, auditInsertArgs(*row)...)
		}
		br := q.SendBatch(ctx, batch)
		for range rows {
			var n int64
			if err := br.QueryRow().Scan(&n); err != nil {
				br.Close()
				return wrap(ctx, "create", err)
			}
			if n == 0 {
				br.Close()
				return resources.ErrVersionConflict
			}
		}
		return wrap(ctx, "create", br.Close())
	}
	if err := numberAudit(ctx, q, a); err != nil {
		return err
	}
	size, nrefs := 0, 0
	for _, r := range rows {
		size += 80 + len(r.ID) + len(r.Outcome) + len(r.Action) + len(r.Terms) + len(r.Packed) + len(r.Data)
		nrefs += len(r.Refs)
	}
	events := newCopyBuf(size)
	for _, r := range rows {
		events.row(9)
		events.int8(r.Seq)
		if r.ID == "" {
			events.null() // known by its number
		} else {
			events.text(r.ID)
		}
		events.int8(r.Recorded)
		events.int8(r.LastUpdated)
		events.text(r.Outcome)
		events.text(r.Action)
		events.text(r.Terms)
		events.text(r.Packed)
		events.bytea(r.Data)
	}
	if err := copyBinary(ctx, tx, "audit_event", auditEventColumns, events); err != nil {
		return copyError(ctx, err)
	}
	if nrefs == 0 {
		return nil
	}
	groups := groupAuditRefs(rows, nrefs)
	refs := newCopyBuf(len(groups)*64 + nrefs*12)
	for _, g := range groups {
		refs.row(5)
		refs.int8Array(g.seqs)
		refs.int4(int32(g.Roles))
		refs.text(g.TargetType)
		refs.text(g.TargetID)
		refs.text(g.URL)
	}
	if err := copyBinary(ctx, tx, "audit_ref", auditRefColumns, refs); err != nil {
		return copyError(ctx, err)
	}
	return nil
}

// numberAudit gives the rows of a that have no number one, in order, from
// blocks of the log's sequence; those whose id the log assigns are known
// by it, which their callers' rows record.
func numberAudit(ctx context.Context, q querier, a auditRows) error {
	rows := a.rows
	need := 0
	for k := range rows {
		if rows[k].Seq == 0 {
			need++
		}
	}
	if need == 0 {
		return nil
	}
	seqs, err := q.Query(ctx, sqlAuditSeqs, (need+auditSeqBlock-1)/auditSeqBlock)
	if err != nil {
		return wrap(ctx, "create", err)
	}
	k := 0
	for seqs.Next() {
		var first int64
		if err := seqs.Scan(&first); err != nil {
			seqs.Close()
			return wrap(ctx, "create", err)
		}
		for n := int64(0); n < auditSeqBlock; n++ {
			for k < len(rows) && rows[k].Seq != 0 {
				k++
			}
			if k == len(rows) {
				break
			}
			rows[k].Seq = first + n
			if o := a.origin[k]; o != nil && rows[k].ID == "" {
				o.Seq = rows[k].Seq
			}
		}
	}
	seqs.Close()
	if err := seqs.Err(); err != nil {
		return wrap(ctx, "create", err)
	}
	for k < len(rows) && rows[k].Seq != 0 {
		k++
	}
	if k != len(rows) {
		return wrap(ctx, "create", errShortSeqs)
	}
	return nil
}

// refGroup is an audit_ref row: a reference in its roles and the events
// that hold it so.
type refGroup struct {
	resources.AuditRef
	seqs []int64
}

// groupAuditRefs groups the references of numbered rows into audit_ref
// rows, in the order each first appears, with at most maxRefSeqs numbers
// each, in the order of the rows (ascending, but for rows numbered by an
// earlier attempt at the batch). nrefs is the number of
// references in all.
func groupAuditRefs(rows []search.AuditRow, nrefs int) []refGroup {
	var groups []refGroup
	open := make(map[resources.AuditRef]int, min(nrefs, 1024)) // index of a reference's open group
	for _, r := range rows {
		for _, x := range r.Refs {
			i, ok := open[x]
			if !ok || len(groups[i].seqs) == maxRefSeqs {
				i = len(groups)
				open[x] = i
				groups = append(groups, refGroup{AuditRef: x})
			}
			groups[i].seqs = append(groups[i].seqs, r.Seq)
		}
	}
	return groups
}
