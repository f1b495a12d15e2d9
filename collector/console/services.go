package console

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// stateFilters are the values of /services?state=: a classification, or
// a group of them.
var stateFilters = []string{"problem", "down", "down-everywhere", "down-from-abroad-only", "down-from-home-only",
	"down-on-one-vantage", "partial", "no-data", "up", "unlisted"}

// keep says whether a service in state s passes the state filter f.
func keep(f, s string) bool {
	switch f {
	case "":
		return true
	case "problem":
		return rank(s) <= 2
	case "down":
		return rank(s) <= 1
	}
	return f == s
}

// ServiceQuery is a services page's filter, search and page.
type ServiceQuery struct {
	State, Sector, Q string
	Page             int // from 1
}

func parseServiceQuery(v url.Values) ServiceQuery {
	q := ServiceQuery{State: v.Get("state"), Sector: v.Get("sector"), Q: strings.TrimSpace(v.Get("q"))}
	if !slices.Contains(stateFilters, q.State) {
		q.State = ""
	}
	q.Page, _ = strconv.Atoi(v.Get("page"))
	q.Page = max(q.Page, 1)
	return q
}

// URL is the services page of q at page p.
func (q ServiceQuery) URL(p int) string {
	v := url.Values{}
	for k, s := range map[string]string{"state": q.State, "sector": q.Sector, "q": q.Q} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if p > 1 {
		v.Set("page", strconv.Itoa(p))
	}
	if len(v) == 0 {
		return "/services"
	}
	return "/services?" + v.Encode()
}

// Filter keeps the services q selects, in their order.
func (q ServiceQuery) Filter(services []*Service) []*Service {
	needle := strings.ToLower(q.Q)
	out := make([]*Service, 0, len(services))
	for _, s := range services {
		if keep(q.State, s.State) && (q.Sector == "" || s.Sector == q.Sector) &&
			(needle == "" || strings.Contains(strings.ToLower(s.Target), needle)) {
			out = append(out, s)
		}
	}
	return out
}

type servicesPage struct {
	Now      time.Time
	Drill    *drillView
	Query    ServiceQuery
	States   []string
	Sectors  []string
	Counts   counts // of every service, before the filter
	Matched  int
	Services []*Service // this page's
	From     int        // index (from 1) of the first listed
	Pages    int
	Prev     string
	Next     string
	Err      string
}

func (c *Console) services(w http.ResponseWriter, r *http.Request) {
	page := servicesPage{Now: c.opts.Now().UTC(), Drill: c.drillBanner(), Query: parseServiceQuery(r.URL.Query()), States: stateFilters}
	all, err := c.collect(r.Context(), page.Now, "")
	if err != nil {
		page.Err = err.Error()
		c.opts.Logger.Error("console: services", "err", err)
	}
	page.Counts = tally(all)
	for _, s := range all {
		if !slices.Contains(page.Sectors, s.Sector) {
			page.Sectors = append(page.Sectors, s.Sector)
		}
	}
	slices.Sort(page.Sectors)
	matched := page.Query.Filter(all)
	page.Matched = len(matched)
	size := c.opts.PageSize
	page.Pages = max(1, (len(matched)+size-1)/size)
	page.Query.Page = min(page.Query.Page, page.Pages)
	lo := (page.Query.Page - 1) * size
	page.Services = matched[lo:min(lo+size, len(matched))]
	page.From = lo + 1
	if page.Query.Page > 1 {
		page.Prev = page.Query.URL(page.Query.Page - 1)
	}
	if page.Query.Page < page.Pages {
		page.Next = page.Query.URL(page.Query.Page + 1)
	}
	c.attachAlerts(page.Services, c.alertState().Alerts)
	c.render(w, "services.html", page)
}
