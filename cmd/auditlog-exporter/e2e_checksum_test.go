package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/internal/s3test"
	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
)

// downloadCounter is a proxy in front of the S3 server that counts the
// bytes of data objects (not manifests or seals) served by GET.
type downloadCounter struct {
	proxy *httputil.ReverseProxy
	bytes atomic.Int64
}

func newDownloadCounter(target string) *downloadCounter {
	u, _ := url.Parse(target)
	return &downloadCounter{proxy: httputil.NewSingleHostReverseProxy(u)}
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return c.ResponseWriter.Write(p)
}

func (d *downloadCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "" && !strings.Contains(r.URL.Path, "/_") &&
		(strings.HasSuffix(r.URL.Path, ".parquet") || strings.HasSuffix(r.URL.Path, ".jsonl")) {
		w = countingWriter{w, &d.bytes}
	}
	d.proxy.ServeHTTP(w, r)
}

// verify proves S3 objects by the SHA-256 S3 computed when they were
// committed (a HEAD each): no data object is downloaded. --deep downloads
// and hashes every one, and so catches bytes changed behind S3's API (on
// its disks, the stored checksum unchanged), which the default cannot.
func TestVerifyByStoredChecksum(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	dc := newDownloadCounter(srv.Endpoint)
	proxy := httptest.NewServer(dc)
	defer proxy.Close()
	w := newWorld(t, neosim.Faults{})
	w.pinDue()
	cfg := w.configWith(`state:
  path: %[1]s/state
sinks:
  - type: s3
    format: parquet
    bucket: `+bucket+`
    prefix: pq/
    region: us-east-1
    endpoint: `+proxy.URL+`
    path_style: true
`, "")
	if r := w.run(srv.Env(), "run", "--config", cfg); r.code != 0 {
		t.Fatalf("run: %s", r.stderr)
	}
	stored, victim := storedObjects(filepath.Join(srv.Root, bucket, "pq"))
	if victim == "" {
		t.Fatal("no object written")
	}
	verify := func(args ...string) (result, verifyOutput) {
		t.Helper()
		args = append([]string{"verify", "--config", cfg, "--from", w.start.Format(time.RFC3339), "--to", "now", "--evidence-only", "--output", "json"}, args...)
		r := w.run(srv.Env(), args...)
		var out verifyOutput
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("verify %v: %v\n%s", args, err, r.stderr)
		}
		return r, out
	}
	dc.bytes.Store(0)
	if r, out := verify(); r.code != 0 || !out.Summary.OK {
		t.Fatalf("verify: exit %d %+v\n%s", r.code, out.Summary, r.stderr)
	}
	if n := dc.bytes.Load(); n != 0 {
		t.Fatalf("verify downloaded %d bytes of data objects; want none (the stored checksums prove them)", n)
	}
	dc.bytes.Store(0)
	if r, out := verify("--deep"); r.code != 0 || !out.Summary.OK {
		t.Fatalf("verify --deep: exit %d %+v\n%s", r.code, out.Summary, r.stderr)
	}
	if n := dc.bytes.Load(); n < stored {
		t.Fatalf("verify --deep downloaded %d bytes; the objects hold %d", n, stored)
	}

	// One byte changed on the server's disk, in place: S3's stored
	// checksum (and size) still describe the committed bytes.
	f, err := os.OpenFile(victim, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	f.ReadAt(b, 500)
	b[0] ^= 0xff
	f.WriteAt(b, 500)
	f.Close()
	if r, out := verify(); r.code != 0 || !out.Summary.OK {
		t.Fatalf("verify without --deep should trust S3's checksum (documented): exit %d %+v", r.code, out.Summary)
	}
	r, out := verify("--deep")
	if r.code != 1 || out.Summary.Windows["checksum-mismatch"] != 1 {
		t.Fatalf("verify --deep after a change on disk: exit %d %+v\n%s\n%s", r.code, out.Summary, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "(exit 1: the output does not check out") {
		t.Fatalf("no exit note:\n%s", r.stderr)
	}
}

// storedObjects sums the bytes of the Parquet data objects (not manifests
// or seals) an S3 test server keeps under root, on its disk, and returns
// the path of the first one of more than 1,000 bytes.
func storedObjects(root string) (bytes int64, first string) {
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") && !strings.Contains(p, "/_") {
			fi, _ := d.Info()
			bytes += fi.Size()
			if first == "" && fi.Size() > 1000 {
				first = p
			}
		}
		return nil
	})
	return bytes, first
}
