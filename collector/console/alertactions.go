package console

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/bulwarkhq/bulwark/collector/auth"
)

// SilenceForm is a silence as the alerts page's form gives it.
type SilenceForm struct {
	// Match is Alertmanager's matcher syntax, e.g. target="gas-transport".
	Match string
	// EndsAt ends it; For instead gives its length (a Go duration).
	EndsAt time.Time
	For    string
	// Schedule (cron) and Window make it a recurring maintenance window.
	Schedule, Window string
	Comment          string
}

// errNoAlerting answers a form when the collector runs no alerting.
var errNoAlerting = errors.New("alerting is not running on this collector")

// viewer is who looks at a page, and what the page's forms need.
type viewer struct {
	User    auth.User
	Session bool   // logged in with a password (shows Log out)
	CSRF    string // the session's synchronizer token for every form
	CanAct  bool   // an operator: the page shows its forms
}

func viewerOf(r *http.Request) viewer {
	u, _ := auth.UserFrom(r.Context())
	v := viewer{User: u, CanAct: u.Role.Includes(auth.RoleOperator)}
	if s, ok := auth.SessionFrom(r.Context()); ok {
		v.Session, v.CSRF = true, s.CSRF
	}
	return v
}

// done answers a form: back to the alerts page when it worked, the page
// with the error otherwise.
func (h *access) done(w http.ResponseWriter, r *http.Request, err error, code int) {
	if err == nil {
		http.Redirect(w, r, "/alerts", http.StatusSeeOther)
		return
	}
	h.c.showAlerts(w, r, code, err.Error())
}

func (h *access) ack(w http.ResponseWriter, r *http.Request) {
	u, _ := auth.UserFrom(r.Context())
	incident := strings.TrimSpace(r.PostFormValue("incident"))
	if incident == "" {
		h.done(w, r, errors.New("acknowledge: which incident?"), http.StatusBadRequest)
		return
	}
	if h.a.Acknowledge == nil {
		h.done(w, r, errNoAlerting, http.StatusServiceUnavailable)
		return
	}
	h.done(w, r, h.a.Acknowledge(r.Context(), u.ID, incident, r.PostFormValue("comment")), http.StatusBadRequest)
}

func (h *access) silence(w http.ResponseWriter, r *http.Request) {
	u, _ := auth.UserFrom(r.Context())
	f := SilenceForm{Match: strings.TrimSpace(r.PostFormValue("match")), For: strings.TrimSpace(r.PostFormValue("for")),
		Schedule: strings.TrimSpace(r.PostFormValue("schedule")), Window: strings.TrimSpace(r.PostFormValue("window")),
		Comment: strings.TrimSpace(r.PostFormValue("comment"))}
	if f.Match == "" || f.Comment == "" {
		h.done(w, r, errors.New("silence: matchers and a comment are required"), http.StatusBadRequest)
		return
	}
	if ends := r.PostFormValue("ends"); ends != "" {
		// <input type=datetime-local> sends no zone: the page says UTC.
		t, err := time.ParseInLocation("2006-01-02T15:04", ends, time.UTC)
		if err != nil {
			h.done(w, r, errors.New("silence: the end time must be YYYY-MM-DDTHH:MM (UTC)"), http.StatusBadRequest)
			return
		}
		f.EndsAt = t
	}
	if f.EndsAt.IsZero() && f.For == "" {
		h.done(w, r, errors.New("silence: give an end time or a length"), http.StatusBadRequest)
		return
	}
	if h.a.Silence == nil {
		h.done(w, r, errNoAlerting, http.StatusServiceUnavailable)
		return
	}
	h.done(w, r, h.a.Silence(r.Context(), u.ID, f), http.StatusBadRequest)
}

func (h *access) expire(w http.ResponseWriter, r *http.Request) {
	u, _ := auth.UserFrom(r.Context())
	if h.a.ExpireSilence == nil {
		h.done(w, r, errNoAlerting, http.StatusServiceUnavailable)
		return
	}
	h.done(w, r, h.a.ExpireSilence(r.Context(), u.ID, r.PathValue("id")), http.StatusNotFound)
}
