// Package alerting turns rule alerts into notifications people act on:
// alerts are routed by their labels, grouped (an outage of a shared
// provider becomes one incident naming it), deduplicated against a
// persistent notification log, and handed to receivers (notify/<kind>/).
// The model is Alertmanager's dispatch and notify pipeline.
package alerting

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/rules"
)

// Alert is one alert instance.
type Alert struct {
	Labels      labels.Labels `json:"labels"`
	Annotations labels.Labels `json:"annotations"`
	StartsAt    time.Time     `json:"startsAt"`
	// EndsAt is when it resolved; zero while it fires.
	EndsAt time.Time `json:"endsAt,omitzero"`
	// ValidUntil is when a firing alert that is not sent again counts as
	// resolved (its rule was removed, or the collector stopped evaluating
	// it), as Alertmanager treats an alert whose EndsAt passes.
	ValidUntil time.Time `json:"-"`
}

// Resolved reports whether the alert has ended.
func (a *Alert) Resolved() bool { return !a.EndsAt.IsZero() }

// Fingerprint identifies the alert by its labels.
func (a *Alert) Fingerprint() uint64 { return a.Labels.Hash() }

// FromRules converts the rule manager's alerts.
func FromRules(in []*rules.Alert) []*Alert {
	out := make([]*Alert, 0, len(in))
	for _, r := range in {
		a := &Alert{Labels: r.Labels, Annotations: r.Annotations, StartsAt: r.ActiveAt, ValidUntil: r.ValidUntil}
		if !r.FiredAt.IsZero() {
			a.StartsAt = r.FiredAt
		}
		if !r.ResolvedAt.IsZero() {
			a.EndsAt = r.ResolvedAt
		}
		out = append(out, a)
	}
	return out
}

// Cause is a dependency several alerting services share: the probable
// common cause of their outage.
type Cause struct {
	Layer        string   `json:"layer"`
	Provider     string   `json:"provider"`
	Name         string   `json:"name"`
	Jurisdiction string   `json:"jurisdiction"`
	Targets      []string `json:"targets"`
	Evidence     string   `json:"evidence"`
}

// Notification is what a receiver is given: one group of alerts.
type Notification struct {
	Receiver    string            `json:"receiver"`
	GroupKey    string            `json:"groupKey"`
	GroupLabels map[string]string `json:"groupLabels"`
	Status      string            `json:"status"` // firing, or resolved when every alert has
	Alerts      []*Alert          `json:"alerts"`
	// Cause, when set, is the dependency the group's services share.
	Cause *Cause `json:"cause,omitempty"`
	// Ack, when set, says who has taken the incident.
	Ack *Ack `json:"ack,omitempty"`
	// Thread is the receiver's reference for the incident's first message
	// (a Slack ts), kept in the notification log across restarts.
	Thread string `json:"-"`
	// ID identifies this notification: its incident and the incident's
	// state version. A notification sent again after a crash keeps its ID,
	// so a receiver can drop the second copy.
	ID string `json:"id,omitempty"`
	// Incident identifies the firing episode; StartsAt is when it began
	// (kept across restarts).
	Incident string    `json:"incident,omitempty"`
	StartsAt time.Time `json:"startsAt,omitzero"`
}

// Firing returns the alerts still firing.
func (n *Notification) Firing() []*Alert {
	var out []*Alert
	for _, a := range n.Alerts {
		if !a.Resolved() {
			out = append(out, a)
		}
	}
	return out
}

// Receiver delivers notifications. A failure says whether a retry may
// succeed (Alertmanager's notify.Notifier contract).
type Receiver interface {
	Notify(ctx context.Context, n *Notification) (retry bool, err error)
}

// Affected counts the distinct targets among the alerts.
func (n *Notification) Affected() int {
	seen := map[string]bool{}
	for _, a := range n.Alerts {
		seen[a.Labels.Get("target")] = true
	}
	return len(seen)
}

// ThreadReceiver is a Receiver that threads follow-ups under the group's
// first message; it returns that message's reference.
type ThreadReceiver interface {
	NotifyThread(ctx context.Context, n *Notification) (thread string, retry bool, err error)
}

// setHash summarises the firing and resolved sets of alerts, so the same
// notification is not sent twice.
func setHash(alerts []*Alert) (firing, resolved [32]byte) {
	var fs, rs []uint64
	for _, a := range alerts {
		if a.Resolved() {
			rs = append(rs, a.Fingerprint())
		} else {
			fs = append(fs, a.Fingerprint())
		}
	}
	return hashSorted(fs), hashSorted(rs)
}

func hashSorted(fps []uint64) [32]byte {
	slices.SortFunc(fps, cmp.Compare)
	h := sha256.New()
	var b [8]byte
	for _, f := range fps {
		binary.BigEndian.PutUint64(b[:], f)
		h.Write(b[:])
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}
