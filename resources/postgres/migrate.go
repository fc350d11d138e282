package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/meizhou-yiyang/yiyang/migrations"
)

// migrationLockKey is the pg_advisory_xact_lock key that serialises
// migrations between replicas starting at the same time ("yiyang" in ASCII).
const migrationLockKey int64 = 0x796979616e67

const sqlCreateMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    int PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`

// Migrate applies the embedded PostgreSQL migrations not yet recorded in
// schema_migrations, each in its own transaction holding an advisory lock so
// that concurrent callers apply each step once. It is idempotent.
func (s *Store) Migrate(ctx context.Context) error {
	migs, err := migrations.For("postgres")
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	var applied map[int]bool
	err = s.locked(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlCreateMigrations); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return err
		}
		versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
		applied = make(map[int]bool, len(versions))
		for _, v := range versions {
			applied[v] = true
		}
		return err
	})
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		return fmt.Errorf("postgres: migrate: schema_migrations: %w", err)
	}
	for _, m := range migs {
		if applied[m.Version] {
			continue
		}
		ran := false
		err := s.locked(ctx, func(tx pgx.Tx) error {
			// Another replica may have applied it since the list was read.
			var done bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`,
				m.Version).Scan(&done); err != nil || done {
				return err
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			ran = true
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
			return err
		})
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			return fmt.Errorf("postgres: migration %d (%s): %w", m.Version, m.Name, err)
		}
		if ran {
			s.log.InfoContext(ctx, "applied migration", "backend", "postgres", "version", m.Version, "name", m.Name)
		}
	}
	return nil
}

// locked runs fn in a transaction holding the migration advisory lock.
func (s *Store) locked(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockKey); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
