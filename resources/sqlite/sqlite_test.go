package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/sqlite"
	"github.com/meizhou-yiyang/yiyang/resources/storetest"
)

func open(t *testing.T) resources.Store { return openTB(t) }

func openTB(t testing.TB) resources.Store {
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "y.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }

func TestMigrateTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "y.db")
	for i := 0; i < 2; i++ {
		s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
}

// rewound opens a fresh store at path, lets prepare write to it, closes it,
// runs stmts on the database directly (putting it back to before a
// migration), then opens it again, which migrates it.
func rewound(t *testing.T, path string, prepare func(s *sqlite.Store), stmts []string) (*sqlite.Store, *sql.DB) {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	prepare(s)
	s.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, stmt := range stmts {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	s, err = sqlite.Open(context.Background(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, db
}

// TestAuditLogMigration: migration 8 moves the AuditEvents stored before it
// into the audit log.
func TestAuditLogMigration(t *testing.T) {
	s, db := rewound(t, filepath.Join(t.TempDir(), "y.db"), func(*sqlite.Store) {},
		storetest.LegacyAuditSQL(func(lit string) string { return "CAST('" + lit + "' AS BLOB)" }))
	storetest.CheckMigratedAudit(t, s)
	var left int
	if err := db.QueryRow(storetest.LegacyAuditLeft).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d rows of AuditEvents left in the generic tables (%v)", left, err)
	}
}

// TestBackfills: migrations 9, 10, 11 and 12 fill their columns for the
// resources and versions written before them (storetest.Backfills).
func TestBackfills(t *testing.T) {
	for _, m := range storetest.Backfills {
		t.Run(m.Name, func(t *testing.T) {
			var labelled, plain string
			s, _ := rewound(t, filepath.Join(t.TempDir(), "y.db"), func(s *sqlite.Store) {
				labelled, plain = m.Prepare(t, s)
			}, m.Legacy)
			m.Check(t, s, labelled, plain)
		})
	}
}

// TestAuditPackedSize: the audit log holds events packed.
func TestAuditPackedSize(t *testing.T) {
	s, db := rewound(t, filepath.Join(t.TempDir(), "y.db"), func(*sqlite.Store) {}, nil)
	storetest.CheckAuditPacked(t, s, func(id string) (n int, err error) {
		err = db.QueryRow(`SELECT length(data) FROM audit_event WHERE id = ?`, id).Scan(&n)
		return n, err
	})
}
