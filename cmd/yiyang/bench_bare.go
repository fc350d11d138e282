package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// benchSchema is a PostgreSQL schema private to one bench run.
type benchSchema struct {
	base, name string
	// DSN is base with search_path set to the schema.
	DSN string
}

// newBenchSchema creates the schema <prefix><random hex> on the database at base.
func newBenchSchema(ctx context.Context, base, prefix string) (*benchSchema, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	s := &benchSchema{base: base, name: prefix + hex.EncodeToString(b[:])}
	dsn, err := withSearchPath(base, s.name)
	if err != nil {
		return nil, err
	}
	s.DSN = dsn
	if err := pgExec(ctx, base, "CREATE SCHEMA "+s.name); err != nil {
		return nil, fmt.Errorf("create schema %s: %w", s.name, err)
	}
	return s, nil
}

// Drop removes the schema and everything in it. It runs on its own context so
// that it still works after an interrupt.
func (s *benchSchema) Drop(ctx context.Context) error {
	if err := pgExec(ctx, s.base, "DROP SCHEMA IF EXISTS "+s.name+" CASCADE"); err != nil {
		return fmt.Errorf("drop schema %s: %w", s.name, err)
	}
	return nil
}

// pgExec runs one statement on a short-lived connection.
func pgExec(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	_, err = conn.Exec(ctx, sql)
	return err
}

// pgSettings returns the server's version and the settings that decide what
// a commit costs, for the report header.
func pgSettings(ctx context.Context, dsn string) (string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	var version, syncCommit, fsync string
	err = conn.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('synchronous_commit'),
		current_setting('fsync')`).Scan(&version, &syncCommit, &fsync)
	return fmt.Sprintf("PostgreSQL %s, synchronous_commit=%s, fsync=%s", version, syncCommit, fsync), err
}

// withSearchPath sets search_path=schema on a URL or keyword/value DSN.
func withSearchPath(dsn, schema string) (string, error) {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " search_path=" + schema, nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		// A *url.Error would repeat the URL, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("--pg: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// bareBaseline is the baseline: the least a chi + pgx service does to store and fetch
// a JSON document by id, with no validation, history or FHIR semantics.
type bareBaseline struct {
	pool *pgxpool.Pool
}

// openBare creates the bare table in the schema of dsn and a pool of
// maxConns connections.
func openBare(ctx context.Context, dsn string, maxConns int32) (*bareBaseline, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("bare: %w", err)
	}
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("bare: connect: %w", err)
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE bare (id text PRIMARY KEY, data bytea NOT NULL)`); err != nil {
		pool.Close()
		return nil, fmt.Errorf("bare: create table: %w", err)
	}
	return &bareBaseline{pool: pool}, nil
}

func (b *bareBaseline) Close() { b.pool.Close() }

// Handler serves POST /bare (one INSERT, synchronous commit as configured on
// the server; 201 echoing the body) and GET /bare/{id} (one primary-key
// SELECT; 200 with the stored bytes or 404).
func (b *bareBaseline) Handler() http.Handler {
	r := chi.NewRouter()
	r.Post("/bare", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id := uuid.Must(uuid.NewV7()).String() // time-ordered, as Yiyang's ids
		if _, err := b.pool.Exec(r.Context(), `INSERT INTO bare (id, data) VALUES ($1, $2)`, id, body); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Location", "/bare/"+id)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write(body)
	})
	r.Get("/bare/{id}", func(w http.ResponseWriter, r *http.Request) {
		var data []byte
		err := b.pool.QueryRow(r.Context(), `SELECT data FROM bare WHERE id = $1`, chi.URLParam(r, "id")).Scan(&data)
		if errors.Is(err, pgx.ErrNoRows) {
			http.NotFound(w, r)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(data)
	})
	return r
}
