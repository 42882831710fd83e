package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
)

// The scheduler runs on a fast schedule, skips ticks while a run is going
// (never two at once), and on SIGTERM leaves no partial output and exits 0.
func TestScheduleNeverOverlapsAndStopsCleanly(t *testing.T) {
	t.Parallel()
	// The first run has seven windows of three pages at 150 ms a page: it
	// spans several 1-second ticks.
	w := newWorld(t, neosim.Faults{Latency: 150 * time.Millisecond})
	cfg := w.config("")
	cmd, _, stderr := w.cmd(context.Background(), nil, "run", "--config", cfg, "--schedule", "@every 1s")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two scheduled runs", func() bool { return strings.Count(stderr.String(), `"message":"scheduled run done"`) >= 2 })
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, stderr.String())
	}
	logs := stderr.String()
	assertNoSecret(t, logs)
	if !strings.Contains(logs, "tick skipped: the previous run is still going") {
		t.Fatalf("no tick was skipped during the long first run:\n%s", logs)
	}
	if strings.Contains(logs, "in use by another run") || strings.Contains(logs, "scheduled run failed") {
		t.Fatalf("runs overlapped or failed:\n%s", logs)
	}
	// Runs never overlap: every "exporting"/"no complete window due" start
	// is followed by its "run finished" before the next start.
	open := 0
	for _, line := range strings.Split(logs, "\n") {
		switch {
		case strings.Contains(line, `"message":"exporting"`), strings.Contains(line, `"message":"no complete window due"`):
			if open != 0 {
				t.Fatalf("a run started while another was going:\n%s", logs)
			}
			open++
		case strings.Contains(line, `"message":"run finished"`):
			open--
		}
	}
	w.assertExact()
}

func TestScheduleSIGTERMMidRun(t *testing.T) {
	t.Parallel()
	w := newWorld(t, neosim.Faults{Latency: 40 * time.Millisecond})
	release := w.holdListings(2) // the first run is mid-export when the signal comes
	cfg := w.config("")
	cmd, _, stderr := w.cmd(context.Background(), nil, "run", "--config", cfg, "--schedule", "@every 1s")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a committed window", func() bool { return committedFiles(w.dir) >= 2 })
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	release()
	if err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, stderr.String())
	}
	wm := w.watermark()
	w.readOutput("out", wm) // no temporary file, nothing beyond the watermark twice
	if n := committedFiles(w.dir); n != int(wm.Sub(w.start)/(30*time.Minute)) {
		t.Fatalf("%d committed files but the watermark %s covers %d windows", n, wm, wm.Sub(w.start)/(30*time.Minute))
	}
	if r := w.run(nil, "run", "--config", cfg); r.code != 0 {
		t.Fatalf("rerun: %s", r.stderr)
	}
	w.assertExact()
}

func TestBackfillCommand(t *testing.T) {
	t.Parallel()
	w := newWorld(t, neosim.Faults{Rate5xx: 0.05, RateDuplicate: 0.3, RetryAfter: "0"})
	cfg := w.config("")
	from, to := w.start.Add(time.Hour), w.start.Add(3*time.Hour)
	r := w.run(nil, "backfill", "--config", cfg, "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339), "--parallel", "4")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	got := w.readOutput("out", to)
	want := w.sim.Records(acct, from, to)
	if len(got) != len(want) || len(want) == 0 {
		t.Fatalf("backfill exported %d records, the simulator holds %d", len(got), len(want))
	}
	for _, rec := range want {
		if g, ok := got[rec.UUID]; !ok || g.Time.Before(from) {
			t.Fatalf("record %s missing or outside the range", rec.UUID)
		}
	}
	if _, err := os.Stat(filepath.Join(w.dir, "state", acct+".json")); !os.IsNotExist(err) {
		t.Fatal("backfill wrote a watermark")
	}
	// The schedule then exports everything; the backfilled windows are
	// replaced, not duplicated.
	if r := w.run(nil, "run", "--config", cfg); r.code != 0 {
		t.Fatalf("run after backfill: %s", r.stderr)
	}
	w.assertExact()
}

// Shards 0..N-1 of an Indexed Job together export every window once.
func TestBackfillShards(t *testing.T) {
	t.Parallel()
	w := newWorld(t, neosim.Faults{})
	due := w.pinDue()
	cfg := w.config("")
	to := w.start.Add(4 * time.Hour)
	for i := 0; i < 3; i++ {
		r := w.run([]string{"JOB_COMPLETION_INDEX=" + string(rune('0'+i))}, "backfill", "--config", cfg, "--from", w.start.Format(time.RFC3339), "--to", to.Format(time.RFC3339), "--shards", "3")
		if r.code != 0 || !strings.Contains(r.stderr, `"shard":"`+string(rune('0'+i))+`/3"`) {
			t.Fatalf("shard %d: exit %d\n%s", i, r.code, r.stderr)
		}
	}
	// Only complete windows old enough for the lag are exported.
	upTo := to
	if due.Before(to) {
		upTo = due
	}
	got := w.readOutput("out", upTo) // fails on any record exported twice
	if want := w.sim.Records(acct, w.start, upTo); len(got) != len(want) {
		t.Fatalf("shards exported %d records together, the simulator holds %d", len(got), len(want))
	}
	if n, want := committedFiles(w.dir), int(upTo.Sub(w.start)/(30*time.Minute)); n != want {
		t.Fatalf("%d files for %d windows", n, want)
	}
}

func TestScheduleAndBackfillUsageErrors(t *testing.T) {
	t.Parallel()
	w := newWorld(t, neosim.Faults{})
	cfg := w.config("")
	for _, c := range []struct {
		env  []string
		args []string
		msg  string
	}{
		{nil, []string{"run", "--config", cfg, "--schedule", "every minute"}, `--schedule "every minute"`},
		{nil, []string{"run", "--config", cfg, "--schedule", "* * *"}, `--schedule "* * *"`},
		{nil, []string{"backfill", "--config", cfg, "--from", "2026-11-02"}, "--from and --to are required"},
		{nil, []string{"backfill", "--config", cfg, "--from", "now", "--to", "-1h"}, "is not before"},
		{nil, []string{"backfill", "--config", cfg, "--from", "-2h", "--to", "now", "--shard", "3/3"}, "0 <= I < N"},
		{nil, []string{"backfill", "--config", cfg, "--from", "-2h", "--to", "now", "--shards", "4"}, "JOB_COMPLETION_INDEX"},
		{[]string{"JOB_COMPLETION_INDEX=4"}, []string{"backfill", "--config", cfg, "--from", "-2h", "--to", "now", "--shards", "4"}, "between 0 and 3"},
		{nil, []string{"backfill", "--config", cfg, "--from", "-2h", "--to", "now", "--parallel", "65"}, "--parallel"},
	} {
		r := w.run(c.env, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("%v: exit %d, want 2 with %q:\n%s", c.args, r.code, c.msg, r.stderr)
		}
	}
}

// One account failing (rejected credentials) does not stop the others; the
// run exits non-zero and names it.
func TestOneFailingAccountExitCode(t *testing.T) {
	t.Parallel()
	w := newWorld(t, neosim.Faults{})
	p := filepath.Join(w.dir, "accounts.yaml")
	cfg := `accounts:
  - {api_url: ` + w.url + `, account: ` + acct + `, client_id: e2e-client, client_secret: "${E2E_SECRET}"}
  - {api_url: ` + w.url + `, account: revoked, client_id: e2e-client, client_secret: wrong}
  - {api_url: ` + w.url + `, account: forbidden, client_id: e2e-client, client_secret: "${E2E_SECRET}"}
export: {start: ` + w.start.Format(time.RFC3339) + `, window: 30m, lag: 15m, parallel: 3}
state: {path: ` + w.dir + `/state}
sinks: [{type: file, path: ` + w.dir + `/out}]
`
	os.WriteFile(p, []byte(cfg), 0o600)
	r := w.run(nil, "run", "--config", p)
	if r.code == 0 || !strings.Contains(r.stderr, `"failed_accounts":["revoked","forbidden"]`) {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	w.assertExactSink("out")
}

// A one-shot run writes the textfile and pushes to the gateway; a scheduler
// serves /metrics and /healthz. Secrets appear in neither. The API is
// behind a gateway that refuses one request in six by count, so the
// throttling metrics have something to count however fast the machine is;
// the window due is pinned, so the scheduled runs find the watermark where
// the one-shot run left it, even across a :15 or :45.
func TestMetricsDelivery(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	pushes := 0
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.URL.Path == "/metrics/job/auditlog_exporter" {
			mu.Lock()
			pushes++
			mu.Unlock()
		}
	}))
	defer gw.Close()
	w := newWorld(t, neosim.Faults{GatewayAdmit: 5, GatewayRetryAfter: "none"})
	due := w.pinDue()
	textfile := filepath.Join(w.dir, "auditlog_exporter.prom")
	cfg := w.config("metrics:\n  pushgateway_url: " + gw.URL + "\n  textfile: " + textfile + "\n")
	if r := w.run(nil, "run", "--config", cfg); r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	b, err := os.ReadFile(textfile)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	n := w.assertExact()
	wm := w.watermark()
	if !wm.Equal(due) {
		t.Fatalf("watermark %s, want %s", wm, due)
	}
	refused := w.sim.Counters().Faults["gateway-429"]
	if refused == 0 {
		t.Fatal("the gateway refused nothing: the throttling metrics are not exercised")
	}
	for _, want := range []string{
		`auditlog_exporter_records_exported_total{account="` + acct + `"} ` + strconv.Itoa(n),
		`auditlog_exporter_watermark_timestamp_seconds{account="` + acct + `"} ` + strconv.FormatFloat(float64(wm.Unix()), 'g', -1, 64),
		`auditlog_exporter_request_retries_total{account="` + acct + `",cause="throttled"} ` + strconv.Itoa(refused),
		`auditlog_exporter_requests_throttled_total{account="` + acct + `"} ` + strconv.Itoa(refused),
		`auditlog_exporter_request_wait_seconds_total{account="` + acct + `"}`,
		`auditlog_exporter_request_rate_limit{account="` + acct + `"}`,
		"\nauditlog_exporter_last_run_success 1\n",
	} {
		if !strings.Contains(text, want) {
			t.Fatalf("textfile lacks %s:\n%s", want, text)
		}
	}
	assertNoSecret(t, text)
	for _, tok := range w.sim.IssuedTokens() {
		if strings.Contains(text, tok) {
			t.Fatal("an access token appears in the metrics")
		}
	}
	mu.Lock()
	if pushes != 1 {
		t.Fatalf("%d pushes, want 1", pushes)
	}
	mu.Unlock()

	// Scheduler mode serves the same metrics over HTTP.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	cfg = w.config("metrics:\n  listen: " + addr + "\n")
	cmd, _, stderr := w.cmd(context.Background(), nil, "run", "--config", cfg, "--schedule", "@every 1s")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	var scraped string
	waitFor(t, "a scrape showing a scheduled run", func() bool {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		scraped = string(b)
		return strings.Contains(scraped, "\nauditlog_exporter_last_run_success 1\n")
	})
	// No window came due since the one-shot run: the scheduled run found
	// the watermark it left.
	if !strings.Contains(scraped, `auditlog_exporter_watermark_timestamp_seconds{account="`+acct+`"} `+strconv.FormatFloat(float64(wm.Unix()), 'g', -1, 64)+"\n") {
		t.Fatalf("scrape, want the watermark %s:\n%s\n%s", wm, scraped, stderr.String())
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v", err)
	}
	assertNoSecret(t, scraped)
}
