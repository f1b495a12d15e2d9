package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The cluster tables coordinate collectors sharing one PostgreSQL: who is
// alive (members), who does what only one may do (leases), and which
// once-only items were taken by whom (claims). They are coordination, not
// state: the copy leaves them out (each database has its own), and on
// SQLite they stay empty (one collector decides everything in-process).
// Times are the writers' clocks in unix milliseconds, passed in.

const schemaCluster = `
CREATE TABLE IF NOT EXISTS cluster_members (
	instance     TEXT PRIMARY KEY,   -- one run of a collector
	member       TEXT NOT NULL,      -- its configured name
	address      TEXT NOT NULL,
	version      TEXT NOT NULL,
	started_ms   BIGINT NOT NULL,
	last_seen_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS cluster_leases (
	name        TEXT PRIMARY KEY,
	instance    TEXT NOT NULL,
	member      TEXT NOT NULL,
	acquired_ms BIGINT NOT NULL,
	expires_ms  BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS cluster_claims (
	item       TEXT PRIMARY KEY,     -- the once-only item's identity
	what       TEXT NOT NULL,        -- what it is, for people
	instance   TEXT NOT NULL,        -- the claimer
	member     TEXT NOT NULL,
	prior      TEXT NOT NULL DEFAULT '',  -- the instance it was taken over from
	claimed_ms BIGINT NOT NULL,
	expires_ms BIGINT NOT NULL,      -- held until then unless settled
	done_ms    BIGINT NOT NULL DEFAULT 0
);
`

// CoordinationTables returns the cluster's tables, which Copy does not move.
func CoordinationTables() []string { return []string{"cluster_members", "cluster_leases", "cluster_claims"} }

// Member is one running collector as the cluster sees it.
type Member struct {
	Instance string    `json:"instance"`
	Member   string    `json:"member"`
	Address  string    `json:"address"`
	Version  string    `json:"version"`
	Started  time.Time `json:"started"`
	LastSeen time.Time `json:"lastSeen"`
}

// Lease is a named duty held by one instance until it expires.
type Lease struct {
	Name     string    `json:"name"`
	Instance string    `json:"instance"`
	Member   string    `json:"member"`
	Acquired time.Time `json:"acquired"`
	Expires  time.Time `json:"expires"`
}

// ClaimRequest asks for a once-only item.
type ClaimRequest struct {
	Item, What       string
	Instance, Member string
	Now              time.Time
	// Hold is how long the claim stands unless settled; DeadBefore is the
	// last-seen time before which a claimer counts as dead.
	Hold       time.Duration
	DeadBefore time.Time
}

// ErrClaimed is Claim's answer when another live instance holds the item,
// or it was done already.
var ErrClaimed = errors.New("state: claimed by another member")

// Beat records that m is alive (inserting it the first time).
func (d *DB) Beat(ctx context.Context, m Member) error {
	_, err := d.db.ExecContext(ctx, d.dialect.rebind(`INSERT INTO cluster_members (instance, member, address, version, started_ms, last_seen_ms)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (instance) DO UPDATE SET last_seen_ms = excluded.last_seen_ms,
		address = excluded.address`), m.Instance, m.Member, m.Address, m.Version, m.Started.UnixMilli(), m.LastSeen.UnixMilli())
	if err != nil {
		return fmt.Errorf("state: cluster member: %w", err)
	}
	return nil
}

// Leave removes an instance and the leases it holds (a graceful stop),
// and deletes members not seen since before.
func (d *DB) Leave(ctx context.Context, instance string, before time.Time) error {
	_, err1 := d.db.ExecContext(ctx, d.dialect.rebind(`DELETE FROM cluster_leases WHERE instance = ?`), instance)
	_, err2 := d.db.ExecContext(ctx, d.dialect.rebind(`DELETE FROM cluster_members WHERE instance = ? OR last_seen_ms < ?`), instance, before.UnixMilli())
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("state: cluster leave: %w", err)
	}
	return nil
}

// Members lists the instances, most recently seen first.
func (d *DB) Members(ctx context.Context) ([]Member, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT instance, member, address, version, started_ms, last_seen_ms FROM cluster_members ORDER BY last_seen_ms DESC, instance`)
	if err != nil {
		return nil, fmt.Errorf("state: cluster members: %w", err)
	}
	defer rows.Close()
	var out []Member
	for rows.Next() {
		var m Member
		var started, seen int64
		if err := rows.Scan(&m.Instance, &m.Member, &m.Address, &m.Version, &started, &seen); err != nil {
			return nil, fmt.Errorf("state: cluster members: %w", err)
		}
		m.Started, m.LastSeen = time.UnixMilli(started).UTC(), time.UnixMilli(seen).UTC()
		out = append(out, m)
	}
	return out, rows.Err()
}

// AcquireLease takes or renews lease name for instance until now+ttl. It
// is granted when free, expired, or already the instance's; it reports
// whether the instance holds it afterwards.
func (d *DB) AcquireLease(ctx context.Context, name, instance, member string, now time.Time, ttl time.Duration) (bool, error) {
	var got string
	err := d.db.QueryRowContext(ctx, d.dialect.rebind(`INSERT INTO cluster_leases AS l (name, instance, member, acquired_ms, expires_ms)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET instance = excluded.instance, member = excluded.member,
		acquired_ms = CASE WHEN l.instance = excluded.instance THEN l.acquired_ms ELSE excluded.acquired_ms END,
		expires_ms = excluded.expires_ms
		WHERE l.instance = excluded.instance OR l.expires_ms < excluded.acquired_ms
		RETURNING instance`), name, instance, member, now.UnixMilli(), now.Add(ttl).UnixMilli()).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("state: lease %s: %w", name, err)
	}
	return got == instance, nil
}

// Leases lists the leases.
func (d *DB) Leases(ctx context.Context) ([]Lease, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT name, instance, member, acquired_ms, expires_ms FROM cluster_leases ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("state: cluster leases: %w", err)
	}
	defer rows.Close()
	var out []Lease
	for rows.Next() {
		var l Lease
		var acq, exp int64
		if err := rows.Scan(&l.Name, &l.Instance, &l.Member, &acq, &exp); err != nil {
			return nil, fmt.Errorf("state: cluster leases: %w", err)
		}
		l.Acquired, l.Expires = time.UnixMilli(acq).UTC(), time.UnixMilli(exp).UTC()
		out = append(out, l)
	}
	return out, rows.Err()
}

// Claim takes a once-only item for r.Instance: granted when nobody had it,
// when the instance had it already, when its claimer is dead (not seen
// since r.DeadBefore), or when its hold is over (settled or not); refused
// (ErrClaimed) while done or held by a live claimer. takenFrom is the
// instance it was taken over from unsettled ("" otherwise): that claimer
// may have done it. An item is asked for only while the state it follows
// is current, so a done claim need not outlive its hold (and a log entry
// collected and made anew is not refused forever).
func (d *DB) Claim(ctx context.Context, r ClaimRequest) (takenFrom string, err error) {
	now := r.Now.UnixMilli()
	var prior string
	err = d.db.QueryRowContext(ctx, d.dialect.rebind(`INSERT INTO cluster_claims AS c (item, what, instance, member, prior, claimed_ms, expires_ms, done_ms)
		VALUES (?, ?, ?, ?, '', ?, ?, 0) ON CONFLICT (item) DO UPDATE SET instance = excluded.instance, member = excluded.member,
		prior = CASE WHEN c.done_ms <> 0 THEN '' WHEN c.instance = excluded.instance THEN c.prior ELSE c.instance END,
		claimed_ms = excluded.claimed_ms, expires_ms = excluded.expires_ms, done_ms = 0
		WHERE c.expires_ms < excluded.claimed_ms OR c.done_ms = 0 AND (c.instance = excluded.instance
			OR NOT EXISTS (SELECT 1 FROM cluster_members m WHERE m.instance = c.instance AND m.last_seen_ms >= ?))
		RETURNING prior`), r.Item, r.What, r.Instance, r.Member, now, r.Now.Add(r.Hold).UnixMilli(), r.DeadBefore.UnixMilli()).Scan(&prior)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrClaimed
	}
	if err != nil {
		return "", fmt.Errorf("state: claim %s: %w", r.What, err)
	}
	return prior, nil
}

// Settle ends instance's claim of item: done (refused to others until its
// hold ends), or released for another to take at once.
func (d *DB) Settle(ctx context.Context, item, instance string, done bool, now time.Time) error {
	q := `DELETE FROM cluster_claims WHERE item = ? AND instance = ? AND done_ms = 0`
	args := []any{item, instance}
	if done {
		q = `UPDATE cluster_claims SET done_ms = ? WHERE item = ? AND instance = ?`
		args = []any{now.UnixMilli(), item, instance}
	}
	if _, err := d.db.ExecContext(ctx, d.dialect.rebind(q), args...); err != nil {
		return fmt.Errorf("state: settle claim: %w", err)
	}
	return nil
}

// GCClaims deletes the claims made before before; it returns how many.
func (d *DB) GCClaims(ctx context.Context, before time.Time) (int, error) {
	res, err := d.db.ExecContext(ctx, d.dialect.rebind(`DELETE FROM cluster_claims WHERE claimed_ms < ?`), before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("state: claims GC: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
