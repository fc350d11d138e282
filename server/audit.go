package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
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
	// the last FlushInterval (plus those still being written).
	Sync bool
	// FlushInterval is the longest an event waits in asynchronous mode
	// (default 200 ms); BatchSize flushes earlier (default 500).
	FlushInterval time.Duration
	BatchSize     int
}

// auditor writes AuditEvents through the store.
type auditor struct {
	cfg   AuditConfig
	s     *Server
	ch    chan []byte
	done  chan struct{}
	once  sync.Once
	log   *slog.Logger
	flush sync.WaitGroup
}

func newAuditor(s *Server, cfg AuditConfig) *auditor {
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = 200 * time.Millisecond
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	a := &auditor{cfg: cfg, s: s, ch: make(chan []byte, 10*cfg.BatchSize), done: make(chan struct{}), log: s.log}
	if !cfg.Sync {
		a.flush.Add(1)
		go a.loop()
	}
	return a
}

// record audits one finished request.
func (a *auditor) record(r *http.Request, interaction, typ, id string, status int) {
	if a == nil {
		return
	}
	ev := a.event(r, interaction, typ, id, status)
	if a.cfg.Sync {
		if err := a.write(context.WithoutCancel(r.Context()), [][]byte{ev}); err != nil {
			a.log.Error("audit write failed", "err", err)
		}
		return
	}
	select {
	case a.ch <- ev:
	default:
		// The writer is far behind: write this one ourselves rather than
		// drop it.
		if err := a.write(context.WithoutCancel(r.Context()), [][]byte{ev}); err != nil {
			a.log.Error("audit write failed", "err", err)
		}
	}
}

func (a *auditor) loop() {
	defer a.flush.Done()
	t := time.NewTicker(a.cfg.FlushInterval)
	defer t.Stop()
	var batch [][]byte
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if err := a.write(context.Background(), batch); err != nil {
			a.log.Error("audit batch write failed", "events", len(batch), "err", err)
		}
		batch = nil
	}
	for {
		select {
		case ev := <-a.ch:
			batch = append(batch, ev)
			if len(batch) >= a.cfg.BatchSize {
				flush()
			}
		case <-t.C:
			flush()
		case <-a.done:
			for {
				select {
				case ev := <-a.ch:
					batch = append(batch, ev)
				default:
					flush()
					return
				}
			}
		}
	}
}

// Close writes the events still queued.
func (a *auditor) Close() {
	if a == nil || a.cfg.Sync {
		return
	}
	a.once.Do(func() { close(a.done) })
	a.flush.Wait()
}

// write stores events in one transaction.
func (a *auditor) write(ctx context.Context, events [][]byte) error {
	// The server records the audit trail itself: the caller's scope, which
	// may confine the request to a patient's record, does not apply.
	ctx = search.WithScope(ctx, nil)
	return a.s.store.WithTx(ctx, func(ctx context.Context, tx resources.Ops) error {
		for _, ev := range events {
			if _, err := tx.Create(ctx, resources.CreateParams{Type: "AuditEvent", Data: ev, Index: a.s.index(ctx, "AuditEvent", ev)}); err != nil {
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
}

type reference struct {
	Reference string `json:"reference,omitempty"`
	Display   string `json:"display,omitempty"`
}

var restInteraction = map[string]string{
	"read": "read", "vread": "vread", "update": "update", "patch": "patch", "delete": "delete",
	"history-instance": "history-instance", "history-type": "history-type", "history-system": "history-system",
	"create": "create", "search-type": "search-type", "search-system": "search-system", "batch": "batch",
	"transaction": "transaction", "capabilities": "capabilities", "operation": "operation",
	"compartment-or-operation": "operation",
}

// maxBreakGlassReason bounds the reason kept in an AuditEvent (bytes).
const maxBreakGlassReason = 1000

// event builds an AuditEvent following the Basic Audit Log Patterns.
func (a *auditor) event(r *http.Request, interaction, typ, id string, status int) []byte {
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
	outcome := "0"
	switch {
	case status >= 500:
		outcome = "8"
	case status >= 400:
		outcome = "4"
	}
	ev := map[string]any{
		"resourceType": "AuditEvent",
		"type":         coding{System: "http://terminology.hl7.org/CodeSystem/audit-event-type", Code: "rest", Display: "Restful Operation"},
		"action":       action,
		"recorded":     resources.FormatInstant(time.Now()),
		"outcome":      outcome,
		"source": map[string]any{"site": "Yiyang", "observer": reference{Display: "Yiyang FHIR server"},
			"type": []coding{{System: "http://terminology.hl7.org/CodeSystem/security-source-type", Code: "4", Display: "Application Server"}}},
	}
	if sub, ok := restInteraction[interaction]; ok {
		ev["subtype"] = []coding{{System: "http://hl7.org/fhir/restful-interaction", Code: sub}}
	}
	if outcome != "0" {
		ev["outcomeDesc"] = http.StatusText(status) + " (" + r.Method + " " + r.URL.Path + ")"
	}
	agent := map[string]any{"requestor": true,
		"type": map[string]any{"coding": []coding{{System: "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", Code: "IRCP", Display: "information recipient"}}}}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		agent["network"] = map[string]string{"address": host, "type": "2"}
	}
	var patient string
	if p, ok := auth.FromContext(r.Context()); ok {
		who := reference{Display: p.Subject}
		if p.FHIRUser != "" {
			who.Reference = p.FHIRUser
		}
		agent["who"] = who
		agent["altId"] = p.Subject
		if p.ClientID != "" {
			agent["name"] = p.ClientID
		}
		patient = p.Patient
	} else {
		agent["who"] = reference{Display: "anonymous"}
	}
	if reason := strings.TrimSpace(r.Header.Get(BreakGlassHeader)); reason != "" {
		// Break-the-glass: the emergency and its stated reason are part of
		// the record (AuditEvent.agent.purposeOfUse, v3 ActReason BTG).
		if len(reason) > maxBreakGlassReason {
			reason = strings.ToValidUTF8(reason[:maxBreakGlassReason], "")
		}
		agent["purposeOfUse"] = []any{map[string]any{
			"coding": []coding{{System: "http://terminology.hl7.org/CodeSystem/v3-ActReason", Code: "BTG", Display: "break the glass"}},
			"text":   reason,
		}}
	}
	ev["agent"] = []any{agent}
	var entities []any
	if typ != "" && id != "" && resources.ValidID(id) {
		entities = append(entities, map[string]any{"what": reference{Reference: typ + "/" + id},
			"type": coding{System: "http://terminology.hl7.org/CodeSystem/audit-entity-type", Code: "2", Display: "System Object"}})
		if typ == "Patient" {
			patient = id
		}
	}
	if r.URL.RawQuery != "" && strings.HasPrefix(interaction, "search") {
		entities = append(entities, map[string]any{
			"type":  coding{System: "http://terminology.hl7.org/CodeSystem/audit-entity-type", Code: "2"},
			"role":  coding{System: "http://terminology.hl7.org/CodeSystem/object-role", Code: "24", Display: "Query"},
			"query": base64.StdEncoding.EncodeToString([]byte(r.URL.RequestURI())),
		})
	}
	if patient != "" && resources.ValidID(patient) {
		entities = append(entities, map[string]any{"what": reference{Reference: "Patient/" + patient},
			"type": coding{System: "http://terminology.hl7.org/CodeSystem/audit-entity-type", Code: "1", Display: "Person"},
			"role": coding{System: "http://terminology.hl7.org/CodeSystem/object-role", Code: "1", Display: "Patient"}})
	}
	if len(entities) > 0 {
		ev["entity"] = entities
	}
	ev["id"] = uuid.NewString() // replaced by the store; keeps the JSON a complete resource
	b, _ := json.Marshal(ev)
	return b
}
