package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"
	"github.com/robfig/cron/v3"

	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/alerting/notify/slack"
	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/internal/audit"
	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/playbooks"
	"github.com/bulwarkhq/bulwark/playbooks/runner"
	"github.com/bulwarkhq/bulwark/playbooks/step"
)

// newPlaybooks loads the configured playbooks and the runner that runs
// them with the collector's receivers, engine and state database.
func (a *App) newPlaybooks(engine *promql.Engine) error {
	cfg := a.opts.Config
	env := cfg.PlaybookEnv()
	pbs, err := playbooks.LoadGlobs(cfg.Playbooks.Files, env)
	if err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	a.playbooks = map[string]*playbooks.Playbook{}
	for _, pb := range pbs {
		a.playbooks[pb.Name] = pb
	}
	rt := &step.Runtime{Env: env,
		ReadSecret: func(path string) (string, error) { return configfile.Secret(path, "") },
		Notify:     a.notifyText,
		Ask:        a.askApproval,
		Query: func(ctx context.Context, q string) (int, error) {
			qry, err := engine.NewInstantQuery(ctx, a.store, nil, q, time.Now())
			if err != nil {
				return 0, err
			}
			defer qry.Close()
			v, err := qry.Exec(ctx).Vector()
			return len(v), err
		}}
	a.runner, err = runner.New(context.Background(), runner.Options{Store: a.state, Runtime: rt,
		Playbooks: func() map[string]*playbooks.Playbook { return a.playbooks }, Logger: a.opts.Logger.With("component", "playbooks")})
	if err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	return nil
}

// notifyText tells a receiver of the alerting configuration a playbook's text.
func (a *App) notifyText(ctx context.Context, receiver, text string) error {
	rcv, ok := a.receiverMap[receiver]
	if !ok {
		return fmt.Errorf("no receiver %q", receiver)
	}
	n := &alerting.Notification{Receiver: receiver, Status: "firing", GroupKey: "playbook",
		Alerts: []*alerting.Alert{{Labels: labels.FromStrings("alertname", "Playbook"), Annotations: labels.FromStrings("summary", text), StartsAt: time.Now()}}}
	_, err := rcv.Notify(ctx, n)
	return err
}

// askApproval puts a playbook's approval question to a receiver: a Slack
// receiver shows an Approve button, any other gets the text with the
// command that approves.
func (a *App) askApproval(ctx context.Context, receiver string, q step.Question) error {
	title := fmt.Sprintf("Playbook %s waits for an approval (%s)", q.Playbook, q.Step)
	if q.Drill != "" {
		title = "[drill " + q.Drill + "] " + title
	}
	text := fmt.Sprintf("%s\nA user with the %s role approves: `bulwark playbook approve %s --step %s`", q.Prompt, q.Role, q.Run, q.Step)
	if s, ok := a.receiverMap[receiver].(*slack.Receiver); ok {
		// The button names the step and the run's version, not only the
		// run: a replayed click cannot approve a later step.
		return s.AskApproval(ctx, slack.ApprovalValue(slack.Approval{Run: q.Run, Step: q.Step, Version: q.Version}), title, text)
	}
	return a.notifyText(ctx, receiver, title+": "+text)
}

// startPlaybooks starts, once per alert instance, the playbooks whose alert
// triggers match a firing alert.
func (a *App) startPlaybooks(alerts []*rules.Alert) {
	if a.runner == nil || a.runCtx == nil {
		return
	}
	for _, al := range alerts {
		if al.State != rules.StateFiring || !al.ResolvedAt.IsZero() {
			continue
		}
		for _, pb := range a.playbooks {
			for _, tr := range pb.Triggers {
				if len(tr.Alert) == 0 || !matchAll(al.Labels, tr.Alert) {
					continue
				}
				key := fmt.Sprintf("%x@%d", al.Labels.Hash(), al.ActiveAt.Unix())
				// An alert of a drill's series runs the playbook in drill mode.
				drill := al.Labels.Get("drill")
				run, err := a.runner.Start(a.runCtx, pb, key, "alert:"+al.Labels.Get("alertname"), drill, "bulwark", nil, al.Labels.Map())
				if err != nil {
					a.opts.Logger.Warn("playbook not started", "playbook", pb.Name, "alert", al.Labels.String(), "err", err)
					break
				}
				if drill != "" && a.drills != nil {
					if err := a.drills.AddRun(a.runCtx, drill, run.ID); err != nil {
						a.opts.Logger.Warn("drill run not recorded", "drill", drill, "err", err)
					}
				}
				break
			}
		}
	}
}

func matchAll(ls labels.Labels, want map[string]string) bool {
	for k, v := range want {
		if ls.Get(k) != v {
			return false
		}
	}
	return true
}

// The playbook API: viewers read, operators start and tick, approvals
// need the role the step names, admins hold the kill switch. Every action
// is in the audit log.

func (a *App) playbookList(w http.ResponseWriter, _ *http.Request) {
	type stepView struct{ Name, Kind string }
	type view struct {
		Name, Owner, Description string
		Triggers                 []playbooks.Trigger
		Inputs                   []playbooks.Input
		Steps                    []stepView
	}
	out := []view{}
	for _, pb := range a.playbooks {
		v := view{Name: pb.Name, Owner: pb.Owner, Description: pb.Description, Triggers: pb.Triggers, Inputs: pb.Inputs}
		for _, s := range pb.Steps {
			kind := "parallel"
			if sp := s.Spec(); sp != nil {
				kind = sp.Kind()
			}
			v.Steps = append(v.Steps, stepView{s.Name, kind})
		}
		out = append(out, v)
	}
	writeAPI(w, http.StatusOK, out)
}

func (a *App) playbookRuns(w http.ResponseWriter, r *http.Request) {
	if id := r.PathValue("id"); id != "" {
		run, ok := a.runner.Get(id)
		if !ok {
			writeAPI(w, http.StatusNotFound, "no run "+strconv.Quote(id))
			return
		}
		writeAPI(w, http.StatusOK, run)
		return
	}
	writeAPI(w, http.StatusOK, a.runner.List())
}

// playbookRunExport answers a run's timeline, hash-chained and signed
// with the collector's key, as the audit export is: `bulwark verify`
// checks it.
func (a *App) playbookRunExport(w http.ResponseWriter, r *http.Request) {
	run, ok := a.runner.Get(r.PathValue("id"))
	if !ok {
		writeAPI(w, http.StatusNotFound, "no run "+strconv.Quote(r.PathValue("id")))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="bulwark-run-`+run.ID+`.json"`)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(audit.Sign(run.Timeline, a.signer, time.Now()))
}

func (a *App) playbookRun(w http.ResponseWriter, r *http.Request) {
	pb, ok := a.playbooks[r.PathValue("name")]
	if !ok {
		writeAPI(w, http.StatusNotFound, "no playbook "+strconv.Quote(r.PathValue("name")))
		return
	}
	var req struct {
		Inputs map[string]string `json:"inputs"`
		Drill  string            `json:"drill"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeAPI(w, http.StatusBadRequest, err)
		return
	}
	u, _ := auth.UserFrom(r.Context())
	key := "manual:" + u.ID + ":" + strconv.FormatInt(time.Now().UnixNano(), 36)
	run, err := a.runner.Start(a.runCtx, pb, key, "manual", req.Drill, u.ID, req.Inputs, nil)
	if err != nil {
		writeAPI(w, http.StatusConflict, err)
		return
	}
	a.audit(r, "playbook.run", map[string]string{"playbook": pb.Name, "run": run.ID, "drill": req.Drill})
	writeAPI(w, http.StatusOK, run)
}

// playbookAnswer approves a step or ticks an item. An approval names the
// step it approves (and may name the run's version it saw): a resent or
// late request cannot approve the step after the one it meant.
func (a *App) playbookAnswer(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Comment string `json:"comment"`
		Item    string `json:"item"`
		Step    string `json:"step"`
		Version int64  `json:"version"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeAPI(w, http.StatusBadRequest, err)
		return
	}
	u, _ := auth.UserFrom(r.Context())
	id := r.PathValue("id")
	var err error
	action := "playbook.approve"
	detail := map[string]any{"run": id, "item": req.Item, "comment": req.Comment}
	if strings.HasSuffix(r.URL.Path, "/tick") {
		action = "playbook.tick"
		err = a.runner.Tick(r.Context(), id, u.ID, req.Item)
	} else {
		if req.Step == "" {
			writeAPI(w, http.StatusBadRequest, "an approval names the step it approves: {\"step\": NAME}")
			return
		}
		detail = map[string]any{"run": id, "step": req.Step, "version": req.Version, "comment": req.Comment}
		err = a.runner.Approve(r.Context(), runner.Approval{Run: id, Step: req.Step, Version: req.Version, User: u.ID, Role: string(u.Role), Comment: req.Comment})
		if errors.Is(err, runner.ErrStale) || errors.Is(err, runner.ErrNotNow) {
			detail["refused"] = err.Error()
			a.audit(r, "playbook.approve-refused", detail)
		}
	}
	if err != nil {
		writeAPI(w, http.StatusConflict, err)
		return
	}
	a.audit(r, action, detail)
	run, _ := a.runner.Get(id)
	writeAPI(w, http.StatusOK, run)
}

func (a *App) playbookKill(w http.ResponseWriter, r *http.Request) {
	var req struct {
		On bool `json:"on"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeAPI(w, http.StatusBadRequest, err)
		return
	}
	a.runner.Kill(req.On)
	a.audit(r, "playbook.kill", req)
	writeAPI(w, http.StatusOK, req)
}

// runSchedules starts the playbooks with schedule triggers at their times
// (cron, in their time zone), once per scheduled time, until ctx ends.
func (a *App) runSchedules(ctx context.Context) {
	var jobs []*cronJob
	for _, pb := range a.playbooks {
		for _, tr := range pb.Triggers {
			if tr.Schedule == "" {
				continue
			}
			spec := tr.Schedule
			if tr.TZ != "" {
				spec = "CRON_TZ=" + tr.TZ + " " + spec
			}
			s, err := cron.ParseStandard(spec)
			if err != nil {
				continue // checked when loaded
			}
			jobs = append(jobs, &cronJob{sched: s, fire: func(ctx context.Context, at time.Time) {
				key := "schedule@" + at.UTC().Format(time.RFC3339)
				done, ok := a.onceAcross(ctx, "playbook "+pb.Name+" "+key, "playbook "+pb.Name+" "+key)
				if !ok {
					return // another collector sharing the state starts it
				}
				defer done()
				if _, err := a.runner.Start(ctx, pb, key, "schedule", "", "bulwark", nil, nil); err != nil {
					a.opts.Logger.Warn("scheduled playbook not started", "playbook", pb.Name, "err", err)
				}
			}})
		}
	}
	runCron(ctx, jobs)
}

// cronJob is called at the times of its schedule.
type cronJob struct {
	sched cron.Schedule
	fire  func(ctx context.Context, at time.Time) // at: the scheduled time
	next  time.Time
}

// runCron calls each job once per scheduled time until ctx ends.
func runCron(ctx context.Context, jobs []*cronJob) {
	if len(jobs) == 0 {
		return
	}
	now := time.Now()
	for _, j := range jobs {
		j.next = j.sched.Next(now)
	}
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		soonest := jobs[0].next
		for _, j := range jobs {
			if j.next.Before(soonest) {
				soonest = j.next
			}
		}
		t.Reset(time.Until(soonest))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		for _, j := range jobs {
			if now.Before(j.next) {
				continue
			}
			j.fire(ctx, j.next)
			j.next = j.sched.Next(now)
		}
	}
}
