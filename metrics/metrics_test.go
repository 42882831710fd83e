package metrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/metrics"
	"github.com/auditlog-exporter/auditlog-exporter/source"
)

func sample() *metrics.Metrics {
	m := metrics.New()
	m.WindowExported("abc", 120, source.Stats{RetryCauses: map[source.RetryCause]int{source.CauseThrottled: 2, source.CauseServerError: 1}})
	m.WindowExported("abc", 30, source.Stats{})
	m.WatermarkMoved("abc", time.Unix(1_764_000_000, 0))
	m.AccountFailed("def", "auth")
	m.RunFinished(1500*time.Millisecond, false)
	return m
}

var wantLines = []string{
	`auditlog_exporter_records_exported_total{account="abc"} 150`,
	`auditlog_exporter_windows_exported_total{account="abc"} 2`,
	`auditlog_exporter_watermark_timestamp_seconds{account="abc"} 1.764e+09`,
	`auditlog_exporter_request_retries_total{account="abc",cause="throttled"} 2`,
	`auditlog_exporter_request_retries_total{account="abc",cause="server_error"} 1`,
	`auditlog_exporter_failures_total{account="def",class="auth"} 1`,
	`auditlog_exporter_last_run_duration_seconds 1.5`,
	`auditlog_exporter_last_run_success 0`,
}

func assertLines(t *testing.T, text string) {
	t.Helper()
	for _, l := range wantLines {
		if !strings.Contains(text, l) {
			t.Errorf("missing %s in:\n%s", l, text)
		}
	}
}

func TestScrape(t *testing.T) {
	srv := httptest.NewServer(sample().Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assertLines(t, string(body))
	resp, err = http.Get(srv.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
}

func TestPush(t *testing.T) {
	var mu sync.Mutex
	var method, path, body string
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		method, path, body = r.Method, r.URL.Path, string(b)
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer gw.Close()
	if err := sample().Push(context.Background(), gw.URL); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if method != http.MethodPut || path != "/metrics/job/auditlog_exporter" || len(body) == 0 {
		t.Fatalf("push: %s %s (%d bytes)", method, path, len(body))
	}
	if err := sample().Push(context.Background(), "http://127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "push metrics to http://127.0.0.1:1") {
		t.Fatalf("unreachable gateway: %v", err)
	}
}

func TestTextfile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "auditlog_exporter.prom")
	if err := sample().WriteTextfile(p); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	assertLines(t, string(b))
}
