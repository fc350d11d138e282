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

func open(t *testing.T) resources.Store {
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

// TestAuditLogMigration: migration 8 moves the AuditEvents stored before it
// into the audit log.
func TestAuditLogMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "y.db")
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range storetest.LegacyAuditSQL(func(lit string) string { return "CAST('" + lit + "' AS BLOB)" }) {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	db.Close()
	s, err = sqlite.Open(context.Background(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.CheckMigratedAudit(t, s)
	db, _ = sql.Open("sqlite", "file:"+path)
	defer db.Close()
	var left int
	if err := db.QueryRow(storetest.LegacyAuditLeft).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d rows of AuditEvents left in the generic tables (%v)", left, err)
	}
}

// TestSecurityLabelsMigration: migration 9 fills resources.labels from the
// _security index entries.
func TestSecurityLabelsMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "y.db")
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	labelled, plain := storetest.LabelledForMigration(t, s)
	s.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range storetest.LegacyLabelsSQL {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	db.Close()
	s, err = sqlite.Open(context.Background(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.CheckMigratedLabels(t, s, labelled, plain)
}
