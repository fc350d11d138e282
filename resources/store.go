// Package resources is Yiyang's contract: the Store interface every storage
// backend implements, its parameter structs and sentinel errors, and the
// parsing, validation and canonical JSON form of FHIR R4 resources. Store
// implementations live in sub-packages named for their technology
// (resources/sqlite, resources/postgres) and are exercised by one conformance
// suite (resources/storetest).
package resources

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors returned by Store implementations. Callers test them with
// errors.Is; the HTTP layer maps each to one status code in one place.
var (
	// ErrNotFound: the resource (or the version) never existed.
	ErrNotFound = errors.New("resource not found")
	// ErrGone: the resource existed but its current version is a deletion.
	ErrGone = errors.New("resource deleted")
	// ErrVersionConflict: a create asked for an id that is already taken.
	ErrVersionConflict = errors.New("resource already exists")
	// ErrPreconditionFailed: an If-Match version did not match the current version.
	ErrPreconditionFailed = errors.New("version precondition failed")
	// ErrInvalid: the request was malformed; errors wrapping it are *InvalidError.
	ErrInvalid = errors.New("invalid request")
)

// Resource is one stored version of a FHIR resource.
type Resource struct {
	Type        string
	ID          string
	VersionID   int64
	LastUpdated time.Time
	// Deleted is true when this version records a deletion; Data is then nil.
	Deleted bool
	// Method is the interaction that produced this version: POST, PUT, PATCH
	// or DELETE. Create, Update, Delete, VRead and History set it; Read of a
	// live resource leaves it empty (the current-version row does not keep it).
	Method string
	// Data is the canonical JSON of the resource, with id and meta.versionId /
	// meta.lastUpdated set by the store.
	Data []byte
	// Labels are, on a History entry that records a deletion, the security
	// labels of the version it removed (system|code lines, as
	// Index.SecurityLabels packs them), which Data cannot tell; empty
	// elsewhere.
	Labels string
	// Patients are, when not empty, the ids of the patients in whose
	// compartment this version is, as the store recorded them when it was
	// written (search.PatientsOf packs them: one per line). Create,
	// CreateMany, Update, Read and VRead set them: the server names them in
	// the AuditEvent of the request instead of extracting them from Data.
	// Empty when the store does not tell (then Data does).
	Patients string
}

// CreateParams describes a create.
type CreateParams struct {
	Type string
	// ID is optional: when empty the store assigns a new id. Transactions pre-assign
	// ids so that urn:uuid references can be rewritten before any entry runs.
	ID string
	// Data is the validated resource JSON (see Canonical); id and meta.versionId /
	// meta.lastUpdated in it are replaced by the store.
	Data []byte
	// Index are the version's search index entries; nil means none.
	Index *Index
	// Stamped, when not zero, says that Data is already stamped as Stamp
	// would (with ID, version 1 and this lastUpdated) and the store may keep
	// it as it is: for resources the server builds itself, such as AuditEvents.
	// ID must then be set, but for an AuditEvent with its Audit row.
	Stamped time.Time
	// Audit is, for a stamped AuditEvent, its audit log row as the caller
	// built it with the event (the server does, for its audit trail); the
	// stores keep it instead of deriving one from Index, which may then be
	// nil (search.AuditRowFor). Its LastUpdated and Data are ignored: the
	// store sets them. Data may then come packed (PackAudit), as the audit
	// log keeps it; the Resource a create returns holds Data as it came.
	// With ID empty, the audit log assigns the event's id and records it in
	// the row (Seq, or ID: search.LogAssigned), and Data holds AuditIDCode
	// where the id goes; otherwise the row's Seq and ID are ignored.
	Audit *AuditRow
}

// PreStamped is version 1 of a create whose Data came stamped (Stamped set),
// with id; ok is false for any other create, which the store stamps.
func (p CreateParams) PreStamped(id string) (r Resource, ok bool) {
	if p.Stamped.IsZero() {
		return Resource{}, false
	}
	return Resource{Type: p.Type, ID: id, VersionID: 1, LastUpdated: p.Stamped.UTC(), Method: "POST", Data: p.Data}, true
}

// UpdateParams describes an update (or an update-as-create).
type UpdateParams struct {
	Type string
	ID   string
	Data []byte
	// IfMatch, when > 0, is the version the caller expects to be current.
	IfMatch int64
	// Method recorded in history: "PUT" (default) or "PATCH".
	Method string
	// Index are the new version's search index entries; they replace the
	// previous version's. nil means none.
	Index *Index
	// Guard, when set, may refuse the write by what the current version is
	// labelled (see LabelGuard).
	Guard LabelGuard
}

// DeleteParams describes a delete.
type DeleteParams struct {
	Type string
	ID   string
	// IfMatch, when > 0, is the version the caller expects to be current.
	IfMatch int64
	// Guard, when set, may refuse the delete by what the current version is
	// labelled (see LabelGuard).
	Guard LabelGuard
}

// LabelGuard decides whether a write may replace or delete the current
// version of a resource, given that version's security labels as
// Index.SecurityLabels renders them ("" for none). The store calls it in
// the write's transaction after locking the current version, and only when
// there is one that is not deleted, so that no concurrent write can change
// the labels between the decision and the write; an error aborts the write
// and is returned as it is.
type LabelGuard func(labels string) error

// HistoryParams selects versions for a history interaction. Type and ID narrow
// the scope: both empty is system history, ID empty is type history.
type HistoryParams struct {
	Type string
	ID   string
	// Since, when not zero, keeps versions whose lastUpdated is at or after it.
	Since time.Time
	// AtStart/AtEnd, when not zero, keep versions that were current at some
	// moment of the closed interval [AtStart, AtEnd]; a zero bound is open.
	AtStart, AtEnd time.Time
	// Count is the page size; the store clamps it to [1, MaxPageSize].
	Count int
	// Cursor continues from a previous page (HistoryPage.Next); opaque.
	Cursor string
	// ExcludeLabels leaves out the versions carrying any of these security
	// labels (system|code, resources.Label), as search.Query.ExcludeLabels
	// leaves out resources: in the query, so that a page is as long as
	// Count allows. Each version is judged by its own labels; a deletion
	// carries none.
	ExcludeLabels []string
}

// MaxPageSize bounds every page a store returns.
const MaxPageSize = 1000

// HistoryPage is one page of versions, newest first.
type HistoryPage struct {
	Entries []Resource
	// Next is the cursor of the following page, empty on the last page.
	Next string
}

// Ops are the interactions available both on a Store and inside a transaction.
//
// AuditEvents are kept apart, in an append-only audit log (see
// resources/search/audit.go): they are created and read as any resource,
// but Update and Delete of them are ErrInvalid, each has one version, their
// type history lists them in the order the log was written, and system
// history and system searches leave them out.
type Ops interface {
	// Create stores version 1 of a new resource and returns it. Errors:
	// ErrVersionConflict when p.ID is given and already used (even by a deleted
	// resource), ErrInvalid.
	Create(ctx context.Context, p CreateParams) (Resource, error)
	// Read returns the current version. Errors: ErrNotFound; ErrGone, with the
	// returned Resource carrying the deletion's VersionID and LastUpdated.
	Read(ctx context.Context, typ, id string) (Resource, error)
	// VRead returns one version. Errors: ErrNotFound (resource or version
	// unknown); ErrGone when that version is a deletion.
	VRead(ctx context.Context, typ, id string, version int64) (Resource, error)
	// Update stores a new current version, creating the resource (version 1)
	// when it does not exist or reviving it when deleted; created reports the
	// former. Errors: ErrPreconditionFailed when p.IfMatch > 0 differs from the
	// current version (or there is no current version).
	Update(ctx context.Context, p UpdateParams) (r Resource, created bool, err error)
	// Delete records a deletion as a new version. Deleting an already deleted
	// resource is a no-op that returns the existing deletion. Errors:
	// ErrNotFound when the resource never existed; ErrPreconditionFailed.
	Delete(ctx context.Context, p DeleteParams) (Resource, error)
}

// BatchCreator is implemented by the Ops of stores that can create many
// resources in fewer round trips than one Create each (the audit trail and
// bulk loads use it). CreateMany has the semantics of Create for each
// params in order and stops at the first error; inside a transaction the
// caller then rolls back.
type BatchCreator interface {
	CreateMany(ctx context.Context, ps []CreateParams) ([]Resource, error)
}

// Store is the persistence contract every backend implements.
type Store interface {
	Ops
	// History returns versions, newest first. Errors: ErrNotFound for the
	// instance history of an unknown resource; ErrInvalid for a bad cursor.
	History(ctx context.Context, p HistoryParams) (HistoryPage, error)
	// WithTx runs fn in one database transaction: all of fn's writes commit
	// together when fn returns nil and none do otherwise. fn's error is
	// returned unchanged.
	WithTx(ctx context.Context, fn func(ctx context.Context, tx Ops) error) error
	// Ping reports whether the database is reachable.
	Ping(ctx context.Context) error
	// Backend names the implementation ("sqlite", "postgres").
	Backend() string
	Close() error
}

// Issue is one problem found in a request, in OperationOutcome terms.
type Issue struct {
	Severity    string // fatal | error | warning | information
	Code        string // OperationOutcome issue type: invalid, structure, value, required, not-found, ...
	Diagnostics string
	// Expression holds FHIRPath locations of the problem.
	Expression []string
}

// InvalidError carries the issues of a rejected request; errors.Is(err, ErrInvalid) holds.
type InvalidError struct {
	Issues []Issue
}

func (e *InvalidError) Error() string {
	if len(e.Issues) == 0 {
		return ErrInvalid.Error()
	}
	msg := e.Issues[0].Diagnostics
	if len(e.Issues[0].Expression) > 0 {
		msg = e.Issues[0].Expression[0] + ": " + msg
	}
	if len(e.Issues) > 1 {
		msg += " (and more)"
	}
	return msg
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// Invalid builds an *InvalidError with one error issue of the given code.
func Invalid(code, expression, diagnostics string) error {
	is := Issue{Severity: "error", Code: code, Diagnostics: diagnostics}
	if expression != "" {
		is.Expression = []string{expression}
	}
	return &InvalidError{Issues: []Issue{is}}
}
