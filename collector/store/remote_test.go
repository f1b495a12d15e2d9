package store

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// A shared store that answers badly gives a clear error, within its bounds.
func TestRemoteHostileAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
		maxSamples       int
		maxBytes         int64
	}{
		{"not JSON", "<html>", "export: invalid character", 0, 0},
		{"values without timestamps", `{"metric":{"__name__":"up"},"values":[1,2],"timestamps":[1]}`, "2 values for 1 timestamps", 0, 0},
		{"not a number", `{"metric":{"__name__":"up"},"values":["x"],"timestamps":[1]}`, `invalid number literal`, 0, 0},
		{"too many samples", strings.Repeat(`{"metric":{"__name__":"up"},"values":[1,2,3],"timestamps":[1,2,3]}`+"\n", 10), "more than 20 samples", 20, 0},
		{"too many bytes", `{"metric":{"__name__":"` + strings.Repeat("a", 4096) + `"},"values":[1],"timestamps":[1]}`, "larger than its bound", 0, 1024},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(tc.body)) }))
			defer srv.Close()
			r := &Remote{URL: srv.URL, MaxSamples: tc.maxSamples, MaxBytes: tc.maxBytes}
			q, _ := r.Querier(0, 10)
			set := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "up"))
			for set.Next() {
			}
			if err := set.Err(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// A shared store that is down leaves the local answer, said to be partial.
func TestMergedRemoteDown(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) }))
	defer srv.Close()
	local := storage.QueryableFunc(func(mint, maxt int64) (storage.Querier, error) {
		return storage.NoopQuerier(), nil
	})
	q, _ := Merged{Local: local, Remote: &Remote{URL: srv.URL}}.Querier(0, 10)
	set := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "up"))
	for set.Next() {
	}
	if set.Err() != nil || len(set.Warnings()) != 1 || !strings.Contains(set.Warnings().AsErrors()[0].Error(), "503") {
		t.Errorf("err %v, warnings %v", set.Err(), set.Warnings())
	}
}
