package cutset

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func cut(prefixes ...string) *Cut {
	c := &Cut{ID: "d1", Starts: t0, Expires: t0.Add(time.Hour), Names: []string{"NS1.CathayDNS.test."}}
	for _, p := range prefixes {
		c.Prefixes = append(c.Prefixes, netip.MustParsePrefix(p))
	}
	return c.Compile()
}

func TestRefuses(t *testing.T) {
	c := cut("127.20.0.0/16", "127.20.3.4/32", "127.30.0.9/32", "10.0.0.0/8", "10.1.0.0/16", "2001:db8::/32", "127.21.53.1/32")
	for addr, want := range map[string]bool{
		"127.20.0.0": true, "127.20.255.255": true, "127.20.3.4": true, "127.21.0.1": false, "127.21.53.1": true,
		"127.30.0.9": true, "127.30.0.10": false, "127.19.255.255": false, "10.200.0.1": true, "11.0.0.0": false,
		"2001:db8::1": true, "2001:db9::1": false, "::ffff:127.20.1.1": true, "0.0.0.0": false, "::": false,
	} {
		if got := c.Refuses(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Refuses(%s) = %v, want %v", addr, got, want)
		}
	}
	if n := len(c.Prefixes); n != 5 {
		t.Errorf("covered prefixes kept: %v", c.Prefixes)
	}
	if !c.RefusesName("ns1.cathaydns.test") || !c.RefusesName("NS1.CATHAYDNS.TEST.") || c.RefusesName("ns2.cathaydns.test") {
		t.Error("RefusesName does not match names case- and dot-insensitively")
	}
	var none *Cut
	if none.Refuses(netip.MustParseAddr("10.0.0.1")) || none.RefusesName("x") || none.Active(t0) {
		t.Error("a nil cut refuses something")
	}
}

func TestActive(t *testing.T) {
	c := cut("10.0.0.0/8")
	for at, want := range map[time.Duration]bool{-time.Second: false, 0: true, 59 * time.Minute: true, time.Hour: false} {
		if got := c.Active(t0.Add(at)); got != want {
			t.Errorf("Active(start%+v) = %v", at, got)
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	ok := `{"id":"d1","scenario":"x","prefixes":["10.0.0.0/8"],"starts":"2026-11-26T12:00:00Z","expires":"2026-11-26T13:00:00Z"}`
	if _, err := Decode(strings.NewReader(ok)); err != nil {
		t.Fatal(err)
	}
	many := make([]string, MaxPrefixes+1)
	for i := range many {
		many[i] = fmt.Sprintf(`"10.%d.%d.0/24"`, i>>8&255, i&255)
	}
	for name, tc := range map[string]struct{ in, want string }{
		"bad id":      {strings.Replace(ok, `"d1"`, `"../x"`, 1), "drill id"},
		"unknown key": {strings.Replace(ok, `"scenario"`, `"scenery"`, 1), "unknown field"},
		"no expiry":   {strings.Replace(ok, `,"expires":"2026-11-26T13:00:00Z"`, ``, 1), "required"},
		"backwards":   {strings.Replace(ok, `13:00`, `11:00`, 1), "not after"},
		"too long":    {strings.Replace(ok, `2026-11-26T13`, `2026-11-28T13`, 1), "longer than the limit"},
		"empty":       {strings.Replace(ok, `"10.0.0.0/8"`, ``, 1), "cuts nothing"},
		"bad prefix":  {strings.Replace(ok, `10.0.0.0/8`, `10.0.0.0/33`, 1), "decode"},
		"trailing":    {ok + ok, "trailing"},
		"too many":    {strings.Replace(ok, `"10.0.0.0/8"`, strings.Join(many, ","), 1), "more than the limit"},
		"too big":     {ok + strings.Repeat(" ", MaxBytes), "larger than"},
	} {
		_, err := Decode(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(`{"id":"d1","scenario":"x","prefixes":["10.0.0.0/8","10.1.0.0/16","::/0"],"names":["a."],"starts":"2026-11-26T12:00:00Z","expires":"2026-11-26T13:00:00Z"}`)
	f.Add(`{"id":"a","prefixes":[],"names":[]}`)
	f.Fuzz(func(t *testing.T, in string) {
		c, err := Decode(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, p := range c.Prefixes {
			if !c.Refuses(p.Addr()) {
				t.Fatalf("the cut does not refuse the first address of its own prefix %s", p)
			}
		}
	})
}
