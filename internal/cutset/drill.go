// Package cutset is the cut-set a failover drill hands to the agents: the
// address ranges and name-server names they must treat as lost. Agents
// refuse to dial those addresses and fail a resolution whose name servers
// are all cut, so the nation's real services are probed as if the cut had
// happened, without touching them. A cut-set carries its own expiry, which
// the agent enforces with its own clock: an agent returns to normal on
// time even when the collector dies mid-drill.
//
// Both the agent and the collector import this package; it imports
// neither.
package cutset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Bounds on a cut-set: it is input to the agent, read while decoding.
const (
	MaxPrefixes = 100_000
	MaxNames    = 10_000
	MaxBytes    = 8 << 20
	// MaxDuration is the longest drill: a forgotten one must end by itself.
	MaxDuration = 24 * time.Hour
)

// Cut is what a running drill removes, as agents enforce it.
type Cut struct {
	// ID names the drill; every series probed under the cut carries it
	// as the drill label.
	ID string `json:"id"`
	// Scenario says in words what is cut ("country XC").
	Scenario string `json:"scenario"`
	// Prefixes are refused as destinations: dials fail, and a name server
	// whose addresses are all inside them does not answer.
	Prefixes []netip.Prefix `json:"prefixes"`
	// Names are name-server host names that do not answer.
	Names []string `json:"names,omitempty"`
	// Starts and Expires bound the cut; outside them an agent ignores it.
	Starts  time.Time `json:"starts"`
	Expires time.Time `json:"expires"`
}

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ValidID reports whether s can name a drill (it becomes a label value
// and a file name).
func ValidID(s string) bool { return idRE.MatchString(s) }

// Validate checks the bounds and shape of c.
func (c *Cut) Validate() error {
	switch {
	case !ValidID(c.ID):
		return fmt.Errorf("drill id %q: want lower-case letters, digits and '-', at most 63", c.ID)
	case c.Starts.IsZero() || c.Expires.IsZero():
		return fmt.Errorf("drill %s: starts and expires are required", c.ID)
	case !c.Expires.After(c.Starts):
		return fmt.Errorf("drill %s: expires %s is not after starts %s", c.ID, c.Expires.Format(time.RFC3339), c.Starts.Format(time.RFC3339))
	case c.Expires.Sub(c.Starts) > MaxDuration:
		return fmt.Errorf("drill %s: lasts %s, longer than the limit of %s", c.ID, c.Expires.Sub(c.Starts), MaxDuration)
	case len(c.Prefixes) > MaxPrefixes:
		return fmt.Errorf("drill %s: %d prefixes, more than the limit of %d", c.ID, len(c.Prefixes), MaxPrefixes)
	case len(c.Names) > MaxNames:
		return fmt.Errorf("drill %s: %d names, more than the limit of %d", c.ID, len(c.Names), MaxNames)
	case len(c.Prefixes)+len(c.Names) == 0:
		return fmt.Errorf("drill %s: cuts nothing", c.ID)
	}
	for _, p := range c.Prefixes {
		if !p.IsValid() {
			return fmt.Errorf("drill %s: invalid prefix", c.ID)
		}
	}
	return nil
}

// Active reports whether c is in force at now. A nil cut never is.
func (c *Cut) Active(now time.Time) bool {
	return c != nil && !now.Before(c.Starts) && now.Before(c.Expires)
}

// Decode reads one cut-set of at most MaxBytes, strictly, and validates it.
func Decode(r io.Reader) (*Cut, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("drill: read: %w", err)
	}
	if len(b) > MaxBytes {
		return nil, fmt.Errorf("drill: cut-set larger than %d bytes", MaxBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var c Cut
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("drill: decode: %w", err)
	}
	if dec.More() {
		return nil, errors.New("drill: trailing data after the cut-set")
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("drill: %w", err)
	}
	return c.Compile(), nil
}

// Compile sorts and merges c's prefixes and lower-cases its names for the
// lookups of Refuses and RefusesName; it returns c.
func (c *Cut) Compile() *Cut {
	for i, p := range c.Prefixes {
		c.Prefixes[i] = p.Masked()
	}
	// Sorted by first address, a covering prefix comes before those it
	// covers: keep only the outermost, so no two overlap and the one
	// prefix that can hold an address is the last starting at or before it.
	slices.SortFunc(c.Prefixes, comparePrefix)
	kept := c.Prefixes[:0]
	for _, p := range c.Prefixes {
		if n := len(kept); n > 0 && kept[n-1].Contains(p.Addr()) {
			continue
		}
		kept = append(kept, p)
	}
	c.Prefixes = kept
	for i, n := range c.Names {
		c.Names[i] = strings.ToLower(strings.TrimSuffix(n, "."))
	}
	slices.Sort(c.Names)
	c.Names = slices.Compact(c.Names)
	return c
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// Refuses reports whether addr lies inside the cut. Prefixes must be
// compiled (Decode and Compile do it).
func (c *Cut) Refuses(addr netip.Addr) bool {
	if c == nil || !addr.IsValid() {
		return false
	}
	addr = addr.Unmap()
	i, found := slices.BinarySearchFunc(c.Prefixes, addr, func(p netip.Prefix, a netip.Addr) int { return p.Addr().Compare(a) })
	if found {
		return true
	}
	return i > 0 && c.Prefixes[i-1].Contains(addr)
}

// RefusesName reports whether the name server host is cut by name.
func (c *Cut) RefusesName(host string) bool {
	if c == nil || len(c.Names) == 0 {
		return false
	}
	_, ok := slices.BinarySearch(c.Names, strings.ToLower(strings.TrimSuffix(host, ".")))
	return ok
}
