package alerting

import (
	"errors"
	"strings"
	"testing"
)

// Issue 20, defect 12: an incident is found by its key or short id; an
// unknown reference is ErrNotFound naming the nearest open incidents.
func TestFindIncident(t *testing.T) {
	keys := []string{`{}/duty:{classification="down-everywhere"}`, `{}/duty:{classification="down-from-abroad-only"}`,
		`{}/{sector="energy"}/energy:{classification="down-everywhere"}`, `{}/duty:{classification="no-data"}`}
	var list []Incident
	for _, k := range keys {
		list = append(list, Incident{GroupKey: k})
	}
	id := ShortID(keys[2])
	if len(id) != 8 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Fatalf("short id %q", id)
	}
	for _, ref := range []string{keys[2], id, strings.ToUpper(id)} {
		if in, err := FindIncident(list, ref); err != nil || in.GroupKey != keys[2] {
			t.Errorf("%q: %v %v", ref, in.GroupKey, err)
		}
	}
	typo := id[:7] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", id[7])+1)%16])
	_, err := FindIncident(list, typo)
	var ue *UnknownIncidentError
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &ue) || len(ue.Near) != maxNear || ue.Near[0] != id+" "+keys[2] {
		t.Errorf("a mistyped id: %v", err)
	}
	if _, err := FindIncident(nil, "x"); err == nil || err.Error() != `no open incident "x" (none is open)` {
		t.Errorf("no incidents: %v", err)
	}
}
