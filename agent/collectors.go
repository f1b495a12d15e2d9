package agent

import (
	"net/http"
	"strings"
	"time"

	"github.com/bulwarkhq/bulwark/agent/agentconfig"
	"github.com/bulwarkhq/bulwark/agent/push"
	"github.com/bulwarkhq/bulwark/internal/queue"
)

// openPushers opens the disk queue with a cursor per collector and makes
// each collector's Pusher, with its token (its own, else shared); it
// returns the tokens in the order of endpoints.
func openPushers(c *agentconfig.Config, endpoints []agentconfig.Endpoint, client *http.Client, shared string,
	opts Options) (*queue.Queue, []*push.Pusher, []string, error) {
	var cursors []string
	for _, e := range endpoints {
		cursors = append(cursors, e.Name)
	}
	q, err := queue.Open(queue.Options{Dir: c.Queue.Dir, MaxBytes: c.Queue.MaxBytes, MaxAge: time.Duration(c.Queue.MaxAge),
		Cursors: cursors, CursorLabel: "collector", Logger: opts.Logger, Registerer: opts.Registerer})
	if err != nil {
		return nil, nil, nil, err
	}
	pm := push.NewMetrics(opts.Registerer)
	var pushers []*push.Pusher
	var tokens []string
	for _, e := range endpoints {
		tok, err := e.Token(shared)
		if err != nil {
			q.Close()
			return nil, nil, nil, err
		}
		tokens = append(tokens, tok)
		p, err := push.New(push.Options{
			URL:        strings.TrimRight(e.URL, "/") + "/api/v1/write",
			Token:      tok,
			Queue:      q,
			Cursor:     q.Cursor(e.Name),
			Name:       e.Name,
			Metrics:    pm,
			Client:     client,
			BatchSize:  c.Collector.BatchSize,
			Logger:     opts.Logger,
			Registerer: opts.Registerer,
		})
		if err != nil {
			q.Close()
			return nil, nil, nil, err
		}
		pushers = append(pushers, p)
	}
	return q, pushers, tokens, nil
}
