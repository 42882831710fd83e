package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/odata"
	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
)

// hostilePages serves the Neo API with one page a window, each as large
// as source.max_page_bytes allows (pageBytes), in one of the shapes that
// cost memory: whitespace padding around one record, one record whose
// message fills the page, or 1,000 records of 1/1000 of the page each. The
// token endpoint is the simulator's.
func hostilePages(shape string, pageBytes int) http.Handler {
	sim := neosim.New(neosim.Options{Accounts: []string{"benchacct"}, ClientID: "bench", ClientSecret: secret})
	// Incompressible-looking text, so no sink can shrink it away.
	chunk := make([]byte, 64<<10)
	for i := range chunk {
		chunk[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[(i*7919+i/64*31)%64]
	}
	fill := func(w io.Writer, n int) {
		for n > 0 {
			k := min(n, len(chunk))
			w.Write(chunk[:k])
			n -= k
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "AuditLogRecords") {
			sim.ServeHTTP(w, r)
			return
		}
		// The window's start, from the padded filter (Time ge 'start-2s').
		f := r.URL.Query().Get("$filter")
		i := strings.Index(f, "Time ge '")
		start, err := time.Parse("2006-01-02T15.04.05", f[i+9:i+28])
		if i < 0 || err != nil {
			http.Error(w, "no time filter", http.StatusBadRequest)
			return
		}
		at := start.Add(time.Minute).Format("2006-01-02T15.04.05.000+0000")
		rec := func(id int, msg func(io.Writer)) {
			fmt.Fprintf(w, `{"Uuid":"w%d-%d","Category":"audit.data-access","User":"u","Tenant":"t","Account":"benchacct","Application":"a","Time":%q,"InstanceId":null,"FormatVersion":"2.2","Message":"`, start.Unix(), id, at)
			msg(w)
			io.WriteString(w, `"}`)
		}
		w.Header().Set("Content-Type", "application/json")
		const overhead = 4 << 10
		switch shape {
		case "padding":
			io.WriteString(w, `{"@odata.count":1,"value":[`)
			rec(0, func(w io.Writer) { io.WriteString(w, "m") })
			io.WriteString(w, "]")
			for n := pageBytes - overhead; n > 0; n -= len(chunk) {
				w.Write([]byte(strings.Repeat(" ", min(n, len(chunk)))))
			}
			io.WriteString(w, "}")
		case "one-message":
			io.WriteString(w, `{"@odata.count":1,"value":[`)
			rec(0, func(w io.Writer) { fill(w, pageBytes-overhead) })
			io.WriteString(w, "]}")
		case "1000-messages":
			io.WriteString(w, `{"@odata.count":1000,"value":[`)
			for i := 0; i < 1000; i++ {
				if i > 0 {
					io.WriteString(w, ",")
				}
				rec(i, func(w io.Writer) { fill(w, (pageBytes-overhead)/1000-300) })
			}
			io.WriteString(w, "]}")
		}
	})
}

// BenchmarkHostilePageMemory backfills eight hourly windows with
// --parallel 8, every window one page as large as source.max_page_bytes
// (default) allows, in each hostile shape, to JSON lines and to Parquet
// (zstd) in files, and reports the exporter's peak RSS: the figure behind
// the README's sizing under hostile pages.
// go test -run '^$' -bench HostilePageMemory -benchtime 1x ./cmd/auditlog-exporter/
func BenchmarkHostilePageMemory(b *testing.B) {
	const hours, parallel = 8, 8
	pageBytes := odata.DefaultMaxPageBytes
	if v := os.Getenv("BENCH_PAGE_BYTES"); v != "" {
		pageBytes, _ = strconv.Atoi(v)
	}
	to := time.Now().UTC().Add(-16 * time.Minute).Truncate(time.Hour)
	from := to.Add(-hours * time.Hour)
	for i := 0; i < b.N; i++ {
		for _, shape := range []string{"padding", "one-message", "1000-messages"} {
			srv := httptest.NewServer(hostilePages(shape, pageBytes))
			for _, format := range []string{"jsonl", "parquet"} {
				path := benchConfig(b, strings.TrimPrefix(srv.URL, "http://"), "  spool_dir: {dir}\n", "  - type: file\n    format: "+format+"\n    path: {dir}/out\n")
				cmd := exec.Command(binary, "backfill", "--config", path, "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339), "--parallel", strconv.Itoa(parallel))
				cmd.Env = append(os.Environ(), "E2E_SECRET="+secret)
				stderr, rss, err := runMeasured(cmd)
				if err != nil {
					b.Fatalf("%s to %s: %v\n%s", shape, format, err, stderr)
				}
				if !strings.Contains(stderr, fmt.Sprintf(`"windows":%d,`, hours)) {
					b.Fatalf("%s to %s: not every window exported:\n%s", shape, format, stderr)
				}
				b.ReportMetric(rss, fmt.Sprintf("%s-%s-peak-RSS-MiB", shape, format))
			}
			srv.Close()
		}
	}
}
