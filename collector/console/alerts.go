package console

import (
	"cmp"
	"net/http"
	"slices"
	"time"
)

// Alert is an active alert as the console lists it.
type Alert struct {
	Name, State, Severity, Classification string
	Target, Agent, Summary                string
	Since                                 time.Time
	Silenced                              bool
	Drill                                 string // the drill whose series it is on, "" in production
}

// Incident is a notification group: its services, the dependency they
// probably share, and who has taken it.
type Incident struct {
	ID       string // the short id the ack form and `bulwark alerts ack` take
	Labels   string // the group's labels, e.g. classification=down-everywhere
	Receiver string
	Services []string
	Cause    string // the probable shared cause, "" when none
	Ack      string // who acknowledged it, when, and why; "" when nobody
	Silenced int    // alerts of the group muted by silences
}

// Silence is an active silence or maintenance window.
type Silence struct {
	ID, Matchers, Window, By, Comment string
	Until                             time.Time
}

// AlertState is what the collector's alerting holds now.
type AlertState struct {
	Enabled   bool // rules evaluate
	Alerts    []Alert
	Incidents []Incident
	Silences  []Silence
}

// alertState asks the collector, ordered for reading: firing before
// pending, pages before tickets.
func (c *Console) alertState() AlertState {
	if c.opts.Alerting == nil {
		return AlertState{}
	}
	st := c.opts.Alerting()
	rank := map[string]int{"firing": 0, "pending": 1}
	sev := map[string]int{"page": 0, "warning": 1, "ticket": 2}
	slices.SortStableFunc(st.Alerts, func(a, b Alert) int {
		return cmp.Or(cmp.Compare(rank[a.State], rank[b.State]), cmp.Compare(sev[a.Severity], sev[b.Severity]),
			cmp.Compare(a.Name, b.Name), cmp.Compare(a.Target+a.Agent, b.Target+b.Agent))
	})
	return st
}

func (c *Console) alerts(w http.ResponseWriter, r *http.Request) {
	c.showAlerts(w, r, http.StatusOK, "")
}

// showAlerts renders the alerts page for its viewer, with the error of a
// form that failed.
func (c *Console) showAlerts(w http.ResponseWriter, r *http.Request, code int, msg string) {
	page := struct {
		Now   time.Time
		Drill *drillView
		AlertState
		Firing int
		Viewer viewer
		Error  string
	}{Now: c.opts.Now().UTC(), Drill: c.drillBanner(), AlertState: c.alertState(), Viewer: viewerOf(r), Error: msg}
	for _, a := range page.Alerts {
		if a.State == "firing" {
			page.Firing++
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if err := c.tmpl.ExecuteTemplate(w, "alerts.html", page); err != nil {
		c.opts.Logger.Error("console: render", "page", "alerts.html", "err", err)
	}
}
