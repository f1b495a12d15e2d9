package alerting

import (
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// silenceIndex finds the silences that may mute a label set without
// looking at every silence ever made: the silences not yet ended, by the
// name and value of their first equality matcher (a silence mutes only
// label sets with that pair), and the rest (regexp matchers only) apart.
type silenceIndex struct {
	byLabel map[string]map[string][]*Silence
	other   []*Silence
	until   time.Time // the first end of an indexed silence: rebuild then
}

// farFuture stands for "no silence ends": the index holds until changed.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

func buildIndex(silences []*Silence, now time.Time) *silenceIndex {
	idx := &silenceIndex{byLabel: map[string]map[string][]*Silence{}, until: farFuture}
	for _, x := range silences {
		if !now.Before(x.EndsAt) {
			continue // ended: only List still shows it
		}
		if x.EndsAt.Before(idx.until) {
			idx.until = x.EndsAt
		}
		names := make([]string, 0, len(x.Matchers))
		for k, v := range x.Matchers {
			if v != "" { // name="" matches label sets without it: not indexable
				names = append(names, k)
			}
		}
		if len(names) == 0 {
			idx.other = append(idx.other, x)
			continue
		}
		name := slices.Min(names)
		byValue := idx.byLabel[name]
		if byValue == nil {
			byValue = map[string][]*Silence{}
			idx.byLabel[name] = byValue
		}
		byValue[x.Matchers[name]] = append(byValue[x.Matchers[name]], x)
	}
	return idx
}

// muting returns an indexed silence muting ls at now, if any.
func (idx *silenceIndex) muting(ls labels.Labels, now time.Time) *Silence {
	var found *Silence
	ls.Range(func(l labels.Label) {
		if found != nil {
			return
		}
		for _, x := range idx.byLabel[l.Name][l.Value] {
			if x.Mutes(ls, now) {
				found = x
				return
			}
		}
	})
	if found != nil {
		return found
	}
	for _, x := range idx.other {
		if x.Mutes(ls, now) {
			return x
		}
	}
	return nil
}
