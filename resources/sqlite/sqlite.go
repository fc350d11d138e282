// Package sqlite implements resources.Store on embedded SQLite
// (modernc.org/sqlite, pure Go) in WAL mode: one writer connection that
// serialises write transactions, and a pool of reader connections that read
// committed snapshots concurrently.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/meizhou-yiyang/yiyang/migrations"
	"github.com/meizhou-yiyang/yiyang/resources"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Config configures the store.
type Config struct {
	// Path of the database file; its directory is created if missing.
	Path string
	// Synchronous is SQLite's synchronous pragma: FULL (default, every commit
	// is on disk before it is acknowledged) or NORMAL (faster; a power loss may
	// drop the last commits, a process crash does not).
	Synchronous string
	// Readers is the size of the reader pool; 0 means 2 × GOMAXPROCS, at least 4.
	Readers int
	// Logger receives migration messages; nil discards them.
	Logger *slog.Logger
}

// Store is the SQLite store.
type Store struct {
	w, r   *sql.DB
	ws, rs *statements // prepared on the writer and on the readers
	wi     *indexStatements
	log    *slog.Logger
	ops
}

var _ resources.Store = (*Store)(nil)

// Open opens (creating if needed) the database at cfg.Path and applies
// pending migrations.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	sync := strings.ToUpper(cfg.Synchronous)
	if sync == "" {
		sync = "FULL"
	}
	if sync != "FULL" && sync != "NORMAL" {
		return nil, fmt.Errorf("sqlite: synchronous must be FULL or NORMAL, not %q", cfg.Synchronous)
	}
	if dir := filepath.Dir(cfg.Path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("sqlite: create data directory: %w", err)
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "synchronous(" + sync + ")", "foreign_keys(1)", "case_sensitive_like(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + cfg.Path + "?" + q.Encode()
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	s := &Store{w: w, log: log}
	if err := s.Migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	q.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", "file:"+cfg.Path+"?"+q.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open readers: %w", err)
	}
	n := cfg.Readers
	if n <= 0 {
		n = max(4, 2*runtime.GOMAXPROCS(0))
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	s.r = r
	if s.ws, err = prepare(ctx, w); err == nil {
		if s.rs, err = prepare(ctx, r); err == nil {
			s.wi, err = prepareIndex(ctx, w)
		}
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	s.ops = ops{st: s.rs, db: s.r}
	return s, nil
}

// Migrate applies pending migrations, each in its own transaction, recording
// them in schema_migrations.
func (s *Store) Migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite: migrations table: %w", err)
	}
	all, err := migrations.For("sqlite")
	if err != nil {
		return err
	}
	for _, m := range all {
		if err := s.apply(ctx, m); err != nil {
			return fmt.Errorf("sqlite: migration %d (%s): %w", m.Version, m.Name, err)
		}
	}
	return nil
}

func (s *Store) apply(ctx context.Context, m migrations.Migration) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.Version, m.Name, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return err
	}
	s.log.Info("applied migration", "backend", "sqlite", "version", m.Version, "name", m.Name)
	return tx.Commit()
}

// Backend returns "sqlite".
func (s *Store) Backend() string { return "sqlite" }

// Ping checks both pools.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	var one int
	if err := s.r.QueryRowContext(ctx, `SELECT 1 FROM resources LIMIT 1`).Scan(&one); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close closes both pools.
func (s *Store) Close() error {
	for _, st := range []*statements{s.ws, s.rs} {
		if st != nil {
			st.close()
		}
	}
	if s.wi != nil {
		s.wi.close()
	}
	return errors.Join(s.r.Close(), s.w.Close())
}

// WithTx runs fn in one write transaction.
func (s *Store) WithTx(ctx context.Context, fn func(ctx context.Context, tx resources.Ops) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrap("begin", err)
	}
	defer tx.Rollback()
	if err := fn(ctx, ops{tx: tx, st: s.ws, idx: s.wi}); err != nil {
		return err
	}
	return wrap("commit", tx.Commit())
}

// Create, Update and Delete outside a transaction run in one of their own.
// Create stamps the resource before taking the write lock.
func (s *Store) Create(ctx context.Context, p resources.CreateParams) (r resources.Resource, err error) {
	r, err = newResource(p)
	if err != nil {
		return resources.Resource{}, err
	}
	err = s.WithTx(ctx, func(ctx context.Context, tx resources.Ops) error {
		r, err = tx.(ops).create(ctx, r, p)
		return err
	})
	return r, err
}

// CreateMany runs in a transaction of its own (resources.BatchCreator).
func (s *Store) CreateMany(ctx context.Context, ps []resources.CreateParams) (out []resources.Resource, err error) {
	err = s.WithTx(ctx, func(ctx context.Context, tx resources.Ops) error {
		out, err = tx.(ops).CreateMany(ctx, ps)
		return err
	})
	return out, err
}

// Update runs in a transaction of its own.
func (s *Store) Update(ctx context.Context, p resources.UpdateParams) (r resources.Resource, created bool, err error) {
	err = s.WithTx(ctx, func(ctx context.Context, tx resources.Ops) error {
		r, created, err = tx.Update(ctx, p)
		return err
	})
	return r, created, err
}

// Delete runs in a transaction of its own.
func (s *Store) Delete(ctx context.Context, p resources.DeleteParams) (r resources.Resource, err error) {
	err = s.WithTx(ctx, func(ctx context.Context, tx resources.Ops) error {
		r, err = tx.Delete(ctx, p)
		return err
	})
	// A no-op delete of a deleted resource still returns the deletion.
	return r, err
}

func wrap(op string, err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }
