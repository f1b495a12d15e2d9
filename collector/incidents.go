package collector

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/internal/audit"
)

// The incident, silence and audit API. Reading needs a viewer; acting an
// operator, and every action is written to the audit log with who did it.

func writeAPI(w http.ResponseWriter, code int, data any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if code/100 == 2 {
		json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": data})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"status": "error", "errorType": "bad_data", "error": fmt.Sprint(data)})
}

// decodeBody reads a JSON request body of at most 64 KiB, unknown fields refused.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("request body: %w", err)
	}
	return nil
}

// incidentView is an incident as the API answers it: with its short id
// (what `bulwark alerts ack` takes) and its probable cause.
type incidentView struct {
	alerting.Incident
	ID        string          `json:"id"`
	Cause     *alerting.Cause `json:"cause,omitempty"`
	CauseText string          `json:"causeText,omitempty"`
}

func (a *App) incidents(w http.ResponseWriter, _ *http.Request) {
	out := []incidentView{}
	for _, in := range a.openIncidents() {
		v := incidentView{Incident: in, ID: alerting.ShortID(in.GroupKey)}
		var services []string
		for _, al := range in.Alerts {
			if t := al.Labels.Get("target"); t != "" && !slices.Contains(services, t) {
				services = append(services, t)
			}
		}
		slices.Sort(services)
		if len(services) > 0 {
			n := &alerting.Notification{Alerts: in.Alerts, Cause: a.sharedCause(services)}
			v.Cause, v.CauseText = n.Cause, n.CauseText()
		}
		out = append(out, v)
	}
	writeAPI(w, http.StatusOK, out)
}

// openIncidents are the incidents the dispatcher holds (none without routes).
func (a *App) openIncidents() []alerting.Incident {
	if a.dispatcher == nil {
		return nil
	}
	return a.dispatcher.Incidents()
}

func (a *App) acknowledge(w http.ResponseWriter, r *http.Request) {
	var req struct {
		GroupKey string `json:"group_key"`
		Comment  string `json:"comment"`
		Remove   bool   `json:"remove"`
	}
	if err := decodeBody(r, &req); err != nil || req.GroupKey == "" {
		writeAPI(w, http.StatusBadRequest, fmt.Sprintf("want {\"group_key\": ..., \"comment\": ...}: %v", err))
		return
	}
	u, _ := auth.UserFrom(r.Context())
	ack, err := a.ackIncident(r.Context(), u.ID, req.GroupKey, req.Comment, req.Remove)
	if errors.Is(err, alerting.ErrNotFound) {
		writeAPI(w, http.StatusNotFound, err)
		return
	}
	if err != nil {
		writeAPI(w, http.StatusInternalServerError, err)
		return
	}
	writeAPI(w, http.StatusOK, ack)
}

// ackIncident acknowledges (remove: withdraws the acknowledgement of) the
// open incident ref names, as by, and audits it: the API and the console
// both act through it.
func (a *App) ackIncident(ctx context.Context, by, ref, comment string, remove bool) (*alerting.Ack, error) {
	// The key or short id of an open incident: anything else is a typo, told with the nearest.
	in, err := alerting.FindIncident(a.openIncidents(), ref)
	if err != nil {
		return nil, err
	}
	ack, err := a.silencer.Acknowledge(ctx, in.GroupKey, by, comment, !remove)
	if err != nil {
		return nil, err
	}
	a.recordAudit(ctx, by, map[bool]string{false: "acknowledge", true: "unacknowledge"}[remove], ack)
	return ack, nil
}

func (a *App) listSilences(w http.ResponseWriter, _ *http.Request) {
	writeAPI(w, http.StatusOK, a.silencer.List())
}

// silenceRequest is a silence as the API and CLI give it: durations as text.
type silenceRequest struct {
	Matchers map[string]string `json:"matchers"`
	MatchRE  map[string]string `json:"match_re"`
	Match    alerting.Matchers `json:"match"` // Alertmanager's syntax: =, !=, =~, !~
	StartsAt time.Time         `json:"starts_at"`
	EndsAt   time.Time         `json:"ends_at"`
	For      string            `json:"for"`      // instead of ends_at: from starts_at (or now)
	Schedule string            `json:"schedule"` // cron: a recurring maintenance window
	Window   string            `json:"window"`   // the length of each window
	TZ       string            `json:"tz"`
	Comment  string            `json:"comment"`
}

func (a *App) addSilence(w http.ResponseWriter, r *http.Request) {
	var req silenceRequest
	if err := decodeBody(r, &req); err != nil {
		writeAPI(w, http.StatusBadRequest, err)
		return
	}
	u, _ := auth.UserFrom(r.Context())
	added, err := a.addSilenceAs(r.Context(), u.ID, req)
	if err != nil {
		writeAPI(w, http.StatusBadRequest, err)
		return
	}
	writeAPI(w, http.StatusOK, added)
}

// addSilenceAs adds the silence of req for by and audits it: the API and
// the console both silence through it. Every error is the request's.
func (a *App) addSilenceAs(ctx context.Context, by string, req silenceRequest) (*alerting.Silence, error) {
	s := &alerting.Silence{Matchers: req.Matchers, MatchRE: req.MatchRE, Match: req.Match, StartsAt: req.StartsAt, EndsAt: req.EndsAt,
		Schedule: req.Schedule, TZ: req.TZ, By: by, Comment: req.Comment}
	if s.StartsAt.IsZero() {
		s.StartsAt = time.Now()
	}
	for _, d := range []struct {
		text string
		set  func(time.Duration)
	}{{req.For, func(d time.Duration) { s.EndsAt = s.StartsAt.Add(d) }}, {req.Window, func(d time.Duration) { s.Duration = d }}} {
		if d.text == "" {
			continue
		}
		v, err := time.ParseDuration(d.text)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("duration %q: want a positive Go duration such as 2h", d.text)
		}
		d.set(v)
	}
	added, err := a.silencer.Add(ctx, s)
	if err != nil {
		return nil, err
	}
	a.recordAudit(ctx, by, "silence", added)
	return added, nil
}

func (a *App) expireSilence(w http.ResponseWriter, r *http.Request) {
	u, _ := auth.UserFrom(r.Context())
	s, err := a.expireSilenceAs(r.Context(), u.ID, r.PathValue("id"))
	if errors.Is(err, alerting.ErrNotFound) {
		writeAPI(w, http.StatusNotFound, err)
		return
	}
	if err != nil {
		writeAPI(w, http.StatusInternalServerError, err)
		return
	}
	writeAPI(w, http.StatusOK, s)
}

// expireSilenceAs ends silence id for by and audits it (API and console).
func (a *App) expireSilenceAs(ctx context.Context, by, id string) (*alerting.Silence, error) {
	s, err := a.silencer.Expire(ctx, id)
	if err != nil {
		return nil, err
	}
	a.recordAudit(ctx, by, "expire-silence", s)
	return s, nil
}

// auditExport answers the whole audit log, hash-chained and signed with
// the collector's key: `bulwark verify FILE` checks it.
func (a *App) auditExport(w http.ResponseWriter, r *http.Request) {
	chain, err := a.state.AuditChain(r.Context())
	if err != nil {
		writeAPI(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="bulwark-audit.json"`)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(audit.Sign(chain, a.signer, time.Now()))
}

// signingKey loads the collector's Ed25519 key from dir (creating it the
// first time) and writes its public half beside it, for auditors to pin.
func signingKey(dir string) (ed25519.PrivateKey, error) {
	key, err := audit.LoadOrCreateKey(filepath.Join(dir, "signing.key"))
	if err != nil {
		return nil, err
	}
	pub := base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	if err := os.WriteFile(filepath.Join(dir, "signing.pub"), []byte(pub+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return key, nil
}

func (a *App) auditLog(w http.ResponseWriter, r *http.Request) {
	log, err := a.state.AuditLog(r.Context(), 500)
	if err != nil {
		writeAPI(w, http.StatusInternalServerError, err)
		return
	}
	writeAPI(w, http.StatusOK, log)
}

// audit records who did what; a failure to record is logged, not hidden.
func (a *App) audit(r *http.Request, action string, detail any) {
	u, _ := auth.UserFrom(r.Context())
	a.recordAudit(r.Context(), u.ID, action, detail)
}

// recordAudit records an action by who (a user, or the collector itself
// for what it does on a schedule).
func (a *App) recordAudit(ctx context.Context, who, action string, detail any) {
	if err := a.state.Audit(ctx, who, action, detail); err != nil {
		a.opts.Logger.Error("audit", "action", action, "user", who, "err", err)
	}
}
