package console

import (
	"context"
	"net/http"
	"time"
)

// problemsShown bounds the overview's list of problems; the rest are a
// link to the services page filtered on them.
const problemsShown = 50

// drillView is a running drill as the banner on every page shows it; the
// overview adds what the drill's own series say (Lost, Probed, Firing).
type drillView struct {
	*Drill
	Computed bool
	Lost     []*Service // down from at least one side under the cut
	Probed   int
	Firing   int
}

// drillBanner gives the banner of the drill running now, nil when none.
func (c *Console) drillBanner() *drillView {
	if c.opts.Drill == nil {
		return nil
	}
	d := c.opts.Drill()
	if d == nil {
		return nil
	}
	return &drillView{Drill: d}
}

// drillLosses fills dv from the drill's own series at ts.
func (c *Console) drillLosses(ctx context.Context, ts time.Time, dv *drillView, alerts []Alert) error {
	services, err := c.collect(ctx, ts, dv.ID)
	if err != nil {
		return err
	}
	dv.Computed = true
	for _, s := range services {
		if len(s.Checks) == 0 {
			continue
		}
		dv.Probed++
		if s.Down() {
			dv.Lost = append(dv.Lost, s)
		}
	}
	for _, a := range alerts {
		if a.Drill == dv.ID && a.State == "firing" {
			dv.Firing++
		}
	}
	return nil
}

// counts tallies services by how bad they are.
type counts struct {
	Services, DownEverywhere, DownOneSide, Degraded, NoData, Up, Unlisted int
}

func tally(services []*Service) counts {
	n := counts{Services: len(services)}
	for _, s := range services {
		switch s.State {
		case "down-everywhere":
			n.DownEverywhere++
		case "down-from-abroad-only", "down-from-home-only":
			n.DownOneSide++
		case "down-on-one-vantage", "partial":
			n.Degraded++
		case "no-data":
			n.NoData++
		case "up":
			n.Up++
		default:
			n.Unlisted++
		}
	}
	return n
}

type overviewPage struct {
	Now      time.Time
	Drill    *drillView
	Counts   counts
	Problems []*Service // down or degraded, worst first
	More     int        // problems not listed
	Sectors  []*Sector
	Firing   int // production alerts firing
	Err      string
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	page := overviewPage{Now: c.opts.Now().UTC(), Drill: c.drillBanner()}
	services, err := c.collect(r.Context(), page.Now, "")
	if err != nil {
		page.Err = err.Error()
		c.opts.Logger.Error("console: overview", "err", err)
	}
	alerts := c.alertState().Alerts
	c.attachAlerts(services, alerts)
	for _, a := range alerts {
		if a.State == "firing" && a.Drill == "" {
			page.Firing++
		}
	}
	page.Counts = tally(services)
	for _, s := range services {
		if rank(s.State) > 2 {
			break // worst first: the rest are no-data, up or unlisted
		}
		if len(page.Problems) == problemsShown {
			page.More++
			continue
		}
		page.Problems = append(page.Problems, s)
	}
	page.Sectors = bySector(services)
	if page.Drill != nil {
		if err := c.drillLosses(r.Context(), page.Now, page.Drill, alerts); err != nil {
			c.opts.Logger.Error("console: drill", "err", err)
		}
	}
	c.render(w, "overview.html", page)
}

// attachAlerts hangs the firing production alerts on the services they
// name.
func (c *Console) attachAlerts(services []*Service, alerts []Alert) {
	firing := map[string][]Alert{}
	for _, a := range alerts {
		if a.State == "firing" && a.Drill == "" && a.Target != "" {
			firing[a.Target] = append(firing[a.Target], a)
		}
	}
	if len(firing) == 0 {
		return
	}
	for _, s := range services {
		s.Alerts = firing[s.Target]
	}
}
