package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The schema is built by numbered migrations, each applied once in its own
// transaction and recorded in schema_migrations. Migrations 1 to 3 are the
// schema as it grew before the version table existed: they are written to
// be applied over a database of any of those ages (IF NOT EXISTS, a
// column added only when missing), so a SQLite file from before this table
// upgrades in place. Later migrations need not be idempotent.

// migration is one step of the schema.
type migration struct {
	version int
	name    string
	up      func(ctx context.Context, tx *sql.Tx, d *dialect) error
}

// migrations are the schema's steps, in order; versions are 1, 2, ...
var migrations = []migration{
	{1, "base tables", ddl(schemaSQLite1, schemaPostgres1)},
	{2, "audit chain", migrateAuditChain},
	{3, "notification log meta", func(ctx context.Context, tx *sql.Tx, d *dialect) error {
		return addColumn(ctx, tx, d, "notification_log", "meta", "TEXT NOT NULL DEFAULT '{}'")
	}},
	{4, "imported targets", ddl(targetsSQLite4, targetsPostgres4)},
}

// SchemaVersion is the schema version this binary writes.
func SchemaVersion() int { return len(migrations) }

// ErrSchemaNewer is returned for a database migrated by a newer Bulwark.
var ErrSchemaNewer = errors.New("state: the database's schema is newer than this binary")

const versionTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_ms BIGINT NOT NULL
)`

// migrate applies the migrations up to target (SchemaVersion for all),
// holding, on PostgreSQL, a lock that keeps two collectors starting at
// once from migrating together.
func migrate(ctx context.Context, db *sql.DB, d *dialect, target int) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if d.name == Postgres {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(migrateLockKey)); err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		defer func() {
			// A fresh context: the lock is released even when ctx ended.
			_, uerr := conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(migrateLockKey))
			err = errors.Join(err, uerr)
		}()
	}
	if _, err := conn.ExecContext(ctx, versionTable); err != nil {
		return fmt.Errorf("version table: %w", err)
	}
	cur, err := currentVersion(ctx, conn)
	if err != nil {
		return err
	}
	if cur > len(migrations) {
		return fmt.Errorf("%w: version %d, this binary knows %d", ErrSchemaNewer, cur, len(migrations))
	}
	for _, m := range migrations[cur:target] {
		if err := apply(ctx, conn, d, m); err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}

func apply(ctx context.Context, conn *sql.Conn, d *dialect, m migration) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := m.up(ctx, tx, d); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, d.rebind(`INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)`),
		m.version, m.name, time.Now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}

func currentVersion(ctx context.Context, q querier) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

// Version returns the database's schema version.
func (d *DB) Version(ctx context.Context) (int, error) { return currentVersion(ctx, d.db) }

// ddl is a migration of statements alone, one text per dialect.
func ddl(sqlite, postgres string) func(context.Context, *sql.Tx, *dialect) error {
	return func(ctx context.Context, tx *sql.Tx, d *dialect) error {
		q := sqlite
		if d.name == Postgres {
			q = postgres
		}
		_, err := tx.ExecContext(ctx, q)
		return err
	}
}

// addColumn adds a column unless the table has it already.
func addColumn(ctx context.Context, tx *sql.Tx, d *dialect, table, column, decl string) error {
	if d.name == Postgres {
		_, err := tx.ExecContext(ctx, `ALTER TABLE `+table+` ADD COLUMN IF NOT EXISTS `+column+` `+decl)
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`, table, column).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `ALTER TABLE `+table+` ADD COLUMN `+column+` `+decl)
	return err
}

// migrateAuditChain adds the chain's columns to the audit log and chains
// the rows already there, in order.
func migrateAuditChain(ctx context.Context, tx *sql.Tx, d *dialect) error {
	for _, col := range []string{"prev", "hash"} {
		if err := addColumn(ctx, tx, d, "audit", col, "TEXT NOT NULL DEFAULT ''"); err != nil {
			return err
		}
	}
	entries, err := auditRows(ctx, tx, `SELECT id, at_ms, "user", action, detail, prev, hash FROM audit WHERE hash = '' ORDER BY id`)
	if err != nil || len(entries) == 0 {
		return err
	}
	prev, err := lastHash(ctx, tx)
	if err != nil {
		return err
	}
	for _, e := range entries {
		e.Chain(prev)
		if _, err := tx.ExecContext(ctx, d.rebind(`UPDATE audit SET prev = ?, hash = ? WHERE id = ?`), e.Prev, e.Hash, e.Seq); err != nil {
			return err
		}
		prev = e.Hash
	}
	return nil
}
