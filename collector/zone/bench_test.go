package zone

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/bulwarkhq/bulwark/internal/attrib"
)

// genZone writes a zone of n delegations shaped like .gov: most on large
// DNS providers, some on their own name servers with glue, 15% signed.
func genZone(n int) []byte {
	var b bytes.Buffer
	b.WriteString("$ORIGIN nation.\n@ 3600 IN SOA a.ns.nation. hostmaster.nation. 1 3600 900 604800 300\n")
	providers := []string{"%d.ns.cloudflare.com.", "ns%d.domaincontrol.com.", "ns-%d.awsdns-01.com.", "ns1-%d.azure-dns.com.", "a%d-64.akam.net.", "ns%d.hosting%d.example."}
	for i := range n {
		d := fmt.Sprintf("d%07d", i)
		switch p := i % 7; p {
		case 6: // own name servers, in the zone, with glue
			fmt.Fprintf(&b, "%s 3600 IN NS ns1.%s.nation.\n%s 3600 IN NS ns2.%s.nation.\n", d, d, d, d)
			fmt.Fprintf(&b, "ns1.%s 3600 IN A 192.0.%d.%d\nns2.%s 3600 IN A 198.51.%d.%d\n", d, i%256, i%250+1, d, i%256, i%250+1)
		default:
			for k := range 2 {
				name := providers[p%len(providers)]
				if p == 5 {
					name = fmt.Sprintf(name, k+1, i%500)
				} else {
					name = fmt.Sprintf(name, i%90+k)
				}
				fmt.Fprintf(&b, "%s 3600 IN NS %s\n", d, name)
			}
		}
		if i%7 == 0 || i%13 == 0 {
			fmt.Fprintf(&b, "%s 3600 IN DS 12345 13 2 %064x\n", d, i)
		}
	}
	return b.Bytes()
}

// BenchmarkZone imports, attributes and reports generated zones of
// growing size: the cost per delegation should stay flat.
func BenchmarkZone(b *testing.B) {
	cat, err := attrib.LoadCatalog()
	if err != nil {
		b.Fatal(err)
	}
	a := &attrib.Attributor{Catalog: cat}
	pol := &attrib.Policy{Home: "US"}
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		data := genZone(n)
		b.Run(fmt.Sprintf("delegations=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s, err := Parse(bytes.NewReader(data), "gen.zone", "")
				if err != nil {
					b.Fatal(err)
				}
				Analyze(s, a, pol, nil).Report(false)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delegation")
		})
	}
}

// BenchmarkDotgov is the real .gov zone end to end (parse, attribute by
// catalog, report).
func BenchmarkDotgov(b *testing.B) {
	cat, _ := attrib.LoadCatalog()
	a := &attrib.Attributor{Catalog: cat}
	b.ReportAllocs()
	for b.Loop() {
		s, err := ParseFile("testdata/gov.zone", "")
		if err != nil {
			b.Fatal(err)
		}
		Analyze(s, a, &attrib.Policy{Home: "US"}, nil).Report(true)
	}
}
