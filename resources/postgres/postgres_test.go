package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/meizhou-yiyang/yiyang/migrations"
	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/postgres"
	"github.com/meizhou-yiyang/yiyang/resources/postgres/pgtest"
	"github.com/meizhou-yiyang/yiyang/resources/search"
	"github.com/meizhou-yiyang/yiyang/resources/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) resources.Store { return open(t, pgtest.DSN(t)) })
}

// open opens a store on dsn, logging to t, closed when t ends.
func open(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), postgres.Config{DSN: dsn, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// testLogger routes the store's log to t; benchmarks, whose output is the
// measurement, discard it.
func testLogger(t testing.TB) *slog.Logger {
	if _, ok := t.(*testing.B); ok {
		return nil
	}
	return slog.New(slog.NewTextHandler(logWriter{t}, nil))
}

// same reports whether two results are equal field by field.
func same(a, b resources.Resource) bool {
	return a.Type == b.Type && a.ID == b.ID && a.VersionID == b.VersionID && a.LastUpdated.Equal(b.LastUpdated) &&
		a.Deleted == b.Deleted && a.Method == b.Method && bytes.Equal(a.Data, b.Data) && (a.Data == nil) == (b.Data == nil)
}

func patient(family string) []byte {
	return []byte(`{"resourceType":"Patient","name":[{"family":"` + family + `"}]}`)
}

// query runs one statement on its own connection and returns the first column
// of every row as text.
func query(t testing.TB, dsn, sql string, args ...any) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var v any
		err := r.Scan(&v)
		return fmt.Sprint(v), err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestOpenMigratesOnce(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	// Replicas starting together must not race on the schema.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := postgres.Open(ctx, postgres.Config{DSN: dsn, MaxConns: 2})
			if err == nil {
				err = s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Open: %v", err)
		}
	}
	s := open(t, dsn)
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	migs, err := migrations.For("postgres")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, m := range migs {
		want = append(want, fmt.Sprintf("%d:%s", m.Version, m.Name))
	}
	got := query(t, dsn, `SELECT version || ':' || name FROM schema_migrations ORDER BY version`)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("schema_migrations holds %v, want %v", got, want)
	}
	// The tables live in the test's schema, not in public.
	if got := query(t, dsn, `SELECT table_schema FROM information_schema.tables WHERE table_name = 'resources'
		AND table_schema = current_schema()`); len(got) != 1 || !strings.HasPrefix(got[0], "yt_") {
		t.Fatalf("resources table in schemas %v", got)
	}
	if s.Backend() != "postgres" || s.Ping(ctx) != nil {
		t.Fatalf("Backend %q, Ping %v", s.Backend(), s.Ping(ctx))
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name, dsn, prefix string
	}{
		{"empty", "", "postgres: config:"},
		{"malformed", "postgres://u:secret@h:notaport/db", "postgres: parse DSN:"},
		{"unreachable", "postgres://postgres:secret@127.0.0.1:1/test?sslmode=disable&connect_timeout=2", "postgres: connect:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := postgres.Open(ctx, postgres.Config{DSN: tt.dsn})
			if err == nil {
				_ = s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.HasPrefix(err.Error(), tt.prefix) || strings.Contains(err.Error(), "secret") {
				t.Fatalf("error %q: want prefix %q and no password", err, tt.prefix)
			}
		})
	}
	if _, err := postgres.Open(ctx, postgres.Config{DSN: "postgres://h/db", MaxConns: -1}); err == nil {
		t.Fatal("negative MaxConns accepted")
	}
}

func TestCreateReadVRead(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, dsn)
	ctx := context.Background()
	c, err := s.Create(ctx, resources.CreateParams{Type: "Patient", Data: patient("Li")})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ID) != 36 || c.ID[14] != '7' {
		t.Fatalf("assigned id %q is not a UUIDv7", c.ID)
	}
	if c.LastUpdated.Location() != time.UTC || c.LastUpdated.Nanosecond()%1000 != 0 {
		t.Fatalf("lastUpdated %v is not UTC microseconds", c.LastUpdated)
	}
	want := fmt.Sprintf(`{"resourceType":"Patient","id":%q,"meta":{"versionId":"1","lastUpdated":%q},"name":[{"family":"Li"}]}`,
		c.ID, resources.FormatInstant(c.LastUpdated))
	if string(c.Data) != want {
		t.Fatalf("created data\n%s\nwant\n%s", c.Data, want)
	}
	for name, get := range map[string]func() (resources.Resource, error){
		"read":  func() (resources.Resource, error) { return s.Read(ctx, "Patient", c.ID) },
		"vread": func() (resources.Resource, error) { return s.VRead(ctx, "Patient", c.ID, 1) },
	} {
		r, err := get()
		if err != nil || string(r.Data) != want || r.VersionID != 1 || !r.LastUpdated.Equal(c.LastUpdated) ||
			r.LastUpdated.Location() != time.UTC {
			t.Fatalf("%s: %+v %v", name, r, err)
		}
	}
	if r, _ := s.VRead(ctx, "Patient", c.ID, 1); r.Method != "POST" {
		t.Fatalf("vread method %q, want POST", r.Method)
	}
	// Both tables hold exactly what was returned.
	if got := query(t, dsn, `SELECT convert_from(data, 'UTF8') FROM resource_history WHERE id = $1`, c.ID); len(got) != 1 || got[0] != want {
		t.Fatalf("history row %v", got)
	}
	if got := query(t, dsn, `SELECT last_updated FROM resources WHERE id = $1`, c.ID); got[0] != fmt.Sprint(c.LastUpdated.UnixMicro()) {
		t.Fatalf("last_updated %v, want %d", got, c.LastUpdated.UnixMicro())
	}

	_, err = s.Create(ctx, resources.CreateParams{Type: "Patient", ID: c.ID, Data: patient("Wang")})
	if !errors.Is(err, resources.ErrVersionConflict) {
		t.Fatalf("duplicate create: %v", err)
	}
	if got := query(t, dsn, `SELECT count(*) FROM resource_history`); got[0] != "1" {
		t.Fatalf("a conflicting create wrote history: %v rows", got)
	}
	_, err = s.Create(ctx, resources.CreateParams{Type: "Patient", Data: []byte(`[1]`)})
	var inv *resources.InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("create of a non-object: %v", err)
	}
	for _, v := range []int64{0, 2} {
		if _, err := s.VRead(ctx, "Patient", c.ID, v); !errors.Is(err, resources.ErrNotFound) {
			t.Fatalf("vread %d: %v", v, err)
		}
	}
}

func TestUpdateDelete(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, dsn)
	ctx := context.Background()
	up := func(id string, ifMatch int64) (resources.Resource, bool, error) {
		return s.Update(ctx, resources.UpdateParams{Type: "Patient", ID: id, Data: patient(id), IfMatch: ifMatch})
	}
	if _, _, err := up("a", 1); !errors.Is(err, resources.ErrPreconditionFailed) {
		t.Fatalf("If-Match on a missing resource: %v", err)
	}
	r, created, err := up("a", 0)
	if err != nil || !created || r.VersionID != 1 || r.Method != "PUT" {
		t.Fatalf("update-as-create: %+v %v %v", r, created, err)
	}
	if _, _, err := up("a", 2); !errors.Is(err, resources.ErrPreconditionFailed) {
		t.Fatalf("stale If-Match: %v", err)
	}
	r, created, err = up("a", 1)
	if err != nil || created || r.VersionID != 2 {
		t.Fatalf("matching If-Match: %+v %v %v", r, created, err)
	}
	if _, err := s.Delete(ctx, resources.DeleteParams{Type: "Patient", ID: "a", IfMatch: 1}); !errors.Is(err, resources.ErrPreconditionFailed) {
		t.Fatalf("stale If-Match on delete: %v", err)
	}
	d, err := s.Delete(ctx, resources.DeleteParams{Type: "Patient", ID: "a", IfMatch: 2})
	if err != nil || !d.Deleted || d.VersionID != 3 || d.Data != nil || d.Method != "DELETE" || !d.LastUpdated.After(r.LastUpdated) {
		t.Fatalf("delete: %+v %v", d, err)
	}
	if got := query(t, dsn, `SELECT data IS NULL AND deleted FROM resources WHERE id = 'a'`); got[0] != "true" {
		t.Fatalf("deleted row keeps data: %v", got)
	}
	g, err := s.Read(ctx, "Patient", "a")
	if !errors.Is(err, resources.ErrGone) || !same(g, d) {
		t.Fatalf("read of deleted: %+v %v, want %+v", g, err, d)
	}
	g, err = s.VRead(ctx, "Patient", "a", 3)
	if !errors.Is(err, resources.ErrGone) || !same(g, d) {
		t.Fatalf("vread of the deletion: %+v %v, want %+v", g, err, d)
	}
	again, err := s.Delete(ctx, resources.DeleteParams{Type: "Patient", ID: "a"})
	if err != nil || !same(again, d) {
		t.Fatalf("repeated delete: %+v %v, want %+v", again, err, d)
	}
	if got := query(t, dsn, `SELECT max(version) FROM resource_history`); got[0] != "3" {
		t.Fatalf("repeated delete wrote a version: %v", got)
	}
	if _, err := s.Delete(ctx, resources.DeleteParams{Type: "Patient", ID: "never"}); !errors.Is(err, resources.ErrNotFound) {
		t.Fatalf("delete of a missing resource: %v", err)
	}
	r, created, err = up("a", 3)
	if err != nil || created || r.VersionID != 4 {
		t.Fatalf("revive: %+v %v %v", r, created, err)
	}
	if p, _, err := s.Update(ctx, resources.UpdateParams{Type: "Patient", ID: "a", Data: patient("p"), Method: "PATCH"}); err != nil || p.Method != "PATCH" {
		t.Fatalf("patch: %+v %v", p, err)
	}
	if v, err := s.VRead(ctx, "Patient", "a", 5); err != nil || v.Method != "PATCH" {
		t.Fatalf("vread patch: %+v %v", v, err)
	}
	var inv *resources.InvalidError
	if _, _, err := s.Update(ctx, resources.UpdateParams{Type: "Patient", ID: "a", Data: []byte(`{}`)}); !errors.As(err, &inv) {
		t.Fatalf("update without resourceType: %v", err)
	}
}

func TestWithTx(t *testing.T) {
	s := open(t, pgtest.DSN(t))
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.WithTx(ctx, func(ctx context.Context, tx resources.Ops) error {
		if _, err := tx.Create(ctx, resources.CreateParams{Type: "Patient", ID: "rolled", Data: patient("x")}); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("WithTx returned %v, want fn's error unchanged", err)
	}
	if _, err := s.Read(ctx, "Patient", "rolled"); !errors.Is(err, resources.ErrNotFound) {
		t.Fatalf("rolled back create is visible: %v", err)
	}

	if _, err := s.Create(ctx, resources.CreateParams{Type: "Patient", ID: "taken", Data: patient("t")}); err != nil {
		t.Fatal(err)
	}
	err = s.WithTx(ctx, func(ctx context.Context, tx resources.Ops) error {
		// Expected failures must leave the transaction usable.
		if _, err := tx.Create(ctx, resources.CreateParams{Type: "Patient", ID: "taken", Data: patient("t")}); !errors.Is(err, resources.ErrVersionConflict) {
			return fmt.Errorf("duplicate create in tx: %v", err)
		}
		if _, _, err := tx.Update(ctx, resources.UpdateParams{Type: "Patient", ID: "taken", Data: patient("t"), IfMatch: 9}); !errors.Is(err, resources.ErrPreconditionFailed) {
			return fmt.Errorf("stale update in tx: %v", err)
		}
		if _, err := tx.Delete(ctx, resources.DeleteParams{Type: "Patient", ID: "nobody"}); !errors.Is(err, resources.ErrNotFound) {
			return fmt.Errorf("delete of missing in tx: %v", err)
		}
		if _, _, err := tx.Update(ctx, resources.UpdateParams{Type: "Patient", ID: "new", Data: patient("n")}); err != nil {
			return err
		}
		if _, _, err := tx.Update(ctx, resources.UpdateParams{Type: "Patient", ID: "new", Data: patient("n2")}); err != nil {
			return err
		}
		if _, err := tx.Delete(ctx, resources.DeleteParams{Type: "Patient", ID: "taken"}); err != nil {
			return err
		}
		r, err := tx.Read(ctx, "Patient", "new")
		if err != nil || r.VersionID != 2 {
			return fmt.Errorf("read own write in tx: %+v %v", r, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := s.Read(ctx, "Patient", "new"); err != nil || r.VersionID != 2 {
		t.Fatalf("committed update: %+v %v", r, err)
	}
	if _, err := s.Read(ctx, "Patient", "taken"); !errors.Is(err, resources.ErrGone) {
		t.Fatalf("committed delete: %v", err)
	}
}

func TestCanceledContext(t *testing.T) {
	s := open(t, pgtest.DSN(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	checks := map[string]error{}
	_, checks["read"] = s.Read(ctx, "Patient", "x")
	_, checks["vread"] = s.VRead(ctx, "Patient", "x", 1)
	_, checks["create"] = s.Create(ctx, resources.CreateParams{Type: "Patient", Data: patient("x")})
	_, _, checks["update"] = s.Update(ctx, resources.UpdateParams{Type: "Patient", ID: "x", Data: patient("x")})
	_, checks["delete"] = s.Delete(ctx, resources.DeleteParams{Type: "Patient", ID: "x"})
	_, checks["history"] = s.History(ctx, resources.HistoryParams{})
	checks["withtx"] = s.WithTx(ctx, func(context.Context, resources.Ops) error { return nil })
	checks["ping"] = s.Ping(ctx)
	for op, err := range checks {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: %v", op, err)
		}
	}
}

// TestAuditLogMigration: migration 8 moves the AuditEvents stored before it
// into the audit log, and migration 14 groups their references.
func TestAuditLogMigration(t *testing.T) {
	// Migrations 13, 14 and 16 change the tables migration 8 makes: they
	// run again after it.
	s, conn := rewound(t, func(*postgres.Store) {},
		append(storetest.LegacyAuditSQL(func(lit string) string { return "convert_to('" + lit + "', 'UTF8')" }),
			"DELETE FROM schema_migrations WHERE version IN (13, 14, 16)"))
	storetest.CheckMigratedAudit(t, s)
	var left int
	if err := conn.QueryRow(context.Background(), storetest.LegacyAuditLeft).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d rows of AuditEvents left in the generic tables (%v)", left, err)
	}
}

// TestAuditNumberedMigration: after migration 16, the events of a copied
// batch are known by their numbers and keep no id of their own; an event
// stored before it under an id of the numbered form keeps it, and the log
// numbers past it, so that no event shares its id.
func TestAuditNumberedMigration(t *testing.T) {
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Microsecond)
	legacy := storetest.ServerAuditEvent("ae-3000", at, "Practitioner/li", "Patient/p1")
	s, conn := rewound(t, func(*postgres.Store) {}, []string{
		"DROP INDEX audit_event_id",
		"ALTER TABLE audit_event ALTER COLUMN id SET NOT NULL",
		"ALTER TABLE audit_event ADD CONSTRAINT audit_event_id_key UNIQUE (id)",
		fmt.Sprintf("INSERT INTO audit_event (id, recorded, last_updated, data) VALUES ('ae-3000', %d, %d, convert_to(%s, 'UTF8'))",
			at.UnixMicro(), at.UnixMicro(), quoteLiteral(string(legacy))),
		"DELETE FROM schema_migrations WHERE version = 16",
	})
	ps := make([]resources.CreateParams, 3*1024)
	for i := range ps {
		ps[i] = storetest.ServerAuditCreate(t, at, "li", "p1")
	}
	out, err := s.CreateMany(ctx, ps)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range out {
		if n, ok := resources.AuditNumberedSeq(r.ID); !ok || n <= 3000 {
			t.Fatalf("an event of a copied batch has id %q: want one numbered past ae-3000", r.ID)
		}
	}
	if r, err := s.Read(ctx, search.AuditType, "ae-3000"); err != nil || string(r.Data) != string(legacy) {
		t.Fatalf("the event stored as ae-3000: %v %s", err, r.Data)
	}
	var withID, numbered int
	if err := conn.QueryRow(ctx, "SELECT count(id), count(*) - count(id) FROM audit_event").Scan(&withID, &numbered); err != nil ||
		withID != 1 || numbered != len(ps) {
		t.Fatalf("audit_event: %d events with an id, %d numbered (%v); want 1 and %d", withID, numbered, err, len(ps))
	}
}

// quoteLiteral is s as a SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// TestBackfills: migrations 9, 10, 11 and 12 fill their columns for the
// resources and versions written before them (storetest.Backfills).
func TestBackfills(t *testing.T) {
	for _, m := range storetest.Backfills {
		t.Run(m.Name, func(t *testing.T) {
			var labelled, plain string
			s, _ := rewound(t, func(s *postgres.Store) { labelled, plain = m.Prepare(t, s) }, m.Legacy)
			m.Check(t, s, labelled, plain)
		})
	}
}

// rewound opens a fresh store, lets prepare write into it, closes it, runs
// stmts on the database (to put it back before a migration) and opens the
// store again, which migrates. The connection stays open for the test.
func rewound(t *testing.T, prepare func(s *postgres.Store), stmts []string) (*postgres.Store, *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	s := open(t, dsn)
	prepare(s)
	s.Close()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	for _, stmt := range stmts {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	return open(t, dsn), conn
}

func FuzzAuditSearch(f *testing.F) { storetest.FuzzAuditSearch(f, open(f, pgtest.DSN(f))) }

// TestAuditPackedSize: the audit log holds events packed.
func TestAuditPackedSize(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, dsn)
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	storetest.CheckAuditPacked(t, s, func(id string) (n int, err error) {
		err = conn.QueryRow(context.Background(), `SELECT length(data) FROM audit_event WHERE id = $1`, id).Scan(&n)
		return n, err
	})
}
