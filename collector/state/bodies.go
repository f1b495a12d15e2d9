package state

import (
	"context"
	"encoding/json"
	"fmt"
)

// Drills, playbook runs, silences and acknowledgements are kept as JSON
// bodies, one row each.

// putBody writes v as the body of row id of table, replacing its last
// version (what names the row in errors).
func (d *DB) putBody(ctx context.Context, table, what, id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("state: %s: %w", what, err)
	}
	if _, err := d.db.ExecContext(ctx, d.dialect.rebind(`INSERT INTO `+table+` (id, body) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body`),
		id, string(b)); err != nil {
		return fmt.Errorf("state: %s %s: %w", what, id, err)
	}
	return nil
}

// loadBodies decodes the body of every row query returns, in its order.
func loadBodies[T any](ctx context.Context, d *DB, query string) ([]*T, error) {
	var out []*T
	err := d.each(ctx, query, func(b []byte) error {
		v := new(T)
		if err := json.Unmarshal(b, v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

func (d *DB) each(ctx context.Context, query string, f func([]byte) error) error {
	rows, err := d.db.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b string
		if err := rows.Scan(&b); err != nil {
			return fmt.Errorf("state: %w", err)
		}
		if err := f([]byte(b)); err != nil {
			return fmt.Errorf("state: %w", err)
		}
	}
	return rows.Err()
}
