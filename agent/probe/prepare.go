package probe

import (
	"fmt"
	"net"
	"regexp"
	"strings"

	"github.com/miekg/dns"

	"github.com/bulwarkhq/bulwark/internal/target"
)

// Prepared is what a target's probes need that does not change from run
// to run, built once when its job is made (as synthetic-monitoring-agent's
// ProberFactory builds a prober): regular expressions compiled, the DNS
// query type parsed, and the name TLS verifies.
type Prepared struct {
	Target   *target.Target
	bodyRE   *regexp.Regexp
	answerRE *regexp.Regexp
	expect   []*regexp.Regexp // per TCP step; nil for a send
	qtype    uint16
	// hostHeader is the Host header's host, when one is set: the HTTP
	// probe's TLS server name and verification name, as in blackbox_exporter.
	hostHeader string
}

// Prepare builds t's probe state; an error means t cannot be probed.
func Prepare(t *target.Target) (*Prepared, error) {
	p := &Prepared{Target: t, qtype: dns.TypeA}
	var err error
	if t.HTTP.BodyRegex != "" {
		if p.bodyRE, err = regexp.Compile(t.HTTP.BodyRegex); err != nil {
			return nil, fail("config", "body_regex: %w", err)
		}
	}
	if t.DNS.AnswerRegex != "" {
		if p.answerRE, err = regexp.Compile(t.DNS.AnswerRegex); err != nil {
			return nil, fail("config", "answer_regex: %w", err)
		}
	}
	if t.DNS.Type != "" {
		var ok bool
		if p.qtype, ok = dns.StringToType[strings.ToUpper(t.DNS.Type)]; !ok {
			return nil, fail("config", "unknown query type %q", t.DNS.Type)
		}
	}
	p.expect = make([]*regexp.Regexp, len(t.TCP.Steps))
	for i, st := range t.TCP.Steps {
		if st.Send != "" {
			continue
		}
		if p.expect[i], err = regexp.Compile(st.Expect); err != nil {
			return nil, fail("config", "step %d: %w", i, err)
		}
	}
	for k, v := range t.HTTP.Headers {
		if strings.EqualFold(k, "host") {
			p.hostHeader = v
			if h, _, err := net.SplitHostPort(v); err == nil {
				p.hostHeader = h
			}
		}
	}
	return p, nil
}

// mustPrepare is Prepare for callers that report a config error as a
// failed probe.
func mustPrepare(t *target.Target) (*Prepared, error) {
	p, err := Prepare(t)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", t.ID, err)
	}
	return p, nil
}
