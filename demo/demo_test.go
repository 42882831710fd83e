package demo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func TestFaultText(t *testing.T) {
	for _, c := range []struct {
		faults map[string]int
		want   string
	}{
		{nil, ""},
		{map[string]int{"neo 5xx": 0}, ""},
		{map[string]int{"neo duplicate": 3}, "on the Neo API, 3 pages that served a record twice"},
		{map[string]int{"neo 5xx": 1, "neo gateway-429": 40, "neo duplicate": 3},
			"on the Neo API, 40 requests refused by the gateway's rate limit (429), 3 pages that served a record twice and 1 server error (HTTP 5xx)"},
		{map[string]int{"neo 5xx": 2, "cf 429": 1, "cf weird": 2},
			"on the Neo API, 2 server errors (HTTP 5xx); on the Cloud Foundry API, 2 weird faults and 1 request answered 429 Too Many Requests"},
	} {
		if got := (Result{Faults: c.faults}).FaultText(); got != c.want {
			t.Errorf("FaultText(%v) =\n  %q, want\n  %q", c.faults, got, c.want)
		}
	}
}

func TestCheckSource(t *testing.T) {
	for _, s := range []string{SourceNeo, SourceCF, SourceBoth} {
		if err := CheckSource(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	err := CheckSource("kyma")
	if err == nil || !strings.Contains(err.Error(), `"kyma"`) || !strings.Contains(err.Error(), "neo") || !strings.Contains(err.Error(), "both") {
		t.Errorf("kyma: %v", err)
	}
}

// Each demo starts only the simulator of its source and writes only what
// that source reads: the Neo demo no Cloud Foundry service key (one an
// earlier demo left goes), the Cloud Foundry demo one. The config says it
// cannot be rerun and how to repeat the demo, with absolute paths.
func TestRunOnlyWhatTheSourceNeeds(t *testing.T) {
	out := t.TempDir()
	key := filepath.Join(out, "cf-service-key.json")
	for _, c := range []struct {
		source  string
		urls    int
		withKey bool
	}{
		{SourceCF, 1, true},
		{SourceNeo, 1, false},
		{SourceBoth, 2, true},
	} {
		res, err := Run(context.Background(), out, c.source, zerolog.Nop(), "test")
		if err != nil {
			t.Fatalf("%s: %v", c.source, err)
		}
		if n := len(strings.Split(res.APIURL, " and ")); n != c.urls {
			t.Errorf("%s: %d simulators started (%s), want %d", c.source, n, res.APIURL, c.urls)
		}
		_, err = os.Stat(key)
		if c.withKey != (err == nil) {
			t.Errorf("%s: service key file present: %v, want %v", c.source, err == nil, c.withKey)
		}
		cfg, err := os.ReadFile(res.ConfigPath)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"cannot export or verify again", res.Command, "path: " + filepath.Join(out, "state")} {
			if !strings.Contains(string(cfg), want) {
				t.Errorf("%s: config lacks %q:\n%s", c.source, want, cfg)
			}
		}
		if c.source == SourceNeo && strings.Contains(string(cfg), "type: cf") {
			t.Errorf("neo demo config has a Cloud Foundry source:\n%s", cfg)
		}
		if res.Command != "auditlog-exporter demo --out "+out+" --source "+c.source || res.Records != res.Expected || res.VerifiedOK != res.Verified {
			t.Errorf("%s: %+v", c.source, res)
		}
	}
}
