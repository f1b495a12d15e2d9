package slack

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// signedClick is a click on action with value, signed with secret at at
// as Slack signs them.
func signedClick(t *testing.T, base, secret, user, action, value string, at time.Time) *http.Request {
	t.Helper()
	payload, _ := json.Marshal(map[string]any{"type": "block_actions", "user": map[string]string{"id": user},
		"actions": []map[string]string{{"action_id": action, "block_id": "b", "value": value, "type": "button"}}})
	body := url.Values{"payload": {string(payload)}}.Encode()
	ts := strconv.FormatInt(at.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "v0:%s:%s", ts, body)
	req, _ := http.NewRequest(http.MethodPost, base, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(m.Sum(nil)))
	return req
}

// Issue 19 item 8: a signed request is accepted once. The same request
// sent again within Slack's five minutes (its signature still verifies)
// calls no action and is reported; another click is accepted.
func TestInteractionsAcceptOnce(t *testing.T) {
	var mu sync.Mutex
	var calls, replays []string
	h := Interactions(InteractionOptions{SigningSecret: "s3cret", Seen: NewReplayCache(0, nil),
		Actions: map[string]Action{ApproveActionID: func(_ context.Context, user, value string) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, user+" "+value)
			return "done", nil
		}},
		Replayed: func(_ context.Context, user string, ids []string) {
			mu.Lock()
			defer mu.Unlock()
			replays = append(replays, user+" "+strings.Join(ids, ","))
		}})
	srv := httptest.NewServer(h)
	defer srv.Close()
	do := func(req *http.Request) int {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	value := ApprovalValue(Approval{Run: "r-1", Step: "operator-ok", Version: 1})
	at := time.Now()
	if code := do(signedClick(t, srv.URL, "s3cret", "U0ADA", ApproveActionID, value, at)); code != 200 {
		t.Fatalf("first click: %d", code)
	}
	if code := do(signedClick(t, srv.URL, "s3cret", "U0ADA", ApproveActionID, value, at)); code != http.StatusConflict {
		t.Fatalf("the same request again: %d", code)
	}
	if code := do(signedClick(t, srv.URL, "s3cret", "U0ADA", ApproveActionID, value, at.Add(time.Second))); code != 200 {
		t.Fatalf("a new click: %d", code)
	}
	if code := do(signedClick(t, srv.URL, "forged", "U0ADA", ApproveActionID, value, at.Add(2*time.Second))); code != http.StatusUnauthorized {
		t.Fatalf("a forged click: %d", code)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 2 || len(replays) != 1 || replays[0] != "U0ADA "+ApproveActionID {
		t.Errorf("calls %q, replays %q", calls, replays)
	}
}

// The cache forgets a signature only once its timestamp is out of
// Slack's tolerance (it no longer verifies), and holds at most max: full
// of live entries, it refuses rather than forgets.
func TestReplayCacheBounded(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := NewReplayCache(3, func() time.Time { return now })
	for i, want := range []Replay{Fresh, Fresh, Fresh, Full} {
		if got := c.Accept(fmt.Sprint("sig", i), now); got != want {
			t.Errorf("entry %d: %v, want %v", i, got, want)
		}
	}
	if got := c.Accept("sig0", now); got != Replayed {
		t.Errorf("a replay: %v", got)
	}
	now = now.Add(Tolerance) // still verifies: still remembered
	if got := c.Accept("sig0", now.Add(-Tolerance)); got != Replayed {
		t.Errorf("a replay at the edge of the tolerance: %v", got)
	}
	if got := c.Accept("sig9", now); got != Full {
		t.Errorf("full of live entries: %v", got)
	}
	now = now.Add(2 * time.Second) // the first three no longer verify
	if got := c.Accept("sig9", now); got != Fresh || c.Len() != 1 {
		t.Errorf("after expiry: %v, %d entries", got, c.Len())
	}
	// A timestamp in the future (Slack allows five minutes either way) is
	// kept until it too is out of the tolerance.
	c2 := NewReplayCache(0, func() time.Time { return now })
	c2.Accept("ahead", now.Add(4*time.Minute))
	now = now.Add(8 * time.Minute)
	c2.Accept("other", now)
	if got := c2.Accept("ahead", now.Add(-4*time.Minute)); got != Replayed {
		t.Errorf("a future-stamped request replayed within its tolerance: %v", got)
	}
}

// The default cache stays small: full (DefaultReplayEntries signatures
// of Slack's size) it holds under 4 MiB of heap, and takes no more.
func TestReplayCacheMemory(t *testing.T) {
	now := time.Now()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := NewReplayCache(0, func() time.Time { return now })
	for i := range 2 * DefaultReplayEntries {
		c.Accept(fmt.Sprintf("v0=%064x", i), now)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if c.Len() != DefaultReplayEntries {
		t.Errorf("%d entries, want at most %d", c.Len(), DefaultReplayEntries)
	}
	if grown := int64(after.HeapInuse) - int64(before.HeapInuse); grown > 4<<20 {
		t.Errorf("a full replay cache holds %d bytes of heap, want under 4 MiB", grown)
	}
	t.Logf("a full replay cache: %d entries, %d KiB of heap", c.Len(), (int64(after.HeapInuse)-int64(before.HeapInuse))>>10)
	runtime.KeepAlive(c)
}

// Approve buttons name run, step and version; a value naming only a run
// (an older Bulwark's button) is refused.
func TestApprovalValue(t *testing.T) {
	a := Approval{Run: "dns-failover-20261207T150405-1", Step: "admin-ok", Version: 4}
	got, err := ParseApprovalValue(ApprovalValue(a))
	if err != nil || got != a {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for _, v := range []string{"dns-failover-20261207T150405-1", `{"run":"r"}`, `{"run":"r","step":"s"}`, `{"run":"r","step":"s","version":-1}`} {
		if _, err := ParseApprovalValue(v); err == nil {
			t.Errorf("%s accepted", v)
		}
	}
}
