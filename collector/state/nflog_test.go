package state

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/alerting"
)

// The notification log survives a restart: what was sent stays known.
func TestNotificationLogSurvivesReopen(t *testing.T) {
	eachDriver(t, testNotificationLogSurvivesReopen)
}

func testNotificationLogSurvivesReopen(t *testing.T, o Options) {
	db := mustOpen(t, o)
	ctx := context.Background()
	e := alerting.LogEntry{FiringHash: [32]byte{1, 2, 3}, ResolvedHash: [32]byte{9}, SentAt: time.UnixMilli(1_764_158_400_000), Thread: "1700000000.000001",
		Since: time.UnixMilli(1_764_158_000_000), Incident: "abc", Version: 3,
		Starts: map[uint64]time.Time{18446744073709551615: time.UnixMilli(1_764_157_000_000), 7: time.UnixMilli(1_764_157_500_000)}}
	if err := db.Put(ctx, "duty", `0/duty:{classification="down-everywhere"}`, e); err != nil {
		t.Fatal(err)
	}
	e.Thread = "1700000000.000002"
	if err := db.Put(ctx, "duty", `0/duty:{classification="down-everywhere"}`, e); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = mustOpen(t, o)
	got, ok, err := db.Get(ctx, "duty", `0/duty:{classification="down-everywhere"}`)
	if err != nil || !ok || !reflect.DeepEqual(got, e) {
		t.Fatalf("after reopen: %+v %v %v, want %+v", got, ok, err, e)
	}
	if _, ok, _ := db.Get(ctx, "duty", "other"); ok {
		t.Fatal("an unknown group is known")
	}
}

// The log forgets entries older than its retention, except those of the
// groups still held (an acknowledged incident is not repeated, so its entry
// is not rewritten).
func TestNotificationLogGC(t *testing.T) { eachDriver(t, testNotificationLogGC) }

func testNotificationLogGC(t *testing.T, o Options) {
	db := mustOpen(t, o)
	ctx := context.Background()
	now := time.UnixMilli(1_764_158_400_000)
	for i, age := range []time.Duration{time.Hour, 6 * 24 * time.Hour, 7 * 24 * time.Hour} {
		if err := db.Put(ctx, "duty", fmt.Sprintf("g%d", i), alerting.LogEntry{SentAt: now.Add(-age)}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := db.GC(ctx, now.Add(-120*time.Hour), func(_, key string) bool { return key == "g2" })
	if err != nil || n != 1 {
		t.Fatalf("GC: %d deleted, %v", n, err)
	}
	for i, want := range []bool{true, false, true} {
		if _, ok, _ := db.Get(ctx, "duty", fmt.Sprintf("g%d", i)); ok != want {
			t.Errorf("g%d kept %v, want %v", i, ok, want)
		}
	}
}

// Expired silences are deleted; the acknowledgement records are compacted
// to the ones in force, and survive a reopen.
func TestSilenceAndAckCollection(t *testing.T) { eachDriver(t, testSilenceAndAckCollection) }

func testSilenceAndAckCollection(t *testing.T, o Options) {
	db := mustOpen(t, o)
	ctx := context.Background()
	now := time.UnixMilli(1_764_158_400_000)
	for _, id := range []string{"old", "new"} {
		if err := db.SaveSilence(ctx, &alerting.Silence{ID: id, Matchers: map[string]string{"target": id}, StartsAt: now, EndsAt: now.Add(time.Hour), By: "otto", Comment: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		if err := db.SaveAck(ctx, &alerting.Ack{GroupKey: fmt.Sprint("g", i), By: "otto", At: now}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.DeleteSilence(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	if err := db.CompactAcks(ctx, []*alerting.Ack{{GroupKey: "g3", By: "otto", At: now}}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = mustOpen(t, o)
	sils, err := db.LoadSilences(ctx)
	if err != nil || len(sils) != 1 || sils[0].ID != "new" {
		t.Fatalf("silences after delete: %+v %v", sils, err)
	}
	acks, err := db.LoadAcks(ctx)
	if err != nil || len(acks) != 1 || acks[0].GroupKey != "g3" {
		t.Fatalf("acks after compaction: %+v %v", acks, err)
	}
}

// A notification log made before the meta column opens, its entries read
// with no incident.
func TestNotificationLogMigrates(t *testing.T) { eachDriver(t, testNotificationLogMigrates) }

func testNotificationLogMigrates(t *testing.T, o Options) {
	raw, dia := rawDB(t, o)
	blob, bigint, hex := "BLOB", "INTEGER", "x'01', x'02'"
	if dia.name == Postgres {
		blob, bigint, hex = "BYTEA", "BIGINT", `'\x01', '\x02'`
	}
	if _, err := raw.Exec(`CREATE TABLE notification_log (receiver TEXT NOT NULL, group_key TEXT NOT NULL, firing_hash ` + blob + ` NOT NULL,
		resolved_hash ` + blob + ` NOT NULL, sent_ms ` + bigint + ` NOT NULL, since_ms ` + bigint + ` NOT NULL, thread TEXT NOT NULL, PRIMARY KEY (receiver, group_key))`); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO notification_log VALUES ('duty', 'g', ` + hex + `, 1764158400000, 1764158000000, 'ts1')`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db := mustOpen(t, o)
	e, ok, err := db.Get(context.Background(), "duty", "g")
	if err != nil || !ok || e.Thread != "ts1" || e.Incident != "" || e.Since.UnixMilli() != 1764158000000 {
		t.Fatalf("old entry: %+v %v %v", e, ok, err)
	}
}
