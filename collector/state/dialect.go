package state

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
)

// Drivers the state database runs on.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// dialect is what differs between the drivers: queries are written once
// with ? placeholders and the SQL both accept; where the SQL itself
// differs (DDL, locks, backup), each dialect says its own.
type dialect struct {
	name string
	// sqlName is the database/sql driver name.
	sqlName string
}

var (
	sqliteDialect   = &dialect{name: SQLite, sqlName: "sqlite"}
	postgresDialect = &dialect{name: Postgres, sqlName: "pgx"}
)

// rebind turns ? placeholders into PostgreSQL's $1, $2, ...; SQLite's
// queries pass unchanged (and unallocated). The queries here have no ?
// inside string literals.
func (d *dialect) rebind(q string) string {
	if d.name != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// auditLockKey is the advisory lock that serialises appends to the audit
// chain across collectors sharing one PostgreSQL (a random constant).
const auditLockKey = 0x6275_6c77_6175_6431 // "bulwaud1"

// migrateLockKey serialises schema migrations across collectors.
const migrateLockKey = 0x6275_6c77_6d69_6731 // "bulwmig1"

// lockAudit takes, inside tx, the lock that makes one chained append at a
// time across every process writing the database. SQLite has one writer
// already (and the DB's own mutex within the process).
func (d *dialect) lockAudit(ctx context.Context, tx *sql.Tx) error {
	if d.name != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(auditLockKey))
	return err
}

// querier is what *sql.DB, *sql.Conn and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}
