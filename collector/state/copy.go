package state

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bulwarkhq/bulwark/internal/audit"
)

// table is one table of the state as Copy moves it: every column, the
// row id an identity gives on PostgreSQL (reset after an explicit copy).
type table struct {
	name     string
	columns  []string
	identity bool
}

// tables is everything the state holds (schema_migrations aside: each
// database has its own). A test fails when a table is missing here.
var tables = []table{
	{"graphs", []string{"key", "target", "graph", "updated_ms"}, false},
	{"graph_history", []string{"id", "key", "target", "graph", "since_ms"}, true},
	{"drift", []string{"id", "target", "sector", "layer", "agent", "vantage", "before", "after", "from_state", "to_state", "first_seen_ms", "evidence"}, true},
	{"silences", []string{"id", "body"}, false},
	{"acks", []string{"id", "body"}, true},
	{"drills", []string{"id", "body"}, false},
	{"playbook_runs", []string{"id", "body"}, false},
	{"audit", []string{"id", "at_ms", "user", "action", "detail", "prev", "hash"}, false},
	{"notification_log", []string{"receiver", "group_key", "firing_hash", "resolved_hash", "sent_ms", "since_ms", "thread", "meta"}, false},
}

func (t table) selectAll() string {
	return `SELECT ` + quoteAll(t.columns) + ` FROM ` + t.name
}

func quoteAll(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = `"` + c + `"`
	}
	return strings.Join(q, ", ")
}

// ErrTargetNotEmpty is Copy's refusal to write over a database with rows.
var ErrTargetNotEmpty = errors.New("state: the target database is not empty")

// CopyOptions tune Copy.
type CopyOptions struct {
	// Replace empties the target's tables first; without it a target
	// holding any row is refused.
	Replace bool
}

// TableCopy is what Copy moved of one table and how it checked it: the
// rows and the hash of their contents (order-independent), the same read
// from the source and read back from the target.
type TableCopy struct {
	Table string
	Rows  int
	Hash  string
}

// copyBatch rows go in one INSERT (well under both drivers' parameter limits).
const copyBatch = 200

// Copy copies every table of from into to, in one transaction on the
// target and one consistent read of the source, then reads the target
// back and checks each table row by row (count and content hash) against
// the source. Both databases must be at the same schema version (New
// brings them there). Stop the collectors writing from first: what they
// write after the read begins is not copied.
func Copy(ctx context.Context, from, to *DB, o CopyOptions) ([]TableCopy, error) {
	fv, err := from.Version(ctx)
	if err != nil {
		return nil, err
	}
	if tv, err := to.Version(ctx); err != nil || tv != fv {
		return nil, fmt.Errorf("state: copy: source schema %d, target %d (%v)", fv, tv, err)
	}
	if !o.Replace {
		for _, t := range tables {
			var n int
			if err := to.db.QueryRowContext(ctx, `SELECT count(*) FROM `+t.name).Scan(&n); err != nil {
				return nil, fmt.Errorf("state: copy: %s: %w", t.name, err)
			}
			if n > 0 {
				return nil, fmt.Errorf("%w: %s has %d rows (replace them only knowingly)", ErrTargetNotEmpty, t.name, n)
			}
		}
	}
	read := &sql.TxOptions{ReadOnly: true} // SQLite: one snapshot already
	if from.dialect.name == Postgres {
		read.Isolation = sql.LevelRepeatableRead // one snapshot for every table
	}
	src, err := from.db.BeginTx(ctx, read)
	if err != nil {
		return nil, fmt.Errorf("state: copy: %w", err)
	}
	defer src.Rollback()
	dst, err := to.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("state: copy: %w", err)
	}
	defer dst.Rollback()
	var out []TableCopy
	srcRows := map[string]map[[32]byte]string{}
	for _, t := range tables {
		if o.Replace {
			if _, err := dst.ExecContext(ctx, `DELETE FROM `+t.name); err != nil {
				return nil, fmt.Errorf("state: copy: empty %s: %w", t.name, err)
			}
		}
		rows, err := copyTable(ctx, src, dst, to.dialect, t)
		if err != nil {
			return nil, fmt.Errorf("state: copy: %s: %w", t.name, err)
		}
		srcRows[t.name] = rows
		out = append(out, TableCopy{Table: t.name, Rows: len(rows), Hash: setHash(rows)})
	}
	if err := dst.Commit(); err != nil {
		return nil, fmt.Errorf("state: copy: commit: %w", err)
	}
	for i, t := range tables {
		got, err := tableRows(ctx, to.db, t)
		if err != nil {
			return nil, fmt.Errorf("state: copy: read back %s: %w", t.name, err)
		}
		if len(got) != out[i].Rows || setHash(got) != out[i].Hash {
			return out, fmt.Errorf("state: copy: %s: the target holds %d rows, the source %d, and they differ (%s)",
				t.name, len(got), out[i].Rows, firstDifference(srcRows[t.name], got))
		}
	}
	return out, nil
}

// copyTable inserts every row of t read through src into dst, returning
// the source's rows by hash (with their first column, to name them).
func copyTable(ctx context.Context, src, dst *sql.Tx, dia *dialect, t table) (map[[32]byte]string, error) {
	rows, err := src.QueryContext(ctx, t.selectAll())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	seen := map[[32]byte]string{}
	var batch []any
	n := 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(t.columns)), ", ") + ")"
		q := `INSERT INTO ` + t.name + ` (` + quoteAll(t.columns) + `) VALUES ` + strings.TrimSuffix(strings.Repeat(tuple+", ", n), ", ")
		_, err := dst.ExecContext(ctx, dia.rebind(q), batch...)
		batch, n = batch[:0], 0
		return err
	}
	for rows.Next() {
		vals, h, err := scanRow(rows, len(t.columns))
		if err != nil {
			return nil, err
		}
		seen[h] = fmt.Sprint(vals[0])
		batch = append(batch, vals...)
		if n++; n == copyBatch {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if t.identity && dia.name == Postgres {
		if _, err := dst.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('`+t.name+`', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM `+t.name+`), false)`); err != nil {
			return nil, fmt.Errorf("identity: %w", err)
		}
	}
	return seen, nil
}

// tableRows reads every row of t by hash.
func tableRows(ctx context.Context, q querier, t table) (map[[32]byte]string, error) {
	rows, err := q.QueryContext(ctx, t.selectAll())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[[32]byte]string{}
	for rows.Next() {
		vals, h, err := scanRow(rows, len(t.columns))
		if err != nil {
			return nil, err
		}
		out[h] = fmt.Sprint(vals[0])
	}
	return out, rows.Err()
}

// scanRow reads one row as driver values normalised to int64, string and
// []byte, and hashes it in an encoding both drivers' values share.
func scanRow(rows *sql.Rows, n int) ([]any, [32]byte, error) {
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, [32]byte{}, err
	}
	h := sha256.New()
	var lenb [8]byte
	for i, v := range vals {
		var tag byte
		var b []byte
		switch x := v.(type) {
		case int64:
			tag, b = 'i', strconv.AppendInt(nil, x, 10)
		case int32:
			tag, b = 'i', strconv.AppendInt(nil, int64(x), 10)
		case string:
			tag, b = 's', []byte(x)
		case []byte:
			tag, b = 'b', slices.Clone(x)
			vals[i] = b
		case nil:
			tag = 'n'
		default:
			return nil, [32]byte{}, fmt.Errorf("column %d: unexpected %T", i, v)
		}
		binary.BigEndian.PutUint64(lenb[:], uint64(len(b)))
		h.Write([]byte{tag})
		h.Write(lenb[:])
		h.Write(b)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return vals, sum, nil
}

// setHash hashes a table's row hashes in sorted order: the same rows give
// the same hash whatever order a database returns them in.
func setHash(rows map[[32]byte]string) string {
	keys := make([][32]byte, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [32]byte) int { return strings.Compare(string(a[:]), string(b[:])) })
	h := sha256.New()
	for _, k := range keys {
		h.Write(k[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// firstDifference names a row the source has and the target lacks, or
// the other way round.
func firstDifference(src, dst map[[32]byte]string) string {
	for h, k := range src {
		if _, ok := dst[h]; !ok {
			return fmt.Sprintf("source row %q is missing or altered in the target", k)
		}
	}
	for h, k := range dst {
		if _, ok := src[h]; !ok {
			return fmt.Sprintf("target row %q is not in the source", k)
		}
	}
	return "duplicate rows"
}

// VerifyAuditChain checks the audit log's hash chain, as `bulwark verify`
// checks a signed export of it (signed here with a throwaway key: what is
// checked is the chain), and returns its length.
func (d *DB) VerifyAuditChain(ctx context.Context) (int, error) {
	chain, err := d.AuditChain(ctx)
	if err != nil {
		return 0, err
	}
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		return 0, err
	}
	if err := audit.Verify(audit.Sign(chain, key, time.Now()), nil); err != nil {
		return len(chain), fmt.Errorf("state: audit chain: %w", err)
	}
	return len(chain), nil
}
