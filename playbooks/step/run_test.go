package step

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/internal/configfile"
)

var data = Data{Inputs: map[string]string{"target": "tax-portal"}, Alert: map[string]string{"alertname": "ServiceDownEverywhere"}}

// Issue 11: an http step calls a real local server with its rendered URL,
// body and headers (a secret from a file), and fails on an unexpected
// status, keeping an excerpt of the answer.
func TestHTTPStep(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(r.Method + " " + r.URL.Path + " " + r.Header.Get("Authorization") + " " + string(b))
		if strings.Contains(r.URL.Path, "broken") {
			http.Error(w, "provider says no", http.StatusConflict)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"failover": "started"}`)
	}))
	defer srv.Close()
	secret := filepath.Join(t.TempDir(), "token")
	os.WriteFile(secret, []byte("Bearer s3cret"), 0o600)
	rt := &Runtime{ReadSecret: func(p string) (string, error) { b, err := os.ReadFile(p); return string(b), err }}
	h := &HTTP{Method: "POST", URL: srv.URL + "/sites/{{ .Inputs.target }}/failover", Body: `{"site": "{{ .Inputs.target }}"}`,
		HeaderFiles: map[string]string{"Authorization": secret}, ExpectStatus: []int{200, 202}}
	res, err := h.Run(context.Background(), rt, data)
	if err != nil || !strings.Contains(res.Output, "HTTP 202") {
		t.Fatalf("run: %v %+v", err, res)
	}
	if g := got.Load(); g != `POST /sites/tax-portal/failover Bearer s3cret {"site": "tax-portal"}` {
		t.Errorf("the server received %q", g)
	}
	h.URL = srv.URL + "/broken"
	if res, err := h.Run(context.Background(), rt, data); err == nil || !strings.Contains(err.Error(), "status 409, want [200 202]") || !strings.Contains(res.Output, "provider says no") {
		t.Errorf("unexpected status: %v %+v", err, res)
	}
	h.URL = srv.URL + "/{{ .Inputs.nothere }}"
	if _, err := h.Run(context.Background(), rt, data); err == nil || !strings.Contains(err.Error(), "nothere") {
		t.Errorf("a missing input: %v", err)
	}
}

// An exec step runs only an allowed command, arguments as a list (no
// shell: a ';' stays an argument), with its output bounded and its
// timeout enforced.
func TestExecStep(t *testing.T) {
	rt := &Runtime{Env: &Env{ExecAllow: []string{"/bin/echo", "/bin/sleep", "/bin/sh"}}}
	e := &Exec{Command: "/bin/echo", Args: []string{"renew", "{{ .Inputs.target }}; rm -rf /"}}
	res, err := e.Run(context.Background(), rt, data)
	if err != nil || res.Output != "renew tax-portal; rm -rf /\n" {
		t.Fatalf("echo: %v %q", err, res.Output)
	}
	if _, err := (&Exec{Command: "/bin/true"}).Run(context.Background(), rt, data); err == nil || !strings.Contains(err.Error(), "not allowed") {
		t.Errorf("a command not allowed: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := (&Exec{Command: "/bin/sleep", Args: []string{"30"}}).Run(ctx, rt, data); err == nil {
		t.Error("a command past its timeout was not stopped")
	}
	res, err = (&Exec{Command: "/bin/sh", Args: []string{"-c", "head -c 100000 /dev/zero | tr '\\0' x"}}).Run(context.Background(), rt, data)
	if err != nil || len(res.Output) > MaxOutput+64 || !strings.Contains(res.Output, "bytes more") {
		t.Errorf("chatty command: %v, %d bytes kept", err, len(res.Output))
	}
}

// wait_for evaluates until the condition holds, or gives up at its timeout.
func TestWaitForStep(t *testing.T) {
	var calls atomic.Int32
	rt := &Runtime{Query: func(_ context.Context, q string) (int, error) {
		if q != `up{target="tax-portal"}` {
			return 0, errors.New("query " + q)
		}
		if calls.Add(1) < 3 {
			return 0, nil
		}
		return 1, nil
	}}
	w := &WaitFor{Query: `up{target="{{ .Inputs.target }}"}`, Every: 1}
	res, err := w.Run(context.Background(), rt, data)
	if err != nil || !strings.Contains(res.Output, "after 3 evaluations") {
		t.Fatalf("wait: %v %+v", err, res)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	never := &Runtime{Query: func(context.Context, string) (int, error) { return 0, nil }}
	if _, err := w.Run(ctx, never, data); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a condition that never holds: %v", err)
	}
}

// notify renders its text and hands it to the receiver; approval and
// checklist wait for people.
func TestNotifyAndManualSteps(t *testing.T) {
	var told string
	rt := &Runtime{Notify: func(_ context.Context, rcv, text string) error { told = rcv + ": " + text; return nil }}
	if _, err := (&Notify{Receiver: "cert-duty", Text: "{{ .Inputs.target }} is down ({{ .Alert.alertname }})"}).Run(context.Background(), rt, data); err != nil {
		t.Fatal(err)
	}
	if told != "cert-duty: tax-portal is down (ServiceDownEverywhere)" {
		t.Errorf("told %q", told)
	}
	for _, s := range []Spec{&Approval{Role: "operator"}, &Checklist{Items: []string{"x"}}} {
		if _, err := s.Run(context.Background(), rt, data); !errors.Is(err, ErrManual) {
			t.Errorf("%T: %v", s, err)
		}
	}
}

// Issue 19 item 12: exec_allow by bare or relative names ran whatever came
// first on $PATH or under the working directory. A command that is not an
// absolute, clean path is refused when checked and, should a runtime's
// allow-list hold one, when it runs: nothing is looked up.
func TestExecOnlyAbsoluteCleanPaths(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	script := "#!/bin/sh\ntouch " + marker + "\n"
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "ok.sh"), filepath.Join(dir, "bin", "ok.sh")} {
		if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Chdir(dir)
	bad := []string{"ok.sh", "./bin/ok.sh", "bin/ok.sh", "/usr/../bin/true", "/bin//true", "/bin/true/", ""}
	rt := &Runtime{Env: &Env{ExecAllow: bad}}
	for _, cmd := range bad {
		if _, err := (&Exec{Command: cmd}).Run(context.Background(), rt, data); err == nil || !strings.Contains(err.Error(), "absolute, clean path") {
			t.Errorf("exec %q ran: %v", cmd, err)
		}
		ps := (&Exec{Command: cmd}).Validate(rt.Env, configfile.Path{"steps", 0, "exec"})
		if len(ps) != 1 || !strings.Contains(ps[0].Msg, "absolute, clean path") {
			t.Errorf("exec %q checked: %v", cmd, ps)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a bare or relative command ran")
	}
	abs := filepath.Join(dir, "bin", "ok.sh")
	ok := &Runtime{Env: &Env{ExecAllow: []string{abs}}}
	if ps := (&Exec{Command: abs}).Validate(ok.Env, configfile.Path{"steps", 0, "exec"}); len(ps) != 0 {
		t.Errorf("an absolute, clean, allowed path: %v", ps)
	}
	if _, err := (&Exec{Command: abs}).Run(context.Background(), ok, data); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the absolute path did not run: %v", err)
	}
}
