package step

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"time"
)

// Run delivers the rendered text.
func (n *Notify) Run(ctx context.Context, rt *Runtime, d Data) (Result, error) {
	text, err := render(n.Text, d)
	if err != nil {
		return Result{}, err
	}
	if rt.Notify == nil {
		return Result{}, errors.New("notify: no receivers in this runtime")
	}
	if err := rt.Notify(ctx, n.Receiver, text); err != nil {
		return Result{}, fmt.Errorf("notify %s: %w", n.Receiver, err)
	}
	return Result{Output: "told " + n.Receiver + ": " + text}, nil
}

// Run calls the API and checks the status.
func (h *HTTP) Run(ctx context.Context, rt *Runtime, d Data) (Result, error) {
	u, err := render(h.URL, d)
	if err != nil {
		return Result{}, err
	}
	body, err := render(h.Body, d)
	if err != nil {
		return Result{}, err
	}
	method := h.Method
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader([]byte(body)))
	if err != nil {
		return Result{}, fmt.Errorf("http: %w", err)
	}
	for k, v := range h.Headers {
		if v, err = render(v, d); err != nil {
			return Result{}, err
		}
		req.Header.Set(k, v)
	}
	for k, f := range h.HeaderFiles {
		if rt.ReadSecret == nil {
			return Result{}, errors.New("http: no secret reader in this runtime")
		}
		v, err := rt.ReadSecret(f)
		if err != nil {
			return Result{}, fmt.Errorf("http: header %s: %w", k, err)
		}
		req.Header.Set(k, v)
	}
	if body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("http %s %s: %w", method, req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxOutput+1))
	out := Result{Output: fmt.Sprintf("HTTP %d: %s", resp.StatusCode, excerpt(b))}
	ok := resp.StatusCode/100 == 2
	if len(h.ExpectStatus) > 0 {
		ok = slices.Contains(h.ExpectStatus, resp.StatusCode)
	}
	if !ok {
		return out, fmt.Errorf("http %s %s: status %d, want %v", method, req.URL.Redacted(), resp.StatusCode, wantCodes(h.ExpectStatus))
	}
	return out, nil
}

func wantCodes(codes []int) any {
	if len(codes) == 0 {
		return "2xx"
	}
	return codes
}

// Run runs the allowed command with its rendered arguments, no shell.
func (e *Exec) Run(ctx context.Context, rt *Runtime, d Data) (Result, error) {
	if rt.Env == nil || !slices.Contains(rt.Env.ExecAllow, e.Command) {
		return Result{}, fmt.Errorf("exec: %q is not allowed", e.Command)
	}
	if err := CheckCommandPath(e.Command); err != nil { // never looked up on $PATH nor in the working directory
		return Result{}, fmt.Errorf("exec: %w", err)
	}
	args := make([]string, len(e.Args))
	for i, a := range e.Args {
		var err error
		if args[i], err = render(a, d); err != nil {
			return Result{}, err
		}
	}
	cmd := exec.CommandContext(ctx, e.Command, args...)
	cmd.WaitDelay = 5 * time.Second
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &limited{w: &buf, n: MaxOutput + 1}, &limited{w: &buf, n: MaxOutput + 1}
	err := cmd.Run()
	out := Result{Output: excerpt(buf.Bytes())}
	if err != nil {
		return out, fmt.Errorf("exec %s: %w", e.Command, err)
	}
	return out, nil
}

// limited writes at most n bytes to w and swallows the rest, so a chatty
// command cannot fill memory.
type limited struct {
	w io.Writer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// Run evaluates the query every Every until it returns a series, or ctx
// (the step's timeout) ends.
func (w *WaitFor) Run(ctx context.Context, rt *Runtime, d Data) (Result, error) {
	q, err := render(w.Query, d)
	if err != nil {
		return Result{}, err
	}
	if rt.Query == nil {
		return Result{}, errors.New("wait_for: no query engine in this runtime")
	}
	every := time.Duration(w.Every)
	if every <= 0 {
		every = 15 * time.Second
	}
	tries := 0
	for {
		tries++
		n, err := rt.Query(ctx, q)
		if err != nil {
			return Result{}, fmt.Errorf("wait_for: %w", err)
		}
		if n > 0 {
			return Result{Output: fmt.Sprintf("%d series after %d evaluations: %s", n, tries, q)}, nil
		}
		select {
		case <-ctx.Done():
			return Result{Output: fmt.Sprintf("still no series after %d evaluations: %s", tries, q)}, fmt.Errorf("wait_for: %w", ctx.Err())
		case <-time.After(every):
		}
	}
}

// Run waits for people.
// Run renders the prompt and waits for people; with a receiver, it asks
// there first (a Slack receiver shows an Approve button).
func (a *Approval) Run(ctx context.Context, rt *Runtime, d Data) (Result, error) {
	prompt, err := render(a.Prompt, d)
	if err != nil {
		return Result{}, err
	}
	if a.Receiver != "" && rt.Ask != nil && !d.Resumed {
		q := Question{Run: d.Run["id"], Playbook: d.Run["playbook"], Step: d.Step, Prompt: prompt, Role: a.Role, Drill: d.Drill, Version: d.Version}
		if err := rt.Ask(ctx, a.Receiver, q); err != nil {
			// The approval can still be given from the CLI or the API.
			return Result{Output: prompt + " (asking " + a.Receiver + " failed: " + err.Error() + ")"}, ErrManual
		}
	}
	return Result{Output: prompt}, ErrManual
}

// Run waits for people.
func (c *Checklist) Run(context.Context, *Runtime, Data) (Result, error) { return Result{}, ErrManual }
