// Package postgres implements resources.Store on PostgreSQL with a pgx/v5 pool.
//
// Tables are resolved through the connection's search_path, so a DSN such as
// postgres://host/db?search_path=tenant keeps a store inside one schema.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// Config configures Open.
type Config struct {
	// DSN is a PostgreSQL URL or keyword/value string. Parameters pgx does not
	// know, such as search_path, are sent as runtime parameters.
	DSN string
	// MaxConns bounds the pool; 0 keeps the pgx default.
	MaxConns int32
	// Logger receives migration progress; nil discards.
	Logger *slog.Logger
}

func (c Config) validate() error {
	if c.DSN == "" {
		return errors.New("postgres: config: DSN is empty")
	}
	if c.MaxConns < 0 {
		return fmt.Errorf("postgres: config: MaxConns is %d, want 0 (default) or more", c.MaxConns)
	}
	return nil
}

// Store is a resources.Store backed by a PostgreSQL connection pool. It is
// safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	ops  *ops
}

var _ resources.Store = (*Store)(nil)

// txOptions are used for every transaction the store begins. The locking in
// Update and Delete relies on each statement seeing rows committed before it
// started, which is READ COMMITTED whatever the server's default is.
var txOptions = pgx.TxOptions{IsoLevel: pgx.ReadCommitted}

// Open connects to PostgreSQL, checks the connection and applies pending
// migrations.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	pcfg, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse DSN: %w", err)
	}
	if cfg.MaxConns > 0 {
		pcfg.MaxConns = cfg.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{pool: pool, log: log, ops: &ops{q: pool, pool: pool}}
	if err := s.Migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Create stores version 1 of a new resource; see resources.Ops.
func (s *Store) Create(ctx context.Context, p resources.CreateParams) (resources.Resource, error) {
	return s.ops.Create(ctx, p)
}

// CreateMany creates resources in one transaction and one round trip; see
// resources.BatchCreator.
func (s *Store) CreateMany(ctx context.Context, ps []resources.CreateParams) ([]resources.Resource, error) {
	return s.ops.CreateMany(ctx, ps)
}

// Read returns the current version of a resource; see resources.Ops.
func (s *Store) Read(ctx context.Context, typ, id string) (resources.Resource, error) {
	return s.ops.Read(ctx, typ, id)
}

// VRead returns one version of a resource; see resources.Ops.
func (s *Store) VRead(ctx context.Context, typ, id string, version int64) (resources.Resource, error) {
	return s.ops.VRead(ctx, typ, id, version)
}

// Update stores a new current version; see resources.Ops.
func (s *Store) Update(ctx context.Context, p resources.UpdateParams) (resources.Resource, bool, error) {
	return s.ops.Update(ctx, p)
}

// Delete records a deletion; see resources.Ops.
func (s *Store) Delete(ctx context.Context, p resources.DeleteParams) (resources.Resource, error) {
	return s.ops.Delete(ctx, p)
}

// History returns versions newest first; see resources.Store.
func (s *Store) History(ctx context.Context, p resources.HistoryParams) (resources.HistoryPage, error) {
	return s.ops.history(ctx, p)
}

// WithTx runs fn in one READ COMMITTED transaction; see resources.Store. The
// Ops given to fn must not be used after fn returns nor from several
// goroutines at once.
func (s *Store) WithTx(ctx context.Context, fn func(ctx context.Context, tx resources.Ops) error) error {
	tx, err := s.pool.BeginTx(ctx, txOptions)
	if err != nil {
		return wrap(ctx, "begin", err)
	}
	// Rolls back when fn fails or panics; a no-op after Commit.
	defer func() { _ = tx.Rollback(ctx) }()
	if err := fn(ctx, &ops{q: tx}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return wrap(ctx, "commit", err)
	}
	return nil
}

// Ping reports whether the database is reachable.
func (s *Store) Ping(ctx context.Context) error {
	return wrap(ctx, "ping", s.pool.Ping(ctx))
}

// Backend returns "postgres".
func (s *Store) Backend() string { return "postgres" }

// Close closes every connection of the pool, waiting for those in use.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// wrap translates a driver error: nil stays nil, context errors pass through
// (the context's own error when it is done, since a cancelled query may
// surface as a connection error), anything else gets the operation's name.
func wrap(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}
