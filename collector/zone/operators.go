package zone

import (
	"cmp"
	"slices"
	"strings"

	"github.com/bulwarkhq/bulwark/internal/depgraph"
)

// minTogether is how many delegations must use two unknown name-server
// domains together before they count as one operator: once could be a
// coincidence, a pattern is not.
const minTogether = 2

// groupUnknown joins the unknown operators ("domain:X") that are one
// operator under several top-level domains: the same label under the
// public suffix (uberns.com, uberns.net, uberns.org, uberns.info) and used
// together: at least minTogether delegations use two or more of them. A domain served only by
// that operator then depends on it alone, as it does on a catalogued
// provider with aliases. It rewrites the items' provider to the group's
// most used member and returns every member's canonical key.
func groupUnknown(services []*depgraph.Service) map[string]string {
	g := newGrouping()
	for _, svc := range services {
		g.add(svc)
	}
	canon := g.canon()
	for _, svc := range services {
		canon.apply(svc)
	}
	return canon.keys
}

// grouping counts, one service at a time, what groupUnknown decides on:
// its memory grows with the unknown operators, not with the services.
type grouping struct {
	uses     map[string]int     // unknown operator -> delegations using it
	together map[string]int     // label -> delegations using two or more of its domains
	pairs    map[[2]string]bool // domains used together (sorted: l.Providers is)
}

func newGrouping() *grouping {
	return &grouping{uses: map[string]int{}, together: map[string]int{}, pairs: map[[2]string]bool{}}
}

func (g *grouping) add(svc *depgraph.Service) {
	for _, l := range svc.Layers {
		var unknown []string
		for _, p := range l.Providers {
			if strings.HasPrefix(p, "domain:") {
				unknown = append(unknown, p)
				g.uses[p]++
			}
		}
		counted := map[string]bool{} // a delegation counts once per label
		for i := range unknown {
			for j := i + 1; j < len(unknown); j++ {
				if label := operatorLabel(unknown[i]); label == operatorLabel(unknown[j]) {
					g.pairs[[2]string{unknown[i], unknown[j]}] = true
					if !counted[label] {
						counted[label] = true
						g.together[label]++
					}
				}
			}
		}
	}
}

// canonical is groupUnknown's decision: every grouped operator's canonical
// key, and the name each canonical key is shown with.
type canonical struct {
	keys  map[string]string
	names map[string]string
}

func (g *grouping) canon() canonical {
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if p, ok := parent[x]; ok && p != x {
			r := find(p)
			parent[x] = r
			return r
		}
		return x
	}
	for pair := range g.pairs {
		if g.together[operatorLabel(pair[0])] < minTogether {
			continue
		}
		for _, m := range pair {
			if _, ok := parent[m]; !ok {
				parent[m] = m
			}
		}
		if a, b := find(pair[0]), find(pair[1]); a != b {
			parent[b] = a
		}
	}
	members := map[string][]string{}
	for p := range parent {
		members[find(p)] = append(members[find(p)], p)
	}
	canon := map[string]string{}
	names := map[string]string{}
	for _, ms := range members {
		slices.SortFunc(ms, func(a, b string) int { return cmp.Or(cmp.Compare(g.uses[b], g.uses[a]), cmp.Compare(a, b)) })
		var also []string
		for _, m := range ms {
			canon[m] = ms[0]
			if m != ms[0] {
				also = append(also, strings.TrimPrefix(m, "domain:"))
			}
		}
		names[ms[0]] = ms[0] + " (also " + strings.Join(also, ", ") + ")"
	}
	if len(canon) == 0 {
		return canonical{}
	}
	return canonical{keys: canon, names: names}
}

// apply rewrites the grouped operators of svc to their canonical key.
func (c canonical) apply(svc *depgraph.Service) {
	if len(c.keys) == 0 {
		return
	}
	for _, l := range svc.Layers {
		changed := false
		for i := range l.Items {
			if k, ok := c.keys[l.Items[i].Attr.Provider]; ok {
				l.Items[i].Attr.Provider, l.Items[i].Attr.ProviderName = k, c.names[k]
				changed = true
			}
		}
		if changed {
			l.Providers = providersOf(l)
		}
	}
}

// operatorLabel is the label an operator registered under its public
// suffix: "uberns" for domain:uberns.com and domain:uberns.co.uk.
func operatorLabel(key string) string {
	name := strings.TrimPrefix(key, "domain:")
	label, _, _ := strings.Cut(name, ".")
	return label
}

// ResolveCut names the unknown operators of the cut by their group's key,
// so a cut may name any of the operator's name-server domains, with or
// without "domain:".
func (an *Analysis) ResolveCut(c depgraph.Cut) depgraph.Cut {
	out := c
	out.Providers = slices.Clone(c.Providers)
	for i, p := range out.Providers {
		key := p
		if !strings.HasPrefix(key, "domain:") && strings.Contains(key, ".") {
			key = "domain:" + key
		}
		if k, ok := an.Operators[key]; ok {
			out.Providers[i] = k
		} else if key != p && an.seen(key) {
			out.Providers[i] = key
		}
	}
	return out
}

// seen reports whether any delegation depends on provider key.
func (an *Analysis) seen(key string) bool {
	for _, svc := range an.Services {
		for _, l := range svc.Layers {
			if slices.Contains(l.Providers, key) {
				return true
			}
		}
	}
	return false
}
