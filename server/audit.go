package server

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/search"
	"github.com/meizhou-yiyang/yiyang/server/auth"
)

// AuditConfig configures the audit trail: an AuditEvent (FHIR Basic Audit
// Log Patterns) for every interaction, failed authentication and denial
// included.
type AuditConfig struct {
	// Sync writes each AuditEvent before the response is sent. Otherwise
	// events are written in batches: a crash can lose at most the events of
	// the last FlushInterval (plus those still being written). While the
	// database cannot be reached, batches are kept and retried (backing off
	// to maxAuditBackoff), up to maxPendingAudit events, which a crash then
	// loses too.
	Sync bool
	// FlushInterval is the longest an event waits in asynchronous mode
	// (default 200 ms); BatchSize flushes earlier (default 2,000: a batch
	// costs the database a transaction, a sequence block and two COPY
	// statements besides its events, about 1.5 ms, which 500-event
	// batches paid 3 µs of per event; batches of 4,000 cost PostgreSQL
	// 0.2-0.9 µs less per event than 2,000 in BenchmarkAuditLogWrite, too
	// little to double the events a crash can lose when the writer falls
	// behind).
	FlushInterval time.Duration
	BatchSize     int
}

// auditor writes AuditEvents through the store.
type auditor struct {
	cfg AuditConfig
	s   *Server
	log *slog.Logger
	// queue holds the facts of the events recorded and not yet taken by
	// the writer, which builds the events (take); requests append under
	// mu, and wake the writer only when a batch is full (the ticker takes
	// the rest), so that recording an event costs a lock, not a goroutine
	// switch. taken is the writer's copy of what it took.
	mu    sync.Mutex
	queue []auditFacts
	taken []auditFacts
	wake  chan struct{}
	// flushes asks the writer to write what is queued now; it answers with
	// the number of events it still keeps to retry.
	flushes chan chan int
	done    chan struct{}
	once    sync.Once
	flush   sync.WaitGroup
}

func newAuditor(s *Server, cfg AuditConfig) *auditor {
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = 200 * time.Millisecond
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 2000
	}
	a := &auditor{cfg: cfg, s: s, wake: make(chan struct{}, 1), flushes: make(chan chan int), done: make(chan struct{}), log: s.log}
	if !cfg.Sync {
		a.flush.Add(1)
		go a.loop()
	}
	return a
}

// maxQueuedAudit bounds the events waiting for the writer; beyond it
// requests write their own events. The bound is two batches when those are
// larger (queueLimit).
const maxQueuedAudit = 5000

// queueLimit is the number of queued events beyond which enqueue refuses.
func (a *auditor) queueLimit() int { return max(maxQueuedAudit, 2*a.cfg.BatchSize) }

// record audits one finished request; within a transaction (deferAudit),
// when the transaction ends.
func (a *auditor) record(r *http.Request, interaction, typ, id string, status int) {
	if a == nil {
		return
	}
	if d, ok := r.Context().Value(deferredKey{}).(*deferredAudit); ok {
		d.mu.Lock()
		d.list = append(d.list, deferredRecord{r, interaction, typ, id, status})
		d.mu.Unlock()
		return
	}
	a.recordNow(r, interaction, typ, id, status)
}

// maxAuditPatients bounds the patient entities one event names.
const maxAuditPatients = 20

// patientsKey carries the ids of the patients whose data a request read or
// wrote, beyond those its URL and token name (withAuditPatients).
type patientsKey struct{}

// withAuditPatients marks r with the patients an auditor searching by
// patient must find its event by: those of the resource a read, vread or
// write returned (by the type's Patient compartment parameters: as the
// store recorded them with the version, which reads and version reads
// tell, else extracted from the resource), and those a search names
// (patient=x, subject=Patient/x) unless it runs in a patient's context.
// r itself when there are none or nothing is audited.
func (s *Server) withAuditPatients(r *http.Request, interaction, typ string, resp *response) *http.Request {
	if !s.auditsPatients(typ) {
		return r
	}
	params := search.PatientParams(typ)
	var ids []string
	if resp != nil && resp.resource != nil && resp.resource.Patients != "" {
		// As the store recorded them with the version (reads and version
		// reads): extracting them again costs more than building the event.
		ids = strings.Split(strings.Trim(resp.resource.Patients, "\n"), "\n")
	} else if resp != nil && resp.resource != nil && len(resp.resource.Data) > 0 {
		if x, err := s.indexer.ExtractParams(typ, resp.resource.Data, params); err == nil {
			ids = search.PatientIDs(typ, resp.resource.ID, x)
		}
	} else if p, ok := auth.FromContext(r.Context()); strings.HasPrefix(interaction, "search") && (!ok || p.Patient == "") {
		// (A patient-context search reads its own patient's record
		// whatever it names: the event names that patient already.)
		for k, vs := range r.URL.Query() {
			code, _, _ := strings.Cut(k, ":")
			if !slices.Contains(params, code) {
				continue
			}
			for _, v := range vs {
				for _, ref := range strings.Split(v, ",") {
					if id, ok := strings.CutPrefix(ref, "Patient/"); ok {
						ids = append(ids, id)
					} else if code == "patient" && resources.ValidID(ref) {
						ids = append(ids, ref)
					}
				}
			}
		}
	}
	if len(ids) == 0 {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), patientsKey{}, ids))
}

// auditsPatients reports whether the AuditEvents of requests on typ name
// the patients of the resources they touch beyond the URL's: typ is in the
// Patient compartment by references (a Patient is named by its URL).
func (s *Server) auditsPatients(typ string) bool {
	return s.audit != nil && typ != "" && typ != "Patient" && len(search.PatientParams(typ)) > 0
}

// refusalsKey carries, on a throttled request that is audited, how many
// refusals of its client the event stands for (limiter.use).
type refusalsKey struct{}

// deferredKey carries the deferredAudit of a transaction's entries.
type deferredKey struct{}

// deferredAudit holds the AuditEvents of a transaction's entries until the
// transaction ends: written from inside it, a synchronous (or overflowing)
// audit write would wait for the transaction's own connection where the
// database has one writer (SQLite), and would record as done what a
// rollback undoes.
type deferredAudit struct {
	mu   sync.Mutex
	list []deferredRecord
}

type deferredRecord struct {
	r                    *http.Request
	interaction, typ, id string
	status               int
}

// deferAudit returns a context whose requests' AuditEvents wait for
// recordDeferred.
func deferAudit(ctx context.Context) (context.Context, *deferredAudit) {
	d := &deferredAudit{}
	return context.WithValue(ctx, deferredKey{}, d), d
}

// recordDeferred audits the requests d holds, each with its own status when
// the transaction committed (failed == 0), else with the transaction's
// status: what it did was undone.
func (a *auditor) recordDeferred(d *deferredAudit, failed int) {
	if a == nil {
		return
	}
	d.mu.Lock()
	list := d.list
	d.list = nil
	d.mu.Unlock()
	for _, e := range list {
		status := e.status
		if failed != 0 {
			status = failed
		}
		a.recordNow(e.r, e.interaction, e.typ, e.id, status)
	}
}

func (a *auditor) recordNow(r *http.Request, interaction, typ, id string, status int) {
	f := auditFactsOf(r, interaction, typ, id, status)
	if !a.cfg.Sync && a.enqueue(f) {
		return
	}
	// Synchronous mode, or the writer is far behind: write this one
	// ourselves rather than drop it.
	if err := a.write(context.WithoutCancel(r.Context()), []auditRecord{a.event(&f)}); err != nil {
		a.log.Error("audit write failed", "err", err)
	}
}

// enqueue hands the facts of an event to the writer; false when its queue
// is full.
func (a *auditor) enqueue(ev auditFacts) bool {
	a.mu.Lock()
	n := len(a.queue)
	if n >= a.queueLimit() {
		a.mu.Unlock()
		return false
	}
	a.queue = append(a.queue, ev)
	a.mu.Unlock()
	if n+1 == a.cfg.BatchSize {
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// take builds the events queued and adds them to the end of batch. The
// writer alone calls it: it builds them outside the lock, one after
// another, which costs less than building each amid its request's work.
func (a *auditor) take(batch []auditRecord) []auditRecord {
	a.mu.Lock()
	a.taken = append(a.taken[:0], a.queue...)
	clear(a.queue) // what the facts hold is the writer's to let go now
	a.queue = a.queue[:0]
	a.mu.Unlock()
	for i := range a.taken {
		if rec, ok := a.buildTaken(&a.taken[i]); ok {
			batch = append(batch, rec)
		}
	}
	clear(a.taken)
	return batch
}

// buildTaken builds the event of f for the writer. A panic there (a bug)
// would end the process, where in a request it is answered 500: it is
// logged, loudly, with the request the event was of, and the event dropped.
func (a *auditor) buildTaken(f *auditFacts) (rec auditRecord, ok bool) {
	defer func() {
		if v := recover(); v != nil {
			a.log.Error("audit event could not be built; dropped", "interaction", f.interaction, "type", f.typ, "id", f.id,
				"status", f.status, "at", f.at, "panic", v, "stack", string(debug.Stack()))
			ok = false
		}
	}()
	return a.event(f), true
}

// maxPendingAudit bounds the events the writer keeps while the database
// refuses them; beyond it the oldest are dropped, loudly.
const maxPendingAudit = 20_000

// maxAuditBackoff is the longest wait between retries of a failed batch.
const maxAuditBackoff = 5 * time.Second

func (a *auditor) loop() {
	defer a.flush.Done()
	t := time.NewTicker(a.cfg.FlushInterval)
	defer t.Stop()
	var batch []auditRecord
	var retryAt time.Time
	var backoff time.Duration
	for {
		var flushed chan int
		select {
		case <-a.wake:
		case <-t.C:
		case flushed = <-a.flushes:
		case <-a.done:
			// Last chance: retry for a few seconds, then say what is lost.
			batch = a.take(batch)
			deadline := time.Now().Add(maxAuditBackoff)
			for len(batch) > 0 && time.Now().Before(deadline) {
				if batch = a.writeOrKeep(batch); len(batch) > 0 {
					time.Sleep(a.cfg.FlushInterval)
				}
			}
			if len(batch) > 0 {
				a.log.Error("audit events lost at shutdown: the database refused them", "events", len(batch))
			}
			return
		}
		batch = a.take(batch)
		if len(batch) == 0 || (flushed == nil && time.Now().Before(retryAt)) {
			if flushed != nil {
				flushed <- len(batch)
			}
			continue
		}
		batch = a.writeOrKeep(batch)
		if flushed != nil {
			flushed <- len(batch)
		}
		if len(batch) == 0 {
			backoff, retryAt = 0, time.Time{}
			continue
		}
		backoff = min(max(2*backoff, a.cfg.FlushInterval), maxAuditBackoff)
		retryAt = time.Now().Add(backoff)
		if n := len(batch) - maxPendingAudit; n > 0 {
			a.log.Error("audit events dropped: the database has refused them too long", "dropped", n)
			batch = append(batch[:0], batch[n:]...)
		}
	}
}

// writeOrKeep writes a batch and returns what is left to retry: nothing
// when it was written; all of it when the database cannot be reached. When
// the database answers but refuses the batch, the events are written one by
// one so that one it cannot take does not hold up the others; those are
// dropped and logged.
func (a *auditor) writeOrKeep(batch []auditRecord) []auditRecord {
	ctx := context.Background()
	err := a.write(ctx, batch)
	if err == nil {
		clear(batch) // let the written events' JSON go
		return batch[:0]
	}
	if perr := a.s.store.Ping(ctx); perr != nil {
		a.log.Error("audit batch write failed; kept to retry", "events", len(batch), "err", err)
		return batch
	}
	kept := batch[:0]
	for _, ev := range batch {
		if err := a.write(ctx, []auditRecord{ev}); err != nil {
			if a.s.store.Ping(ctx) != nil {
				kept = append(kept, ev)
				continue
			}
			a.log.Error("audit event refused by the database; dropped", "id", ev.logID(), "err", err)
		}
	}
	return kept
}

// Flush writes the events recorded so far, in asynchronous mode, and
// returns once they are stored; an error when the database refused some
// (they are kept to retry) or ctx ended first.
func (a *auditor) Flush(ctx context.Context) error {
	if a == nil || a.cfg.Sync {
		return nil
	}
	reply := make(chan int, 1)
	select {
	case a.flushes <- reply:
	case <-a.done:
		return errAuditClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case left := <-reply:
		if left > 0 {
			return fmt.Errorf("audit: %d events kept to retry: the database refused them", left)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var errAuditClosed = errors.New("audit: the trail is closed")

// Close writes the events still queued.
func (a *auditor) Close() {
	if a == nil || a.cfg.Sync {
		return
	}
	a.once.Do(func() { close(a.done) })
	a.flush.Wait()
}

// auditRecord is an AuditEvent ready to store: its JSON, packed
// (resources.PackAudit) when it comes with its audit log row, and that row
// (nil when custom search parameters on AuditEvent need the extractor: the
// writer then extracts its index entries from the plain JSON).
type auditRecord struct {
	id   string
	at   time.Time // meta.lastUpdated, stamped in data
	data []byte
	row  *resources.AuditRow
}

// logID names the event in the server's log: its id, once it has one.
func (ev auditRecord) logID() string {
	if ev.id == "" && ev.row != nil {
		return ev.row.AssignedID()
	}
	return ev.id
}

// write stores events in one transaction.
func (a *auditor) write(ctx context.Context, events []auditRecord) error {
	// The server records the audit trail itself: the caller's scope, which
	// may confine the request to a patient's record, does not apply.
	ctx = search.WithScope(ctx, nil)
	ps := make([]resources.CreateParams, len(events))
	for i, ev := range events {
		// (ev.id is empty but for events built with their JSON: the audit
		// log assigns the others' ids, and records them in ev.row.)
		ps[i] = resources.CreateParams{Type: "AuditEvent", ID: ev.id, Data: ev.data, Stamped: ev.at, Audit: ev.row}
		if ev.row == nil {
			ps[i].Index = a.s.index(ctx, "AuditEvent", ev.data)
		}
	}
	return a.s.store.WithTx(ctx, func(ctx context.Context, tx resources.Ops) error {
		if bc, ok := tx.(resources.BatchCreator); ok {
			_, err := bc.CreateMany(ctx, ps)
			return err
		}
		for _, p := range ps {
			if _, err := tx.Create(ctx, p); err != nil {
				return err
			}
		}
		return nil
	})
}

type coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
	// json is the coding's JSON, rendered once for the constant codings
	// every event carries (fixedCoding); empty for the others.
	json string
}

// fixedCoding is a constant coding with its JSON rendered.
func fixedCoding(system, code, display string) coding {
	c := coding{System: system, Code: code, Display: display}
	c.json = string(c.appendJSON(nil))
	return c
}

type reference struct {
	Reference string `json:"reference,omitempty"`
	Display   string `json:"display,omitempty"`
}

// restSubtype is AuditEvent.subtype per interaction: the restful-interaction
// code, built once (events share these slices and never change them).
var restSubtype = func() map[string][]coding {
	codes := map[string]string{
		"read": "read", "vread": "vread", "update": "update", "patch": "patch", "delete": "delete",
		"history-instance": "history-instance", "history-type": "history-type", "history-system": "history-system",
		"create": "create", "search-type": "search-type", "search-system": "search-system", "batch": "batch",
		"transaction": "transaction", "capabilities": "capabilities", "operation": "operation",
		"compartment-or-operation": "operation",
	}
	m := make(map[string][]coding, len(codes))
	for interaction, code := range codes {
		m[interaction] = []coding{fixedCoding("http://hl7.org/fhir/restful-interaction", code, "")}
	}
	return m
}()

func init() {
	// UUIDs (audit event, resource and bundle ids) take their random bits
	// from crypto/rand in batches instead of a read each: the audit trail
	// makes one per request. Set before anything runs concurrently, as
	// the package requires; none of these ids is a secret.
	uuid.EnableRandPool()
}

// maxBreakGlassReason bounds the reason kept in an AuditEvent (bytes).
const maxBreakGlassReason = 1000

// auditEvent is the JSON of an AuditEvent as the server writes it; typed,
// so that building one per request costs little.
type auditEvent struct {
	ResourceType string        `json:"resourceType"`
	ID           string        `json:"id,omitempty"`
	Meta         auditMeta     `json:"meta,omitzero"`
	Type         coding        `json:"type"`
	Subtype      []coding      `json:"subtype,omitempty"`
	Action       string        `json:"action"`
	Recorded     string        `json:"recorded"`
	Outcome      string        `json:"outcome"`
	OutcomeDesc  string        `json:"outcomeDesc,omitempty"`
	Agent        []auditAgent  `json:"agent"`
	Source       auditSource   `json:"source"`
	Entity       []auditEntity `json:"entity,omitempty"`
	// The room of Agent and of Entity's first elements (buildEvent): an
	// event is one allocation, or none (auditEvents).
	agents   [1]auditAgent
	entities [4]auditEntity
}

type auditMeta struct {
	VersionID   string `json:"versionId"`
	LastUpdated string `json:"lastUpdated"`
}

type codeable struct {
	Coding []coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

type auditAgent struct {
	Type         codeable   `json:"type"`
	Who          reference  `json:"who"`
	AltID        string     `json:"altId,omitempty"`
	Name         string     `json:"name,omitempty"`
	Requestor    bool       `json:"requestor"`
	Network      network    `json:"network,omitzero"`
	PurposeOfUse []codeable `json:"purposeOfUse,omitempty"`
}

type network struct {
	Address string `json:"address"`
	Type    string `json:"type"`
}

type auditSource struct {
	Site     string    `json:"site"`
	Observer reference `json:"observer"`
	Type     []coding  `json:"type"`
}

type auditEntity struct {
	What  reference `json:"what,omitzero"`
	Type  coding    `json:"type"`
	Role  *coding   `json:"role,omitempty"`
	Query string    `json:"query,omitempty"`
}

var (
	auditType       = fixedCoding("http://terminology.hl7.org/CodeSystem/audit-event-type", "rest", "Restful Operation")
	auditSourceType = []coding{fixedCoding("http://terminology.hl7.org/CodeSystem/security-source-type", "4", "Application Server")}
	auditAgentType  = codeable{Coding: []coding{fixedCoding("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP", "information recipient")}}
	systemObject    = fixedCoding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object")
	queryObject     = fixedCoding(systemObject.System, systemObject.Code, "")
	queryRole       = fixedCoding("http://terminology.hl7.org/CodeSystem/object-role", "24", "Query")
	person          = fixedCoding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "1", "Person")
	patientRole     = fixedCoding("http://terminology.hl7.org/CodeSystem/object-role", "1", "Patient")
	breakGlass      = []coding{fixedCoding("http://terminology.hl7.org/CodeSystem/v3-ActReason", "BTG", "break the glass")}
)

// auditEvents holds the events event builds, for the next: an event is
// read only to render its packed JSON and its row, which copy or share
// (strings) what they keep, so its room for the agent and entities is
// reused rather than garbage on every request.
var auditEvents = sync.Pool{New: func() any { return new(auditEvent) }}

// auditFacts are what a request's AuditEvent records, taken as the request
// is answered (auditFactsOf). The writer builds the event from them, in
// batches (take): the queue holds these few words per request rather than
// an event's row and JSON, and building events one after another costs
// the machine less than building each amid its request's work.
type auditFacts struct {
	at                   time.Time // the event's instant
	interaction, typ, id string
	status               int
	// refusals: how many refused requests of its client a throttled
	// request's event stands for (refusalsKey).
	refusals     int
	method, path string
	// query is the request URI of a search with a query string, else "".
	query      string
	remoteAddr string
	principal  *auth.Principal // nil: anonymous
	breakGlass string          // the break-the-glass reason, if any
	patients   []string        // patientsKey
}

// auditFactsOf takes the facts of the AuditEvent of request r, answered
// with status, now.
func auditFactsOf(r *http.Request, interaction, typ, id string, status int) auditFacts {
	ctx := r.Context()
	f := auditFacts{at: time.Now().Truncate(time.Microsecond), interaction: interaction, typ: typ, id: id, status: status,
		method: r.Method, path: r.URL.Path, remoteAddr: r.RemoteAddr, breakGlass: breakGlassReason(r)}
	f.refusals, _ = ctx.Value(refusalsKey{}).(int)
	f.principal, _ = auth.FromContext(ctx)
	if r.URL.RawQuery != "" && strings.HasPrefix(interaction, "search") {
		f.query = r.URL.RequestURI()
	}
	f.patients, _ = ctx.Value(patientsKey{}).([]string)
	return f
}

// event builds an AuditEvent following the Basic Audit Log Patterns, with
// its index entries.
func (a *auditor) event(f *auditFacts) auditRecord {
	// (buildEvent overwrites the whole event: what a pooled one still
	// holds is a few strings of a past request.)
	ev := auditEvents.Get().(*auditEvent)
	defer auditEvents.Put(ev)
	buildEvent(ev, f)
	now := f.at
	// The event comes stamped (resources.CreateParams.Stamped) with its
	// lastUpdated, the instant it records. Its id is the audit log's to
	// assign (search.LogAssigned): the packed event holds
	// resources.AuditIDCode where it goes.
	ev.Meta = auditMeta{VersionID: "1", LastUpdated: ev.Recorded}
	rec := auditRecord{at: now}
	x := a.s.indexer
	if x.HasCustom("AuditEvent") {
		// The writer extracts the index entries from the JSON, which
		// carries its id: a time-ordered UUID, as the stores assign.
		ev.ID = uuid.Must(uuid.NewV7()).String()
		rec.id = ev.ID
		rec.data = ev.appendJSON(make([]byte, 0, 1536))
		return rec
	}
	rec.row = auditRow(ev, now, x.Base())
	// The audit log keeps the JSON packed (resources.PackAudit): packed
	// here, the event holds a fifth of the bytes while it waits for the
	// writer. appendPacked writes every shape buildEvent makes
	// (FuzzAppendPacked); any other is packed from its JSON, with an id.
	var ok bool
	if rec.data, ok = ev.appendPacked(make([]byte, 0, 320)); !ok {
		ev.ID = uuid.Must(uuid.NewV7()).String()
		rec.id = ev.ID
		rec.data = resources.PackAudit(ev.appendJSON(nil))
	}
	return rec
}

// buildEvent makes ev the AuditEvent of the request f tells of, whatever
// it held before. ev's agent and first entities take the room ev has for
// them.
func buildEvent(ev *auditEvent, f *auditFacts) {
	interaction, typ, id, status := f.interaction, f.typ, f.id, f.status
	action := "E"
	switch interaction {
	case "create":
		action = "C"
	case "read", "vread", "history-instance", "history-type", "history-system", "search-type", "search-system", "capabilities":
		action = "R"
	case "update", "patch":
		action = "U"
	case "delete":
		action = "D"
	}
	*ev = auditEvent{
		ResourceType: "AuditEvent",
		Type:         auditType,
		Action:       action,
		Recorded:     resources.FormatInstant(f.at),
		Outcome:      "0",
		Source:       auditSource{Site: "Yiyang", Observer: reference{Display: "Yiyang FHIR server"}, Type: auditSourceType},
	}
	switch {
	case status >= 500:
		ev.Outcome = "8"
	case status >= 400:
		ev.Outcome = "4"
	}
	ev.Subtype = restSubtype[interaction]
	if ev.Outcome != "0" {
		ev.OutcomeDesc = http.StatusText(status) + " (" + f.method + " " + f.path + ")"
		if n := f.refusals; n > 1 {
			ev.OutcomeDesc += "; this event stands for " + strconv.Itoa(n) + " refused requests of this client since the last one"
		}
	}
	ev.agents[0] = auditAgent{Requestor: true, Type: auditAgentType}
	agent := &ev.agents[0]
	if host, _, err := net.SplitHostPort(f.remoteAddr); err == nil {
		agent.Network = network{Address: host, Type: "2"}
	}
	var patient string
	if p := f.principal; p != nil {
		agent.Who = reference{Display: p.Subject, Reference: p.FHIRUser}
		agent.AltID = p.Subject
		agent.Name = p.ClientID
		patient = p.Patient
	} else {
		agent.Who = reference{Display: "anonymous"}
	}
	if reason := f.breakGlass; reason != "" {
		// Break-the-glass: the emergency and its stated reason are part of
		// the record (AuditEvent.agent.purposeOfUse, v3 ActReason BTG).
		agent.PurposeOfUse = []codeable{{Coding: breakGlass, Text: reason}}
	}
	ev.Agent = ev.agents[:]
	ev.Entity = ev.entities[:0]
	var patientRef string
	if typ != "" && id != "" && resources.ValidID(id) {
		ref := typ + "/" + id
		ev.Entity = append(ev.Entity, auditEntity{What: reference{Reference: ref}, Type: systemObject})
		if typ == "Patient" {
			patient, patientRef = id, ref
		}
	}
	if f.query != "" {
		ev.Entity = append(ev.Entity, auditEntity{Type: queryObject, Role: &queryRole,
			Query: base64.StdEncoding.EncodeToString([]byte(f.query))})
	}
	if patient != "" && resources.ValidID(patient) {
		if patientRef == "" {
			patientRef = "Patient/" + patient
		}
		ev.Entity = append(ev.Entity, auditEntity{What: reference{Reference: patientRef}, Type: person, Role: &patientRole})
	}
	if ids := f.patients; ids != nil {
		seen := map[string]bool{patient: true}
		for _, p := range ids {
			if !seen[p] && resources.ValidID(p) && len(seen) <= maxAuditPatients {
				seen[p] = true
				ev.Entity = append(ev.Entity, auditEntity{What: reference{Reference: "Patient/" + p}, Type: person, Role: &patientRole})
			}
		}
	}
}
