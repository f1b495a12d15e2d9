// The services' HTTPS servers and the faults they show.

package demo

import (
	"crypto/tls"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// serve starts the HTTPS server of s on its address with a free port.
func (w *World) serve(s *Service) error {
	ca := w.CAs[s.CA]
	if ca == nil {
		return fmt.Errorf("testenv: service %s: unknown CA %q", s.ID, s.CA)
	}
	notAfter := time.Now().AddDate(1, 0, 0)
	if s.Has(Expiring) {
		notAfter = time.Now().Add(5 * 24 * time.Hour)
	}
	cert, err := ca.Issue(notAfter, s.ID+"."+Zone)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(s.Addr.Addr().String(), "0"))
	if err != nil {
		return fmt.Errorf("testenv: service %s: %w", s.ID, err)
	}
	s.Addr = netip.MustParseAddrPort(ln.Addr().String())
	s.URL = fmt.Sprintf("https://%s:%d/", s.Host, s.Addr.Port())
	if s.Has(HomeOnly) {
		ln = &homeOnlyListener{Listener: ln, home: netip.MustParsePrefix(homeNet.CIDR)}
	}
	srv := &http.Server{
		Handler:           w.handler(s),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}},
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(slog.DiscardHandler, slog.LevelError),
	}
	w.servers = append(w.servers, srv)
	go srv.ServeTLS(ln, "", "")
	return nil
}

func (w *World) handler(s *Service) http.Handler {
	page := landingPage(s)
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if s.Has(Flapping) && w.flapped(time.Now()) {
			http.Error(rw, "service unavailable", http.StatusServiceUnavailable)
			return
		}
		if s.Has(Slow) {
			select {
			case <-time.After(SlowDelay):
			case <-r.Context().Done():
				return
			}
		}
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		rw.Write(page)
	})
}

// landingPage is a small HTML page whose subresources reveal third parties.
func landingPage(s *Service) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "<!doctype html><html><head><title>%s</title>\n", html.EscapeString(s.Name))
	fmt.Fprintf(&b, "<link rel=\"stylesheet\" href=\"/static/site.css\">\n")
	if s.CDN != "" {
		cdn, _ := ProviderByID(s.CDN)
		fmt.Fprintf(&b, "<script src=\"https://static.%s/lib/app.js\"></script>\n", cdn.Domain)
	}
	if s.Sector == "government" {
		fmt.Fprintf(&b, "<script src=\"https://analytics.draviacloud.test/tag.js\"></script>\n")
	}
	fmt.Fprintf(&b, "</head><body><h1>%s</h1><p>Operated by %s.</p></body></html>\n",
		html.EscapeString(s.Name), html.EscapeString(s.Operator))
	return []byte(b.String())
}

// homeOnlyListener drops connections that do not come from Arcadian addresses.
type homeOnlyListener struct {
	net.Listener
	home netip.Prefix
}

func (l *homeOnlyListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ap, perr := netip.ParseAddrPort(c.RemoteAddr().String())
		if perr == nil && l.home.Contains(ap.Addr()) {
			return c, nil
		}
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // reset, as a geo-fence firewall would
		}
		c.Close()
	}
}

// flapped tells whether the flapping service is down at t: it is up for
// Options.FlapPeriod, then down for as long, in phases counted from the
// Unix epoch.
func (w *World) flapped(t time.Time) bool { return t.UnixNano()/int64(w.flap)%2 == 1 }
