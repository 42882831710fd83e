package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/internal/s3test"
	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

type verifySummary struct {
	OK       bool           `json:"ok"`
	Windows  map[string]int `json:"window_statuses"`
	Days     map[string]int `json:"day_statuses"`
	SignedBy []string       `json:"signed_by"`
}

type verifyOutput struct {
	Windows []struct {
		Start    time.Time `json:"window_start"`
		Sink     string    `json:"sink"`
		Source   int64     `json:"source"`
		Exported int64     `json:"exported"`
		Status   string    `json:"status"`
		Detail   string    `json:"detail"`
		Repaired bool      `json:"repaired"`
	} `json:"windows"`
	Days []struct {
		Date        string   `json:"date"`
		Account     string   `json:"account"`
		Sink        string   `json:"sink"`
		Status      string   `json:"status"`
		Detail      string   `json:"detail"`
		Generations int      `json:"seal_generations"`
		SignedBy    []string `json:"signed_by"`
		Records     int64    `json:"records"`
	} `json:"days"`
	Summary  verifySummary `json:"summary"`
	Problems []struct {
		What, Sink, Status, Detail, Meaning string
	} `json:"problems"`
}

func TestVerifyAndRepair(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	w := newWorld(t, neosim.Faults{})
	cfg := w.configWith(`state:
  path: %[1]s/state
sinks:
  - type: file
    path: %[1]s/out
  - type: file
    path: %[1]s/out-gz
    compression: gzip
  - type: s3
    format: parquet
    bucket: `+bucket+`
    prefix: neo/
    region: us-east-1
    endpoint: `+srv.Endpoint+`
    path_style: true
`, "")
	env := srv.Env()
	if r := w.run(env, "run", "--config", cfg); r.code != 0 {
		t.Fatalf("run: %s", r.stderr)
	}
	wm := w.watermark()
	windows := int(wm.Sub(w.start) / (30 * time.Minute))
	verify := func(extra ...string) (result, verifyOutput) {
		t.Helper()
		r := w.run(env, append([]string{"verify", "--config", cfg, "--from", w.start.Format(time.RFC3339), "--to", wm.Format(time.RFC3339), "--output", "json"}, extra...)...)
		var out verifyOutput
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("verify output: %v\n%s\n%s", err, r.stdout, r.stderr)
		}
		if len(out.Windows) != 3*windows {
			t.Fatalf("%d rows for %d windows x 3 sinks", len(out.Windows), windows)
		}
		return r, out
	}
	r, out := verify()
	if r.code != 0 || out.Summary.Windows["ok"] != 3*windows {
		t.Fatalf("clean export: exit %d, %v\n%s", r.code, out.Summary, r.stderr)
	}
	r2 := w.run(env, "verify", "--config", cfg, "--from", w.start.Format(time.RFC3339), "--to", wm.Format(time.RFC3339))
	if r2.code != 0 || !strings.Contains(r2.stdout, "WINDOW") || !strings.Contains(r2.stdout, fmt.Sprintf("%d window(s) x sink(s) checked: %d ok", 3*windows, 3*windows)) {
		t.Fatalf("text output:\n%s", r2.stdout)
	}

	win := func(i int) audit.Window {
		s := w.start.Add(time.Duration(i) * 30 * time.Minute)
		return audit.Window{Account: acct, Start: s, End: s.Add(30 * time.Minute)}
	}
	file := func(sub string, i int, ext string) string {
		return filepath.Join(w.dir, sub, filepath.FromSlash(sinks.ObjectName(win(i), ext)))
	}
	// Window 1: a file deleted. Window 2: a gzip file truncated. Window 3:
	// the S3 object deleted. Window 4: late records appear at the source.
	// Window 5: its JSON lines manifest replaced by window 0's (a manifest
	// is outside input: it must describe the window it is read for).
	if windows < 6 {
		t.Fatalf("only %d windows exported", windows)
	}
	if err := os.Remove(file("out", 1, "jsonl")); err != nil {
		t.Fatal(err)
	}
	gz := file("out-gz", 2, "jsonl.gz")
	b, _ := os.ReadFile(gz)
	os.WriteFile(gz, b[:len(b)/2], 0o600)
	if _, err := srv.Client().DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("neo/" + sinks.ObjectName(win(3), "parquet"))}); err != nil {
		t.Fatal(err)
	}
	late := []audit.Record{
		{UUID: "late-1", Time: win(4).Start.Add(time.Minute), Account: acct, Category: "audit.security-events", Message: "arrived late", FormatVersion: "2.2"},
		{UUID: "late-2", Time: win(4).Start.Add(2 * time.Minute), Account: acct, Category: "audit.security-events", Message: "arrived late too", FormatVersion: "2.2"},
	}
	w.sim.Add(nil, late...)
	m0, err := os.ReadFile(filepath.Join(w.dir, "out", filepath.FromSlash(sinks.ManifestName(win(0), "jsonl"))))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.dir, "out", filepath.FromSlash(sinks.ManifestName(win(5), "jsonl"))), m0, 0o600); err != nil {
		t.Fatal(err)
	}

	r, out = verify()
	if r.code != 1 {
		t.Fatalf("verify with problems: exit %d\n%s", r.code, r.stderr)
	}
	want := map[string]string{ // "window index/sink prefix" -> status
		"1/file:" + filepath.Join(w.dir, "out") + " ": "deleted",
		"2/file:" + filepath.Join(w.dir, "out-gz"):    "checksum-mismatch",
		"3/s3://": "deleted",
		"5/file:" + filepath.Join(w.dir, "out") + " ": "checksum-mismatch",
	}
	seen := map[string]bool{}
	for _, row := range out.Windows {
		i := int(row.Start.Sub(w.start) / (30 * time.Minute))
		status := "ok"
		for k, v := range want {
			var idx int
			var prefix string
			fmt.Sscanf(k, "%d/", &idx)
			prefix = k[strings.Index(k, "/")+1:]
			if idx == i && strings.HasPrefix(row.Sink+" ", prefix) {
				status = v
				seen[k] = true
			}
		}
		if i == 4 && status == "ok" {
			status = "late-arrivals"
			if row.Source != row.Exported+2 {
				t.Errorf("window 4 %s: source %d, exported %d: want 2 late records", row.Sink, row.Source, row.Exported)
			}
		}
		if row.Status != status {
			t.Errorf("window %d, %s: status %s, want %s", i, row.Sink, row.Status, status)
		}
		if i == 5 && status != "ok" && !strings.Contains(row.Detail, "describes") {
			t.Errorf("window 5, %s: detail %q, want the manifest named as another window's", row.Sink, row.Detail)
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("not every broken window was reported: %v", seen)
	}
	if out.Summary.Windows["late-arrivals"] != 3 || out.Summary.Windows["deleted"] != 2 || out.Summary.Windows["checksum-mismatch"] != 2 {
		t.Fatalf("summary %v", out.Summary)
	}

	// --repair appends the late records as deltas and leaves the damaged
	// objects as they are: consumers ingested them already.
	r, out = verify("--repair")
	if r.code != 1 || out.Summary.Windows["ok"] != 3*windows-4 || out.Summary.Windows["deleted"] != 2 || out.Summary.Windows["checksum-mismatch"] != 2 {
		t.Fatalf("after --repair: exit %d %v\n%s", r.code, out.Summary, r.stderr)
	}
	repaired := 0
	for _, row := range out.Windows {
		if row.Repaired {
			repaired++
		}
	}
	if repaired != 3 {
		t.Fatalf("%d rows repaired, want the late window x 3 sinks", repaired)
	}
	if deltas, _ := filepath.Glob(filepath.Join(w.dir, "out", "account="+acct, "date=*", "*_delta-0001.jsonl")); len(deltas) != 1 {
		t.Fatalf("deltas %v, want the late window's", deltas)
	}
	// The way out the messages name: the deleted objects' manifests moved
	// away (the windows are exported again), the truncated object moved
	// away with its manifest, the replaced manifest moved away (its object
	// is adopted).
	move := func(p string) {
		if err := os.Rename(p, p+".bad"); err != nil {
			t.Fatal(err)
		}
	}
	move(filepath.Join(w.dir, "out", filepath.FromSlash(sinks.ManifestName(win(1), "jsonl"))))
	move(gz)
	move(filepath.Join(w.dir, "out-gz", filepath.FromSlash(sinks.ManifestName(win(2), "jsonl.gz"))))
	move(filepath.Join(w.dir, "out", filepath.FromSlash(sinks.ManifestName(win(5), "jsonl"))))
	if _, err := srv.Client().DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("neo/" + sinks.ManifestName(win(3), "parquet"))}); err != nil {
		t.Fatal(err)
	}
	if r, out = verify("--repair"); r.code != 0 || out.Summary.Windows["ok"] != 3*windows {
		t.Fatalf("after moving the damage away, --repair: exit %d %v\n%s", r.code, out.Summary, r.stderr)
	}
	for _, p := range []string{filepath.Join(w.dir, "out"), filepath.Join(w.dir, "out-gz")} {
		filepath.WalkDir(p, func(p string, _ fs.DirEntry, _ error) error {
			if strings.HasSuffix(p, ".bad") {
				os.Remove(p) // not part of the output any more
			}
			return nil
		})
	}
	// Every sink now holds exactly the source's records, late ones included.
	n := w.assertExactSink("out", "out-gz")
	w.assertS3Exact(srv, bucket, "neo/account=")
	got := w.readOutput("out", wm)
	if _, ok := got["late-1"]; !ok || n != len(w.sim.Records(acct, w.start, wm)) {
		t.Fatal("late records not exported by --repair")
	}
	if r, _ := verify(); r.code != 0 {
		t.Fatalf("verify after repair: %s", r.stdout)
	}
}
