// Package pgtest gives each PostgreSQL test its own schema.
//
// Tests call DSN, which skips them unless TEST_DATABASE_URL is set, creates a
// fresh schema on that database, drops it when the test ends and returns a DSN
// whose search_path points at it, so tests can run in parallel on one
// database without seeing each other's tables.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvVar names the environment variable holding the test database's URL.
const EnvVar = "TEST_DATABASE_URL"

// DSN returns a DSN for a new schema yt_<random hex> on the TEST_DATABASE_URL
// database, dropped with everything in it when t ends. It skips t when the
// variable is unset and fails t when the database cannot be reached.
func DSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvVar)
	if base == "" {
		t.Skip("PostgreSQL tests skipped: set " + EnvVar + "=postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run them")
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "yt_" + hex.EncodeToString(b[:])
	dsn, err := withSearchPath(base, schema)
	if err != nil {
		t.Fatalf("pgtest: %s: %v", EnvVar, err)
	}
	if err := exec(base, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("pgtest: create schema on %s: %v", EnvVar, err)
	}
	t.Cleanup(func() {
		if err := exec(base, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	return dsn
}

// exec runs one statement on a short-lived connection.
func exec(dsn, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(ctx) }()
	_, err = conn.Exec(ctx, sql)
	return err
}

// withSearchPath adds search_path=schema to a URL or keyword/value DSN,
// replacing any search_path it has.
func withSearchPath(dsn, schema string) (string, error) {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " search_path=" + schema, nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		// The *url.Error would repeat the URL, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}
