package main

import (
	"bytes"
	"crypto/ed25519"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/evidence"
	"github.com/auditlog-exporter/auditlog-exporter/internal/s3test"
	"github.com/auditlog-exporter/auditlog-exporter/odata"
)

// BenchmarkEndToEnd exports one hourly window of 100,000 and of 1,000,000
// records served by neo-sim (a separate process), on the same generated
// pages: plain encoding/json decoding of every page over HTTP (the floor to
// beat), the real binary to JSON lines in a file, to Parquet in a file and to
// Parquet in S3 (versitygw), and, for the smaller window, the curl + jq
// script a user would otherwise write. It reports records/s, the exporter's
// peak RSS, and ratios.
// Run it with: make bench (or go test -run '^$' -bench EndToEnd -benchtime 1x ./cmd/auditlog-exporter/)
func BenchmarkEndToEnd(b *testing.B) {
	srv := s3test.Start(b)
	bucket := srv.NewBucket(b)
	now := time.Now().UTC()
	end := now.Add(-16 * time.Minute).Truncate(time.Hour)
	start := end.Add(-time.Hour)
	for _, records := range []int{100_000, 1_000_000} {
		addr := startNeoSim(b, "--from", start.Format(time.RFC3339), "--to", end.Format(time.RFC3339), "--per-hour", strconv.Itoa(records), "--late-fraction", "0")
		name := strconv.Itoa(records/1000) + "k"
		plainDecode(b, addr, start, end, records) // warms the simulator's query cache
		floor := plainDecode(b, addr, start, end, records)
		b.ReportMetric(floor, name+"-plain-decode-rec/s")
		sinksFor := map[string]string{
			"jsonl-file":   "  - type: file\n    path: {dir}/out\n",
			"parquet-file": "  - type: file\n    format: parquet\n    path: {dir}/out\n",
			"parquet-s3":   fmt.Sprintf("  - type: s3\n    format: parquet\n    bucket: %s\n    prefix: %s/\n    region: us-east-1\n    endpoint: %s\n    path_style: true\n", bucket, name, srv.Endpoint),
		}
		for _, sink := range []string{"jsonl-file", "parquet-file", "parquet-s3"} {
			rate, rss := exportOnce(b, addr, start, records, sinksFor[sink], srv.Env())
			b.ReportMetric(rate, name+"-"+sink+"-rec/s")
			b.ReportMetric(rss, name+"-"+sink+"-peak-RSS-MiB")
			b.ReportMetric(rate/floor, name+"-"+sink+"/plain-decode")
		}
		if records <= 100_000 {
			curl := curlJQ(b, addr, start, end, records)
			b.ReportMetric(curl, name+"-curl-jq-rec/s")
			rate, _ := exportOnce(b, addr, start, records, sinksFor["jsonl-file"], nil)
			b.ReportMetric(rate/curl, name+"-jsonl-file/curl-jq")
		}
	}
}

// exportOnce runs the binary over one window and returns records/s and its
// peak RSS in MiB.
func exportOnce(b *testing.B, addr string, start time.Time, records int, sinks string, env []string) (float64, float64) {
	b.Helper()
	path := benchConfig(b, addr, fmt.Sprintf("  start: %s\n  window: 1h\n  lag: 15m\n", start.Format(time.RFC3339)), sinks)
	cmd := exec.Command(binary, "run", "--config", path)
	cmd.Env = append(append(os.Environ(), "E2E_SECRET="+secret), env...)
	t0 := time.Now()
	stderr, rss, err := runMeasured(cmd)
	if err != nil {
		b.Fatalf("%v\n%s", err, stderr)
	}
	elapsed := time.Since(t0)
	m := regexp.MustCompile(`"windows":\d+,"records":(\d+)`).FindStringSubmatch(stderr)
	if m == nil || m[1] != strconv.Itoa(records) {
		b.Fatalf("exported %v records, want %d:\n%s", m, records, stderr)
	}
	return float64(records) / elapsed.Seconds(), rss
}

// benchConfig writes a configuration for account benchacct on neo-sim at
// addr into a new directory and returns its path; export and sinks are
// the indented bodies of those sections ({dir} is the directory).
func benchConfig(b *testing.B, addr, export, sinks string) string {
	b.Helper()
	dir := b.TempDir()
	cfg := fmt.Sprintf(`source:
  api_url: http://%s
  account: benchacct
  client_id: bench
  client_secret: ${E2E_SECRET}
  max_requests_per_second: 0
export:
%s
state:
  path: {dir}/state
sinks:
%s`, addr, export, sinks)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(cfg, "{dir}", dir)), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// runMeasured runs cmd and returns its stderr and its peak RSS in MiB, as a
// container's memory limit sees it: the exporter's VmHWM plus the private
// (anonymous) memory of the supervisor process that started it, read every
// 10 ms until it exits. The supervisor's file-backed pages are the same
// binary's, shared with the exporter, and counted once. (Neither
// os.ProcessState nor wait4's ru_maxrss can be used: Linux carries the RSS
// of the forking test process into the child's maxrss across exec.)
func runMeasured(cmd *exec.Cmd) (string, float64, error) {
	f, err := os.CreateTemp("", "bench-stderr-*")
	if err != nil {
		return "", 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd.Stderr = f
	if err := cmd.Start(); err != nil {
		return "", 0, err
	}
	pid := cmd.Process.Pid
	peaks := map[string]int64{} // pid -> VmHWM in KiB
	stop := make(chan struct{})
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for {
			pids := []string{strconv.Itoa(pid)}
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)); err == nil {
				pids = append(pids, strings.Fields(string(b))...)
			}
			for i, p := range pids {
				field := "VmHWM:"
				if i == 0 {
					field = "RssAnon:" // the supervisor
				}
				if kib := statusKiB("/proc/"+p+"/status", field); kib > peaks[p] {
					peaks[p] = kib
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	err = cmd.Wait()
	close(stop)
	<-polled
	var total int64
	for _, kib := range peaks {
		total += kib
	}
	out, _ := os.ReadFile(f.Name())
	return string(out), float64(total) / 1024, err
}

// statusKiB reads one field (VmHWM:, RssAnon:) of a /proc/<pid>/status
// file in KiB (0 if gone).
func statusKiB(status, field string) int64 {
	b, err := os.ReadFile(status)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kib, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kib
		}
	}
	return 0
}

type benchToken struct {
	AccessToken string `json:"access_token"`
}

// plainDecode fetches the window's pages and decodes them with plain
// encoding/json into structs, counting records: the floor to beat.
func plainDecode(b *testing.B, addr string, start, end time.Time, records int) float64 {
	b.Helper()
	t0 := time.Now()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/oauth2/apitoken/v1?grant_type=client_credentials", nil)
	req.SetBasicAuth("bench", secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	var tok benchToken
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	next := "http://" + addr + "/auditlog/v1/accounts/benchacct/AuditLogRecords?$filter=" + strings.ReplaceAll(url.QueryEscape(odata.WindowFilter(start, end, "")), "+", "%20")
	n := 0
	for next != "" {
		req, _ := http.NewRequest(http.MethodGet, next, nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var page struct {
			NextLink string `json:"@odata.nextLink"`
			Value    []struct {
				Uuid, Category, User, Tenant, Account, Application, Time, Message string
				InstanceId                                                        *string
				FormatVersion                                                     string
			} `json:"value"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		n += len(page.Value)
		next = ""
		if page.NextLink != "" {
			u, _ := url.Parse(page.NextLink)
			next = "http://" + addr + u.RequestURI()
		}
	}
	if n < records {
		b.Fatalf("plain decode read %d records, want %d", n, records)
	}
	return float64(records) / time.Since(t0).Seconds()
}

// curlJQ runs scripts/curl-jq-export.sh over the window.
func curlJQ(b *testing.B, addr string, start, end time.Time, records int) float64 {
	b.Helper()
	out := filepath.Join(b.TempDir(), "out.jsonl")
	cmd := exec.Command("bash", "../../scripts/curl-jq-export.sh", "http://"+addr, "benchacct", odata.TimeLiteral(start), odata.TimeLiteral(end), out)
	cmd.Env = append(os.Environ(), "NEO_CLIENT_ID=bench", "NEO_CLIENT_SECRET="+secret)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("curl+jq: %v\n%s", err, stderr.String())
	}
	elapsed := time.Since(t0)
	data, _ := os.ReadFile(out)
	if n := bytes.Count(data, []byte("\n")); n != records {
		b.Fatalf("curl+jq wrote %d records, want %d", n, records)
	}
	return float64(records) / elapsed.Seconds()
}

// BenchmarkBackfillParallel backfills the same range twice against neo-sim
// answering each page after 60 ms, once with --parallel 1 and once with
// --parallel 8, and reports both rates and their ratio.
func BenchmarkBackfillParallel(b *testing.B) {
	const perHour = 3000 // three pages per hourly window
	now := time.Now().UTC()
	to := now.Add(-16 * time.Minute).Truncate(time.Hour)
	from := to.Add(-48 * time.Hour)
	addr := startNeoSim(b, "--latency", "60ms", "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339), "--per-hour", strconv.Itoa(perHour), "--late-fraction", "0")
	run := func(parallel int) float64 {
		path := benchConfig(b, addr, "", "  - type: file\n    format: parquet\n    path: {dir}/out\n")
		cmd := exec.Command(binary, "backfill", "--config", path, "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339), "--parallel", strconv.Itoa(parallel))
		cmd.Env = append(os.Environ(), "E2E_SECRET="+secret)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("--parallel %d: %v\n%s", parallel, err, stderr.String())
		}
		elapsed := time.Since(t0)
		if !strings.Contains(stderr.String(), `"windows":48,"records":144000`) {
			b.Fatalf("--parallel %d did not export 48 windows of 144000 records:\n%s", parallel, stderr.String())
		}
		return 48 / elapsed.Seconds()
	}
	for i := 0; i < b.N; i++ {
		one := run(1)
		eight := run(8)
		b.ReportMetric(one, "parallel1-windows/s")
		b.ReportMetric(eight, "parallel8-windows/s")
		b.ReportMetric(eight/one, "speedup")
	}
}

// BenchmarkAdaptiveRate backfills eight hours of 15-minute windows with the
// default configuration and --parallel 8 against neo-sim answering each
// 500-record page after 30 ms, behind a gateway of 5, 20 and 100 requests
// per second, with and without Retry-After. It reports, per gateway, the
// requests served per second as a share of the gateway's rate, the share
// of requests refused, and when the rate settled near the gateway's.
func BenchmarkAdaptiveRate(b *testing.B) {
	for _, job := range []struct {
		name    string
		perHour int
	}{{"long", 48_000}, {"short", 8_000}} {
		b.Run(job.name, func(b *testing.B) { adaptiveRate(b, job.perHour) })
	}
}

// adaptiveRate is BenchmarkAdaptiveRate for one job size: 48,000 records
// an hour are 24 pages per window, 791 requests in all ("long"); 8,000 are
// 4 or 5 pages per window, about 150 requests ("short", as a CronJob run
// after a pause or a verify re-listing). It also reports the share of the
// gateway's rate served while the job used the API (from its first API
// request to its last, as the simulator saw them), which leaves out what
// the process does before and after. Each gateway is a sub-benchmark
// (gw5-ra-1, gw4-burst20-ra-none, ...), so that its simulator is stopped
// before the next one starts and one gateway can be run alone.
func adaptiveRate(b *testing.B, perHour int) {
	now := time.Now().UTC()
	to := now.Add(-16 * time.Minute).Truncate(time.Hour)
	from := to.Add(-8 * time.Hour)
	for _, gw := range []struct {
		rate  int
		ra    string
		burst int
	}{{5, "1", 0}, {5, "none", 0}, {20, "1", 0}, {20, "none", 0}, {100, "1", 0}, {100, "none", 0}, {4, "1", 20}, {4, "none", 20}, {8, "1", 40}, {8, "none", 40}} {
		name := fmt.Sprintf("gw%d-ra-%s", gw.rate, gw.ra)
		if gw.burst > 0 {
			name = fmt.Sprintf("gw%d-burst%d-ra-%s", gw.rate, gw.burst, gw.ra)
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				args := []string{"--latency", "30ms", "--page-size", "500", "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339),
					"--per-hour", strconv.Itoa(perHour), "--late-fraction", "0", "--gateway-rate", strconv.Itoa(gw.rate), "--gateway-retry-after", gw.ra}
				if gw.burst > 0 {
					args = append(args, "--gateway-burst", strconv.Itoa(gw.burst))
				}
				addr := startNeoSim(b, args...) // stopped when this gateway's sub-benchmark ends
				path := benchConfig(b, addr, "  window: 15m\n", "  - type: file\n    format: parquet\n    path: {dir}/out\nlog:\n  level: debug\n")
				cmd := exec.Command(binary, "backfill", "--config", path, "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339), "--parallel", "8")
				cmd.Env = append(os.Environ(), "E2E_SECRET="+secret)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				t0 := time.Now()
				if err := cmd.Run(); err != nil {
					b.Fatalf("gateway %d/s: %v\n%s", gw.rate, err, stderr.String())
				}
				elapsed := time.Since(t0)
				if !strings.Contains(stderr.String(), fmt.Sprintf(`"windows":32,"records":%d`, perHour*8)) {
					b.Fatalf("gateway %d/s: not every record exported:\n%s", gw.rate, stderr.String())
				}
				var c struct {
					APIRequests                     int
					Faults                          map[string]int
					FirstAPIRequest, LastAPIRequest time.Time
				}
				resp, err := http.Get("http://" + addr + "/_sim/counters")
				if err != nil {
					b.Fatal(err)
				}
				err = json.NewDecoder(resp.Body).Decode(&c)
				resp.Body.Close()
				if err != nil {
					b.Fatal(err)
				}
				refused := c.Faults["gateway-429"]
				b.ReportMetric(float64(c.APIRequests)/elapsed.Seconds()/float64(gw.rate), "served/gateway")
				b.ReportMetric(float64(c.APIRequests)/c.LastAPIRequest.Sub(c.FirstAPIRequest).Seconds()/float64(gw.rate), "served-while-on-API/gateway")
				b.ReportMetric(float64(refused)/float64(c.APIRequests+refused), "refused/requests")
				b.ReportMetric(float64(refused), "refused")
				b.ReportMetric(settledAfter(stderr.String(), t0, float64(gw.rate)), "settled-s")
			}
		})
	}
}

// settledAfter returns, in seconds after start, when the request rate
// settled near the gateway's rate: the time of the last "request rate cut"
// log line that cut to a rate outside 70%-110% of it (0 if none). Later cuts
// are the probe's, near the gateway's rate.
func settledAfter(stderr string, start time.Time, gateway float64) float64 {
	last := 0.0
	for _, line := range strings.Split(stderr, "\n") {
		if !strings.Contains(line, "request rate cut") {
			continue
		}
		var l struct {
			Time time.Time `json:"time"`
			To   float64   `json:"to_rps"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && (l.To < 0.7*gateway || l.To > 1.1*gateway) {
			last = l.Time.Sub(start.Truncate(time.Second)).Seconds()
		}
	}
	return last
}

// BenchmarkParallelMemory backfills eight hourly windows of 150,000
// records to Parquet in S3 with --parallel 1, 4 and 8, and reports the
// exporter's peak RSS for each: the numbers behind the memory request and
// limit in deploy/kubernetes.
func BenchmarkParallelMemory(b *testing.B) {
	const perHour, hours = 150_000, 8
	srv := s3test.Start(b)
	bucket := srv.NewBucket(b)
	now := time.Now().UTC()
	to := now.Add(-16 * time.Minute).Truncate(time.Hour)
	from := to.Add(-hours * time.Hour)
	addr := startNeoSim(b, "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339), "--per-hour", strconv.Itoa(perHour), "--late-fraction", "0")
	for i := 0; i < b.N; i++ {
		for _, parallel := range []int{1, 4, 8} {
			path := benchConfig(b, addr, "  spool_dir: {dir}\n", fmt.Sprintf("  - type: s3\n    format: parquet\n    bucket: %s\n    prefix: p%d/\n    region: us-east-1\n    endpoint: %s\n    path_style: true\n", bucket, parallel, srv.Endpoint))
			cmd := exec.Command(binary, "backfill", "--config", path, "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339), "--parallel", strconv.Itoa(parallel))
			cmd.Env = append(append(os.Environ(), "E2E_SECRET="+secret), srv.Env()...)
			t0 := time.Now()
			stderr, rss, err := runMeasured(cmd)
			if err != nil {
				b.Fatalf("--parallel %d: %v\n%s", parallel, err, stderr)
			}
			elapsed := time.Since(t0)
			if want := fmt.Sprintf(`"windows":%d,"records":%d`, hours, hours*perHour); !strings.Contains(stderr, want) {
				b.Fatalf("--parallel %d did not export %s:\n%s", parallel, want, stderr)
			}
			b.ReportMetric(rss, fmt.Sprintf("parallel%d-peak-RSS-MiB", parallel))
			b.ReportMetric(float64(hours*perHour)/elapsed.Seconds(), fmt.Sprintf("parallel%d-rec/s", parallel))
		}
	}
}

// startNeoSim runs neo-sim with account benchacct and client bench, waits
// until it serves, and returns its address; it is killed when b ends.
func startNeoSim(b *testing.B, args ...string) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	sim := exec.Command(simBinary, append([]string{"--listen", addr, "--account", "benchacct", "--client-id", "bench"}, args...)...)
	sim.Env = append(os.Environ(), "NEO_SIM_CLIENT_SECRET="+secret)
	var simLog syncBuffer
	sim.Stderr = &simLog
	if err := sim.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sim.Process.Kill(); sim.Wait() })
	deadline := time.Now().Add(3 * time.Minute)
	for {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			return addr
		}
		if time.Now().After(deadline) {
			b.Fatalf("neo-sim did not start: %s", simLog.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// evidenceBaseline is the last commit without the evidence layer (no
// seals, no category counts, no signatures): BenchmarkEvidence builds it
// as the "off" side.
const evidenceBaseline = "c9a6fd5"

// baselineBinary builds the exporter at ref in a temporary worktree.
func baselineBinary(b *testing.B, ref string) string {
	b.Helper()
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		b.Fatalf("git: %v", err)
	}
	tree := filepath.Join(b.TempDir(), "baseline")
	if out, err := exec.Command("git", "-C", strings.TrimSpace(string(root)), "worktree", "add", "--detach", tree, ref).CombinedOutput(); err != nil {
		b.Fatalf("git worktree add %s: %v\n%s (a shallow clone lacks the baseline: git fetch --unshallow)", ref, err, out)
	}
	b.Cleanup(func() {
		exec.Command("git", "-C", strings.TrimSpace(string(root)), "worktree", "remove", "--force", tree).Run()
	})
	bin := filepath.Join(b.TempDir(), "auditlog-exporter-baseline")
	build := exec.Command("go", "build", "-o", bin, "./cmd/auditlog-exporter")
	build.Dir = tree
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build %s: %v\n%s", ref, err, out)
	}
	return bin
}

// BenchmarkEvidence measures what the evidence costs: the same two whole
// days (48 hourly windows, 192,000 records) backfilled by the build before
// the evidence layer ("off": unsigned manifests, no seals), by this build
// without a key ("seals": category counts, both days sealed and chained)
// and with one ("on": every manifest and seal signed too), to JSON lines
// in a file and to Parquet in S3, each twice, interleaved, to spread the
// machine's noise. It reports records/s and peak RSS of each and their
// ratios to "off" (the target: within 5%).
func BenchmarkEvidence(b *testing.B) {
	srv := s3test.Start(b)
	bucket := srv.NewBucket(b)
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -3)
	from, to := day, day.AddDate(0, 0, 2)
	const records = 192_000
	addr := startNeoSim(b, "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339), "--per-hour", strconv.Itoa(records/48), "--late-fraction", "0")
	old := baselineBinary(b, evidenceBaseline)
	key := filepath.Join(b.TempDir(), "signing.pem")
	_, priv, _ := ed25519.GenerateKey(crand.Reader)
	os.WriteFile(key, evidence.MarshalPrivateKey(priv), 0o600)
	sinksFor := map[string]string{
		"jsonl-file": "  - type: file\n    path: {dir}/out\n",
		"parquet-s3": "  - type: s3\n    format: parquet\n    bucket: " + bucket + "\n    prefix: {dir}/\n    region: us-east-1\n    endpoint: " + srv.Endpoint + "\n    path_style: true\n",
	}
	modes := []string{"off", "seals", "on"}
	for _, sink := range []string{"jsonl-file", "parquet-s3"} {
		rates, rss := map[string]float64{}, map[string]float64{}
		for range 2 {
			for _, mode := range modes {
				bin, extra := binary, ""
				switch mode {
				case "off":
					bin = old
				case "on":
					extra = "evidence:\n  signing_key_file: " + key + "\n"
				}
				path := benchConfig(b, addr, fmt.Sprintf("  start: %s\n  window: 1h\n  lag: 15m\n", from.Format(time.RFC3339)), sinksFor[sink]+extra)
				stderr, peak, elapsed := measuredBackfill(b, bin, path, from, to, srv.Env())
				if m := regexp.MustCompile(`"windows":48,"records":(\d+)`).FindStringSubmatch(stderr); m == nil || m[1] != strconv.Itoa(records) {
					b.Fatalf("exported %v, want 48 windows of %d records:\n%s", m, records, stderr)
				}
				if sealed := strings.Count(stderr, `"message":"day sealed"`); (mode == "off") != (sealed == 0) || (mode != "off" && sealed != 2) {
					b.Fatalf("%s: %d days sealed", mode, sealed)
				}
				rates[mode] += float64(records) / elapsed.Seconds() / 2
				rss[mode] = max(rss[mode], peak)
			}
		}
		for _, mode := range modes {
			b.ReportMetric(rates[mode], sink+"-"+mode+"-rec/s")
			b.ReportMetric(rss[mode], sink+"-"+mode+"-peak-RSS-MiB")
			if mode != "off" {
				b.ReportMetric(rates[mode]/rates["off"], sink+"-"+mode+"/off-rate")
				b.ReportMetric(rss[mode]/rss["off"], sink+"-"+mode+"/off-RSS")
			}
		}
	}
}

// appendOnlyBaseline is the last commit before append-only objects (parts,
// deltas, create-only publishing) and the look-back.
const appendOnlyBaseline = "bacfbd7"

// BenchmarkAppendOnly measures what append-only publishing costs: before
// it publishes a window, a sink now reads what it holds of it (a listing
// of its manifests), and S3 looks the name up before the conditional copy.
// Two whole days backfilled by the build before ("before") and this one
// ("now"), to JSON lines in a file and Parquet in S3, interleaved twice:
// 48 hourly windows of 4,000 records (the cost per record), and 192
// windows of 15 minutes with 25 records each (the cost per window). It
// reports records/s (windows/s for the small ones) and peak RSS, and their
// ratios now/before.
func BenchmarkAppendOnly(b *testing.B) {
	srv := s3test.Start(b)
	bucket := srv.NewBucket(b)
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -3)
	from, to := day, day.AddDate(0, 0, 2)
	old := baselineBinary(b, appendOnlyBaseline)
	sinksFor := map[string]string{
		"jsonl-file": "  - type: file\n    path: {dir}/out\n",
		"parquet-s3": "  - type: s3\n    format: parquet\n    bucket: " + bucket + "\n    prefix: {dir}/\n    region: us-east-1\n    endpoint: " + srv.Endpoint + "\n    path_style: true\n",
	}
	for _, size := range []struct {
		name    string
		window  string
		windows int
		perHour int
	}{{"large", "1h", 48, 4000}, {"small", "15m", 192, 100}} {
		records := size.perHour * 48
		addr := startNeoSim(b, "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339), "--per-hour", strconv.Itoa(size.perHour), "--late-fraction", "0")
		for _, sink := range []string{"jsonl-file", "parquet-s3"} {
			rates, rss := map[string]float64{}, map[string]float64{}
			for range 2 {
				for _, mode := range []string{"before", "now"} {
					bin := binary
					if mode == "before" {
						bin = old
					}
					path := benchConfig(b, addr, fmt.Sprintf("  start: %s\n  window: %s\n  lag: 15m\n", from.Format(time.RFC3339), size.window), sinksFor[sink])
					stderr, peak, elapsed := measuredBackfill(b, bin, path, from, to, srv.Env())
					want := fmt.Sprintf(`"windows":%d,"records":%d`, size.windows, records)
					if !strings.Contains(stderr, want) {
						b.Fatalf("%s %s %s: want %s in the summary:\n%s", size.name, sink, mode, want, stderr)
					}
					rates[mode] += float64(size.windows) / elapsed.Seconds() / 2
					rss[mode] = max(rss[mode], peak)
				}
			}
			unit := "-windows/s"
			if size.name == "large" {
				unit = "-rec/s"
				for m := range rates {
					rates[m] *= float64(records) / float64(size.windows)
				}
			}
			for _, mode := range []string{"before", "now"} {
				b.ReportMetric(rates[mode], size.name+"-"+sink+"-"+mode+unit)
				b.ReportMetric(rss[mode], size.name+"-"+sink+"-"+mode+"-peak-RSS-MiB")
			}
			b.ReportMetric(rates["now"]/rates["before"], size.name+"-"+sink+"-now/before-rate")
			b.ReportMetric(rss["now"]/rss["before"], size.name+"-"+sink+"-now/before-RSS")
		}
	}
}

// BenchmarkVerifyS3 measures verify over 30 days of hourly Parquet windows
// (720 objects) in S3: by default (each object proven by the checksum S3
// keeps, one HEAD) against --deep (each object downloaded and hashed, as
// every verify did before), evidence only, interleaved twice. It reports
// the bytes of data objects downloaded as a share of the objects' bytes,
// and the wall time of each and their ratio.
func BenchmarkVerifyS3(b *testing.B) {
	srv := s3test.Start(b)
	bucket := srv.NewBucket(b)
	dc := newDownloadCounter(srv.Endpoint)
	proxy := httptest.NewServer(dc)
	b.Cleanup(proxy.Close)
	from := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -31)
	to := from.AddDate(0, 0, 30)
	addr := startNeoSim(b, "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339), "--per-hour", "500", "--late-fraction", "0")
	path := benchConfig(b, addr, fmt.Sprintf("  start: %s\n  window: 1h\n  lag: 15m\n", from.Format(time.RFC3339)),
		"  - type: s3\n    format: parquet\n    bucket: "+bucket+"\n    prefix: pq/\n    region: us-east-1\n    endpoint: "+proxy.URL+"\n    path_style: true\n")
	env := append(append(os.Environ(), "E2E_SECRET="+secret), srv.Env()...)
	cmd := exec.Command(binary, "backfill", "--config", path, "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339), "--parallel", "4")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), `"windows":720,`) {
		b.Fatalf("backfill: %v\n%s", err, out)
	}
	stored, _ := storedObjects(filepath.Join(srv.Root, bucket, "pq"))
	secs, downloaded := map[string]float64{}, map[string]int64{}
	for range 2 {
		for _, mode := range []string{"default", "deep"} {
			args := []string{"verify", "--config", path, "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339), "--evidence-only", "--output", "json"}
			if mode == "deep" {
				args = append(args, "--deep")
			}
			cmd := exec.Command(binary, args...)
			cmd.Env = env
			dc.bytes.Store(0)
			t0 := time.Now()
			out, err := cmd.Output()
			if err != nil || !strings.Contains(string(out), `"ok": true`) {
				b.Fatalf("verify %s: %v\n%.2000s", mode, err, out)
			}
			secs[mode] += time.Since(t0).Seconds() / 2
			downloaded[mode] = dc.bytes.Load()
		}
	}
	b.ReportMetric(float64(stored)/(1<<20), "objects-MiB")
	b.ReportMetric(float64(downloaded["default"])/float64(stored), "default-downloaded/stored")
	b.ReportMetric(float64(downloaded["deep"])/float64(stored), "deep-downloaded/stored")
	b.ReportMetric(secs["default"], "default-s")
	b.ReportMetric(secs["deep"], "deep-s")
	b.ReportMetric(secs["default"]/secs["deep"], "default/deep-time")
}

// measuredBackfill runs bin's backfill of [from, to) with the config at
// path and returns its stderr, peak RSS (MiB) and wall time.
func measuredBackfill(b *testing.B, bin, path string, from, to time.Time, env []string) (string, float64, time.Duration) {
	b.Helper()
	cmd := exec.Command(bin, "backfill", "--config", path, "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339))
	cmd.Env = append(append(os.Environ(), "E2E_SECRET="+secret), env...)
	t0 := time.Now()
	stderr, peak, err := runMeasured(cmd)
	if err != nil {
		b.Fatalf("%v\n%s", err, stderr)
	}
	return stderr, peak, time.Since(t0)
}

// BenchmarkOCSF measures an OCSF export against the record schema's, same
// binary, same windows (two days of 1h windows, 4,000 records an hour, to
// Parquet and to JSON lines files), interleaved twice: records/s and peak
// RSS of each, and their ratios (OCSF/record schema).
func BenchmarkOCSF(b *testing.B) {
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -3)
	from, to := day, day.AddDate(0, 0, 2)
	const perHour, windows = 4000, 48
	records := perHour * windows
	addr := startNeoSim(b, "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339), "--per-hour", strconv.Itoa(perHour), "--late-fraction", "0")
	for _, format := range []string{"parquet", "jsonl"} {
		rates, rss := map[string]float64{}, map[string]float64{}
		for range 2 {
			for _, sc := range []string{"sap", "ocsf"} {
				path := benchConfig(b, addr, fmt.Sprintf("  start: %s\n  window: 1h\n  lag: 15m\n", from.Format(time.RFC3339)),
					fmt.Sprintf("  - type: file\n    format: %s\n    schema: %s\n    path: {dir}/out\n", format, sc))
				stderr, peak, elapsed := measuredBackfill(b, binary, path, from, to, nil)
				if want := fmt.Sprintf(`"windows":%d,"records":%d`, windows, records); !strings.Contains(stderr, want) {
					b.Fatalf("%s %s: want %s in the summary:\n%s", format, sc, want, stderr)
				}
				rates[sc] += float64(records) / elapsed.Seconds() / 2
				rss[sc] = max(rss[sc], peak)
			}
		}
		for _, sc := range []string{"sap", "ocsf"} {
			b.ReportMetric(rates[sc], format+"-"+sc+"-rec/s")
			b.ReportMetric(rss[sc], format+"-"+sc+"-peak-RSS-MiB")
		}
		b.ReportMetric(rates["ocsf"]/rates["sap"], format+"-ocsf/sap-rate")
		b.ReportMetric(rss["ocsf"]/rss["sap"], format+"-ocsf/sap-RSS")
	}
}
