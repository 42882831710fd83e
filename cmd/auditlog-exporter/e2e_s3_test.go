package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/internal/s3test"
	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// readS3 reads every committed object under prefix, failing on a duplicate
// record; it returns the records and the sorted keys.
func readS3(t *testing.T, srv *s3test.Server, bucket, prefix string) (map[string]audit.Record, []string) {
	t.Helper()
	got := map[string]audit.Record{}
	var keys []string
	for _, k := range srv.Keys(t, bucket, prefix) {
		if strings.HasPrefix(k, "_") || strings.Contains(k, "/_") { // _manifests, _seals: what Hive-style readers skip
			continue
		}
		keys = append(keys, k)
		if strings.Contains(k, "/_tmp/") || strings.HasPrefix(k, "_tmp/") {
			t.Fatalf("temporary object left: %s", k)
		}
		out, err := srv.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if out.Metadata["records"] == "" || !strings.Contains(k, "account="+out.Metadata["account"]+"/") {
			t.Fatalf("%s: metadata %v", k, out.Metadata)
		}
		n := 0
		err = sinks.ReadObject(sinks.ExtOf(k), bytes.NewReader(b), int64(len(b)), func(r audit.Record) error {
			if _, dup := got[r.UUID]; dup {
				t.Fatalf("record %s exported twice (%s)", r.UUID, k)
			}
			got[r.UUID] = r
			n++
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if fmt.Sprint(n) != out.Metadata["records"] {
			t.Fatalf("%s: %d records, metadata says %s", k, n, out.Metadata["records"])
		}
	}
	sort.Strings(keys)
	return got, keys
}

func (w *world) assertS3Exact(srv *s3test.Server, bucket, prefix string) []string {
	w.t.Helper()
	got, keys := readS3(w.t, srv, bucket, prefix)
	files := w.readOutput("out", w.watermark())
	want := w.sim.Records(acct, w.start, w.watermark())
	if len(got) != len(want) || len(files) != len(want) {
		w.t.Fatalf("S3 holds %d records, files %d, the simulator %d", len(got), len(files), len(want))
	}
	for _, r := range want {
		r.Time = r.Time.Truncate(time.Millisecond)
		g, f := got[r.UUID], files[r.UUID]
		if !g.Equal(&r) || !f.Equal(&r) {
			w.t.Fatalf("record %s:\n  s3 %+v\nfile %+v\nwant %+v", r.UUID, g, f, r)
		}
	}
	first := 0 // a window's first object; the rest are deltas
	for _, k := range keys {
		if !strings.Contains(k, "_delta-") {
			first++
		}
	}
	if n := int(w.watermark().Sub(w.start) / (30 * time.Minute)); first != n {
		w.t.Fatalf("%d first objects for %d windows: %v", first, n, keys)
	}
	return keys
}

const s3Sinks = `state:
  path: %%[1]s/state
sinks:
  - type: file
    path: %%[1]s/out
  - type: s3
    format: parquet
    bucket: %s
    prefix: neo-auditlog/
    region: us-east-1
    endpoint: %s
    path_style: true
`

func TestEndToEndS3Parquet(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	w := newWorld(t, neosim.Faults{Rate5xx: 0.05, RateDuplicate: 0.3, RetryAfter: "0"})
	cfg := w.configWith(fmt.Sprintf(s3Sinks, bucket, srv.Endpoint), "")
	if r := w.run(srv.Env(), "run", "--config", cfg); r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	keys := w.assertS3Exact(srv, bucket, "neo-auditlog/")
	if !strings.HasPrefix(keys[0], "neo-auditlog/account="+acct+"/date=") || !strings.HasSuffix(keys[0], ".parquet") {
		t.Fatalf("key layout: %s", keys[0])
	}
	// Move the watermark back and run again: the same keys, replaced, no extras.
	if r := w.run(srv.Env(), "state", "set", "--config", cfg, "--watermark", w.start.Format(time.RFC3339)); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := w.run(srv.Env(), "run", "--config", cfg); r.code != 0 {
		t.Fatalf("re-export: exit %d\n%s", r.code, r.stderr)
	}
	again := w.assertS3Exact(srv, bucket, "neo-auditlog/")
	if fmt.Sprint(again) != fmt.Sprint(keys) {
		t.Fatalf("re-export changed the set of objects:\n%v\n%v", keys, again)
	}
	if ups := srv.MultipartUploads(t, bucket); len(ups) != 0 {
		t.Fatalf("multipart uploads left: %v", ups)
	}
}

// A SIGKILL in the middle of a multipart upload leaves no visible object for
// that window; the next run completes it. The killed upload stays invisible
// under _tmp/ until it is older than s3.StaleAfter (package sinks/s3) (or a lifecycle rule
// aborts it): a younger one may belong to a run still going. The process is
// killed from outside once a proxy in front of S3 has seen its first part
// stored; the proxy holds every later request until the kill.
func TestS3KillMidMultipartUpload(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	target, _ := url.Parse(srv.Endpoint)
	rp := httputil.NewSingleHostReverseProxy(target)
	partStored, killed := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var holding atomic.Bool
	rp.ModifyResponse = func(resp *http.Response) error {
		r := resp.Request
		if r.Method == http.MethodPut && r.URL.Query().Has("partNumber") && resp.StatusCode == http.StatusOK {
			holding.Store(true)
			once.Do(func() { close(partStored) })
		}
		return nil
	}
	proxy := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if holding.Load() {
			<-killed
			hijackClose(rw)
			return
		}
		rp.ServeHTTP(rw, r)
	}))
	t.Cleanup(proxy.Close)
	// 30,000 records per 30-minute window: about 18 MB of JSON lines, two
	// 16 MiB parts. One or two windows are due: the kill needs only one.
	w := newWorldSpan(t, neosim.Faults{}, 60_000, 1000, neosim.Readings{}, time.Hour)
	sinksYAML := func(endpoint string) string {
		return `state:
  path: %[1]s/state
sinks:
  - type: file
    path: %[1]s/out
  - type: s3
    format: jsonl
    bucket: ` + bucket + `
    region: us-east-1
    endpoint: ` + endpoint + `
    path_style: true
`
	}
	cfg := w.configWith(sinksYAML(proxy.URL), "")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd, _, stderr := w.cmd(ctx, srv.Env(), "run", "--config", cfg)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-partStored:
	case err := <-exited:
		t.Fatalf("the run ended (%v) before a part was stored:\n%s", err, stderr.String())
	}
	_ = cmd.Process.Kill()
	<-exited
	close(killed)
	if keys := srv.Keys(t, bucket, "account="); len(keys) != 0 {
		t.Fatalf("visible objects after the kill: %v", keys)
	}
	if ups := srv.MultipartUploads(t, bucket); len(ups) != 1 {
		t.Fatalf("want the killed run's multipart upload in progress, got %v", ups)
	}
	cfg = w.configWith(sinksYAML(srv.Endpoint), "")
	if r := w.run(srv.Env(), "run", "--config", cfg); r.code != 0 {
		t.Fatalf("rerun: exit %d\n%s", r.code, r.stderr)
	}
	if ups := srv.MultipartUploads(t, bucket); len(ups) != 1 || !strings.HasPrefix(ups[0], "_tmp/") {
		t.Fatalf("multipart uploads after the rerun: %v", ups)
	}
	w.assertS3Exact(srv, bucket, "account=")
}

// Two runs on one account with the S3 state store: exactly one advances
// the watermark, the other stops without moving it, and nothing is
// duplicated. (The sinks are files here: versitygw's posix backend removes
// empty directories after a delete, which races with another process's
// upload into the same "directory" — something real S3 does not have.
// Concurrent S3 writers of one window are tested in the sinks package.)
func TestConcurrentRunsS3State(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	w := newWorld(t, neosim.Faults{Latency: 20 * time.Millisecond})
	due := w.pinDue()
	cfg := w.configWith(`state:
  type: s3
  bucket: `+bucket+`
  prefix: state/
  region: us-east-1
  endpoint: `+srv.Endpoint+`
  path_style: true
sinks:
  - type: file
    path: %[1]s/out
  - type: file
    format: parquet
    path: %[1]s/out-pq
`, "")
	type res struct {
		code   int
		stderr string
	}
	results := make(chan res, 2)
	for i := 0; i < 2; i++ {
		go func() {
			cmd, _, stderr := w.cmd(context.Background(), srv.Env(), "run", "--config", cfg)
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			results <- res{code, stderr.String()}
		}()
	}
	a, b := <-results, <-results
	if a.code+b.code != 1 {
		t.Fatalf("want one success and one loser (exit 1):\n--- %d\n%s\n--- %d\n%s", a.code, a.stderr, b.code, b.stderr)
	}
	loser := a
	if b.code == 1 {
		loser = b
	}
	if !strings.Contains(loser.stderr, "another run advanced the watermark") {
		t.Fatalf("loser's message:\n%s", loser.stderr)
	}
	out, err := srv.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("state/" + acct + ".json")})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(out.Body)
	if !strings.Contains(string(body), `"watermark": "`+due.Format(time.RFC3339)+`"`) {
		t.Fatalf("state %s, want watermark %s", body, due)
	}
	// Both runs wrote the same deterministic names: no duplicates anywhere.
	wm := due
	wantN := len(w.sim.Records(acct, w.start, wm))
	for _, sub := range []string{"out", "out-pq"} {
		if got := w.readOutput(sub, wm); len(got) != wantN {
			t.Fatalf("%s holds %d records, want %d", sub, len(got), wantN)
		}
	}
}
