package postgres

import (
	"context"
	"database/sql"
	"testing"
	"time"
)

// The harness starts a server, gives out databases, and pauses and
// resumes it with its data kept (what an outage test needs).
func TestPauseResume(t *testing.T) {
	s := New(t)
	ctx := context.Background()
	db, err := sql.Open("pgx", s.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE x (v BIGINT); INSERT INTO x VALUES (42)`); err != nil {
		t.Fatal(err)
	}
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err == nil {
		t.Fatal("a paused server answers")
	}
	if err := s.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	var v int64
	if err := db.QueryRow(`SELECT v FROM x`).Scan(&v); err != nil || v != 42 {
		t.Fatalf("after resume: %d %v", v, err)
	}
}
