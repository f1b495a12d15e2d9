package alerting

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/bulwarkhq/bulwark/internal/suggest"
)

// ShortID is an incident's short id: the first 8 hex digits of its group
// key's SHA-256, typed without shell quoting (`bulwark alerts ack 3f9a2c1b`).
func ShortID(groupKey string) string {
	h := sha256.Sum256([]byte(groupKey))
	return hex.EncodeToString(h[:4])
}

// UnknownIncidentError is the error of a reference to no open incident;
// it names the nearest ones. errors.Is(err, ErrNotFound) holds.
type UnknownIncidentError struct {
	Ref  string
	Near []string // "id key" of the nearest open incidents, nearest first
}

func (e *UnknownIncidentError) Error() string {
	if len(e.Near) == 0 {
		return fmt.Sprintf("no open incident %q (none is open)", e.Ref)
	}
	return fmt.Sprintf("no open incident %q; nearest: %s", e.Ref, strings.Join(e.Near, "; "))
}

// Unwrap makes the error an ErrNotFound.
func (e *UnknownIncidentError) Unwrap() error { return ErrNotFound }

// maxNear bounds the incidents an UnknownIncidentError names.
const maxNear = 3

// FindIncident returns the incident of list that ref names, by group key
// or short id; otherwise an *UnknownIncidentError naming the nearest.
func FindIncident(list []Incident, ref string) (Incident, error) {
	type near struct {
		d    int
		text string
	}
	var all []near
	for _, in := range list {
		id := ShortID(in.GroupKey)
		if ref == in.GroupKey || strings.EqualFold(ref, id) {
			return in, nil
		}
		all = append(all, near{min(suggest.Distance(ref, id), suggest.Distance(ref, in.GroupKey)), id + " " + in.GroupKey})
	}
	slices.SortStableFunc(all, func(a, b near) int { return cmp.Compare(a.d, b.d) })
	e := &UnknownIncidentError{Ref: ref}
	for _, n := range all[:min(len(all), maxNear)] {
		e.Near = append(e.Near, n.text)
	}
	return Incident{}, e
}
