package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/internal/s3test"
)

// BenchmarkExportWindow1M exports one hourly window of 1,000,000 records
// served by neo-sim (a separate process) with the real binary, once to a
// local JSON-lines file (the baseline) and once to S3 as Parquet, and
// reports records/s and the exporter's peak RSS for each, and their ratio.
// Run it with: make bench (or go test -run '^$' -bench ExportWindow1M -benchtime 1x ./cmd/auditlog-exporter/)
func BenchmarkExportWindow1M(b *testing.B) {
	const records = 1_000_000
	srv := s3test.Start(b)
	bucket := srv.NewBucket(b)

	now := time.Now().UTC()
	end := now.Add(-16 * time.Minute).Truncate(time.Hour)
	start := end.Add(-time.Hour)
	addr := startNeoSim(b, "--from", start.Format(time.RFC3339), "--to", end.Format(time.RFC3339), "--per-hour", strconv.Itoa(records), "--late-fraction", "0")

	sinksFor := map[string]string{
		"jsonl-file": "  - type: file\n    path: {dir}/out\n",
		"parquet-s3": fmt.Sprintf("  - type: s3\n    format: parquet\n    bucket: %s\n    region: us-east-1\n    endpoint: %s\n    path_style: true\n", bucket, srv.Endpoint),
	}
	run := func(name string) (float64, float64) {
		dir := b.TempDir()
		cfg := fmt.Sprintf(`source:
  api_url: http://%s
  account: benchacct
  client_id: bench
  client_secret: ${E2E_SECRET}
  max_requests_per_second: 0
export:
  start: %s
  window: 1h
  lag: 15m
state:
  path: %s/state
sinks:
%s`, addr, start.Format(time.RFC3339), dir, strings.ReplaceAll(sinksFor[name], "{dir}", dir))
		path := filepath.Join(dir, "config.yaml")
		os.WriteFile(path, []byte(cfg), 0o600)
		cmd := exec.Command(binary, "run", "--config", path)
		cmd.Env = append(append(os.Environ(), "E2E_SECRET="+secret), srv.Env()...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("%s: %v\n%s", name, err, stderr.String())
		}
		elapsed := time.Since(t0)
		m := regexp.MustCompile(`"windows":\d+,"records":(\d+)`).FindStringSubmatch(stderr.String())
		if m == nil || m[1] != strconv.Itoa(records) {
			b.Fatalf("%s exported %v records, want %d:\n%s", name, m, records, stderr.String())
		}
		rss := float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024 // KiB -> MiB
		return records / elapsed.Seconds(), rss
	}
	run("jsonl-file") // warm the simulator's query cache: both measured runs get the same server
	for i := 0; i < b.N; i++ {
		baseRate, baseRSS := run("jsonl-file")
		pqRate, pqRSS := run("parquet-s3")
		b.ReportMetric(baseRate, "jsonl-file-rec/s")
		b.ReportMetric(baseRSS, "jsonl-file-peak-RSS-MiB")
		b.ReportMetric(pqRate, "parquet-s3-rec/s")
		b.ReportMetric(pqRSS, "parquet-s3-peak-RSS-MiB")
		b.ReportMetric(pqRate/baseRate, "parquet-s3/jsonl-file")
	}
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
		dir := b.TempDir()
		cfg := fmt.Sprintf(`source:
  api_url: http://%s
  account: benchacct
  client_id: bench
  client_secret: ${E2E_SECRET}
  max_requests_per_second: 0
state:
  path: %s/state
sinks:
  - type: file
    format: parquet
    path: %s/out
`, addr, dir, dir)
		path := filepath.Join(dir, "config.yaml")
		os.WriteFile(path, []byte(cfg), 0o600)
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
