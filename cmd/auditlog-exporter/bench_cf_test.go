package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/cfaudit/cfsim"
)

// BenchmarkEndToEndCF exports 200,000 Cloud Foundry records (eight hourly
// windows, 500-record pages) to Parquet in a local directory with the
// exporter, and the same listing with a plain client (a GET per page,
// handles followed, encoding/json into structs, nothing written), in the
// same run against the same in-process simulator. It reports both rates,
// their ratio and the exporter's peak RSS.
func BenchmarkEndToEndCF(b *testing.B) {
	const hours, perHour = 8, 25_000
	now := time.Now().UTC()
	to := now.Add(-16 * time.Minute).Truncate(time.Hour)
	from := to.Add(-hours * time.Hour)
	sim := cfsim.New(cfsim.Options{ClientID: "bench", ClientSecret: secret, Seed: 1})
	sim.Add(cfsim.Generate("benchcf", from, to, hours*perHour, 2)...)
	srv := httptest.NewServer(sim)
	b.Cleanup(srv.Close)
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		cfg := filepath.Join(dir, "config.yaml")
		os.WriteFile(cfg, []byte(fmt.Sprintf(`source: {type: cf, account: benchcf, api_url: %s, token_url: %s, client_id: bench, client_secret: "${E2E_SECRET}"}
state: {path: %s/state}
sinks: [{type: file, format: parquet, path: %s/out}]
`, srv.URL, srv.URL, dir, dir)), 0o600)
		cmd := exec.Command(binary, "backfill", "--config", cfg, "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339))
		cmd.Env = append(os.Environ(), "E2E_SECRET="+secret)
		t0 := time.Now()
		stderr, rss, err := runMeasured(cmd)
		if err != nil {
			b.Fatalf("exporter: %v\n%s", err, stderr)
		}
		exporter := float64(hours*perHour) / time.Since(t0).Seconds()
		if want := fmt.Sprintf(`"windows":%d,"records":%d`, hours, hours*perHour); !strings.Contains(stderr, want) {
			b.Fatalf("the exporter did not export %s:\n%s", want, stderr)
		}
		t0 = time.Now()
		n := plainCFExport(b, srv.URL, from, to)
		plain := float64(n) / time.Since(t0).Seconds()
		if n < hours*perHour {
			b.Fatalf("plain client read %d records", n)
		}
		b.ReportMetric(exporter, "exporter-rec/s")
		b.ReportMetric(plain, "plain-decode-rec/s")
		b.ReportMetric(exporter/plain, "exporter/plain-decode")
		b.ReportMetric(rss, "exporter-peak-RSS-MiB")
	}
}

// plainCFExport reads [from, to) hour by hour the simplest way: a token,
// then GET pages following the Paging handle, decoded with encoding/json.
func plainCFExport(b *testing.B, base string, from, to time.Time) int {
	form := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("bench", secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	n := 0
	for h := from; h.Before(to); h = h.Add(time.Hour) {
		q := url.Values{"time_from": {h.Format("2006-01-02T15:04:05")}, "time_to": {h.Add(time.Hour).Format("2006-01-02T15:04:05")}}
		for {
			req, _ := http.NewRequest(http.MethodGet, base+"/auditlog/v2/auditlogrecords?"+q.Encode(), nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var page []struct {
				MessageUUID string          `json:"message_uuid"`
				Time        string          `json:"time"`
				Category    string          `json:"category"`
				User        string          `json:"user"`
				Message     json.RawMessage `json:"message"`
			}
			if resp.StatusCode == http.StatusOK {
				if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
					b.Fatal(err)
				}
			}
			resp.Body.Close()
			n += len(page)
			handle := strings.TrimPrefix(resp.Header.Get("Paging"), "handle=")
			if handle == "" {
				break
			}
			q.Set("handle", handle)
		}
	}
	return n
}
