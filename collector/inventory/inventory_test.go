package inventory

import (
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func parseFile(t *testing.T, name, preset string) ([]byte, error) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ParseCSV("testdata/"+name, b, Presets()[preset])
	return b, err
}

// The real .gov list imports whole, once; a second import changes nothing.
func TestImportDotgov(t *testing.T) {
	b, err := os.ReadFile("testdata/current-full.csv")
	if err != nil {
		t.Fatal(err)
	}
	ts, err := ParseCSV("current-full.csv", b, Presets()["dotgov"])
	if err != nil {
		t.Fatal(err)
	}
	// An independent count: data rows of the raw file.
	rows, _ := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if len(ts) != len(rows)-1 {
		t.Fatalf("%d targets from %d rows", len(ts), len(rows)-1)
	}
	first := ts[0]
	if first.ID != "29palms-gov" || first.URL != "https://29palms.gov/" || first.Sector != "government" || first.Type != "City" || first.Contact != "" {
		t.Fatalf("first target %+v", first)
	}
	s, err := Open(filepath.Join(t.TempDir(), "targets.json"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.Upsert(ts, true)
	if err != nil || len(d.Added) != len(ts) || len(s.Targets()) != 0 {
		t.Fatalf("dry run: %v %v, stored %d", d, err, len(s.Targets()))
	}
	if d, err = s.Upsert(ts, false); err != nil || len(d.Added) != len(ts) {
		t.Fatalf("import: %v %v", d, err)
	}
	if d, _ = s.Upsert(ts, false); len(d.Added)+len(d.Changed) != 0 || d.Unchanged != len(ts) {
		t.Fatalf("second import: %v", d)
	}
	ts[0].Name = "Renamed"
	if d, _ = s.Upsert(ts[:1], false); len(d.Changed) != 1 {
		t.Fatalf("change: %v", d)
	}
	again, _ := Open(s.path)
	if len(again.Targets()) != len(rows)-1 || again.targets["29palms-gov"].Name != "Renamed" {
		t.Fatalf("store not persisted: %d targets", len(again.Targets()))
	}
}

// A bad file is refused whole, each bad row with its line and reason.
func TestImportRefused(t *testing.T) {
	cases := []struct{ file, preset, want string }{
		{"missing-column.csv", "dotgov", `testdata/missing-column.csv:1: missing column "Domain type" (for type), "Security contact email" (for contact)`},
		{"duplicate.csv", "dotgov", `testdata/duplicate.csv:4: duplicate target "29palms-gov" (first on line 2)`},
		{"latin1.csv", "bulwark", `testdata/latin1.csv:3: the file is not UTF-8: convert it (iconv -f LATIN1 -t UTF-8) and import again`},
		{"bad-rows.csv", "bulwark", "testdata/bad-rows.csv:3: id: id \"Bad Id\" must be lower-case letters, digits and dashes (a slug)\n" +
			"testdata/bad-rows.csv:4: url: url \"ftp://payments.arcadia.test/\" is not an absolute http or https URL\n" +
			"testdata/bad-rows.csv:5: sector: a target needs a sector (energy, finance, government, ...); criticality: criticality 9 is not between 1 and 3"},
	}
	for _, c := range cases {
		_, err := parseFile(t, c.file, c.preset)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s:\n got %v\nwant %s", c.file, err, c.want)
		}
	}
}

// Issue 8: a bare quote made ParseCSV call FieldPos after a failed Read, which panicked.
func TestParseCSVBareQuote(t *testing.T) {
	_, err := ParseCSV("x.csv", []byte("id,sector\naaaa\"00"), Presets()["bulwark"])
	var ie *Error
	if !errors.As(err, &ie) || len(ie.Rows) != 1 || ie.Rows[0].Line != 2 {
		t.Fatalf("ParseCSV = %v, want one bad row at line 2", err)
	}
}

func FuzzParseCSV(f *testing.F) {
	f.Add([]byte("id,name,url,sector\ngrid,Grid,https://grid.test/,energy\n"))
	f.Add([]byte("id,url\n\"unterminated,x\n"))
	f.Add([]byte("id,sector\naaaa\"00")) // issue 8: panicked in FieldPos after a parse error
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := ParseCSV("fuzz.csv", b, Presets()["bulwark"])
		if err == nil {
			for _, x := range ts {
				if len(x.Validate()) > 0 {
					t.Fatalf("accepted an invalid target %+v", x)
				}
			}
		}
	})
}
