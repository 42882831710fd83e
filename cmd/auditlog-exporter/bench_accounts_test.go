package main

import (
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
)

// BenchmarkManyAccounts exports 50 and 500 Neo subaccounts (six hourly
// windows of 500 records each, one simulator serving them all, each
// account with its own API client) to Parquet
// files with the default settings, and reports each run's peak RSS and
// records per second, and the 500-account rate over the 50-account one.
func BenchmarkManyAccounts(b *testing.B) {
	const hours, perHour = 6, 500
	now := time.Now().UTC()
	to := now.Add(-16 * time.Minute).Truncate(time.Hour)
	from := to.Add(-hours * time.Hour)
	for i := 0; i < b.N; i++ {
		records, seconds, peak := map[int]float64{}, map[int]float64{}, map[int]float64{}
		for _, n := range []int{50, 500, 50, 500} {
			var names []string
			for a := range n {
				names = append(names, fmt.Sprintf("acct%03d", a))
			}
			sim := neosim.New(neosim.Options{Accounts: names, PerAccountClients: true, ClientID: "bench", ClientSecret: secret, Seed: 1})
			for a, name := range names {
				recs, _ := neosim.Generate(neosim.GenOptions{Account: name, From: from, To: to, PerHour: perHour, Seed: uint64(a + 1), LateFraction: -1})
				sim.Add(nil, recs...)
			}
			srv := httptest.NewServer(sim)
			dir := b.TempDir()
			var cfg strings.Builder
			cfg.WriteString("accounts:\n")
			for _, name := range names {
				fmt.Fprintf(&cfg, "  - {api_url: %q, account: %s, client_id: bench-%s, client_secret: \"${E2E_SECRET}-%s\"}\n", srv.URL, name, name, name)
			}
			fmt.Fprintf(&cfg, "state: {path: %s/state}\nsinks: [{type: file, format: parquet, path: %s/out}]\n", dir, dir)
			path := filepath.Join(dir, "config.yaml")
			os.WriteFile(path, []byte(cfg.String()), 0o600)
			cmd := exec.Command(binary, "backfill", "--config", path, "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339))
			cmd.Env = append(os.Environ(), "E2E_SECRET="+secret)
			t0 := time.Now()
			stderr, rss, err := runMeasured(cmd)
			srv.Close()
			if err != nil {
				b.Fatalf("%d accounts: %v\n%s", n, err, stderr[max(0, len(stderr)-2000):])
			}
			if want := fmt.Sprintf(`"windows":%d,`, n*hours); !strings.Contains(stderr, want) {
				b.Fatalf("%d accounts: not every window exported", n)
			}
			records[n] += float64(n * hours * perHour)
			seconds[n] += time.Since(t0).Seconds()
			peak[n] = max(peak[n], rss)
		}
		for _, n := range []int{50, 500} {
			b.ReportMetric(peak[n], fmt.Sprintf("%daccounts-peak-RSS-MiB", n))
			b.ReportMetric(records[n]/seconds[n], fmt.Sprintf("%daccounts-rec/s", n))
		}
		b.ReportMetric((records[500]/seconds[500])/(records[50]/seconds[50]), "rate500/rate50")
	}
}
