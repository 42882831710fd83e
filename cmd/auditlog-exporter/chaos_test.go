package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/cfaudit/cfsim"
	"github.com/auditlog-exporter/auditlog-exporter/evidence"
	"github.com/auditlog-exporter/auditlog-exporter/internal/s3test"
	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// s3Chaos is a reverse proxy in front of the S3 test server that resets
// connections (before a write, or after it, losing its answer), answers
// 500 and slows down writes (PutObject, UploadPart,
// CompleteMultipartUpload, CopyObject).
type s3Chaos struct {
	proxy  *httputil.ReverseProxy
	on     atomic.Bool
	mu     sync.Mutex
	rng    *mrand.Rand
	counts map[string]int
}

func newS3Chaos(target string, seed uint64) *s3Chaos {
	u, _ := url.Parse(target)
	return &s3Chaos{proxy: httputil.NewSingleHostReverseProxy(u), rng: mrand.New(mrand.NewPCG(seed, 7)), counts: map[string]int{}}
}

func (c *s3Chaos) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if c.on.Load() && (r.Method == http.MethodPut || r.Method == http.MethodPost) {
		c.mu.Lock()
		p := c.rng.Float64()
		c.mu.Unlock()
		count := func(k string) { c.mu.Lock(); c.counts[k]++; c.mu.Unlock() }
		switch {
		case p < 0.03:
			// The write is done, its answer lost: a retry must not
			// write the object a second time.
			count("s3-lost-answer")
			c.proxy.ServeHTTP(httptest.NewRecorder(), r)
			hijackClose(w)
			return
		case p < 0.06:
			count("s3-reset")
			io.Copy(io.Discard, r.Body)
			hijackClose(w)
			return
		case p < 0.09:
			count("s3-500")
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>chaos</Message></Error>`)
			return
		case p < 0.15:
			count("s3-slow")
			time.Sleep(150 * time.Millisecond)
		}
	}
	c.proxy.ServeHTTP(w, r)
}

func hijackClose(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
		}
	}
}

// TestChaos runs the real binary many times against the simulator with
// every API fault on and S3 behind a faulty proxy, killing each run with
// SIGKILL at a random moment, then runs it once more without faults. The
// union of everything written must be exactly the simulator's records:
// none missing, none twice, every field intact, in JSON lines and Parquet,
// in files and in S3. CHAOS_RUNS sets the number of killed runs (make chaos).
func TestChaos(t *testing.T) {
	t.Parallel()
	runs := 6
	if n, err := strconv.Atoi(os.Getenv("CHAOS_RUNS")); err == nil && n > 0 {
		runs = n
	}
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("CHAOS_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("chaos seed %d: CHAOS_SEED=%d runs it again", seed, seed)
		}
	})
	rng := mrand.New(mrand.NewPCG(seed, 1))
	// A versioned bucket: the consumer's view counts every object version
	// the runs create.
	srv := s3test.StartVersioned(t)
	bucket := srv.NewBucket(t)
	if _, err := srv.Client().PutBucketVersioning(context.Background(), &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatalf("enable versioning: %v", err)
	}
	chaos := newS3Chaos(srv.Endpoint, seed)
	proxy := httptest.NewServer(chaos)
	defer proxy.Close()

	faults := neosim.Faults{Latency: 5 * time.Millisecond, Rate429: 0.05, Rate5xx: 0.05, RateDrop: 0.03, RateTruncate: 0.03, RateHTML: 0.03,
		TokenMaxUses: 20, RateDuplicate: 0.2, RetryAfter: "0"}
	// Each seed picks one reading of what SAP leaves undocumented.
	names := neosim.ReadingNames()
	reading := names[rng.IntN(len(names))]
	if r := os.Getenv("CHAOS_READING"); r != "" {
		reading = r
	}
	// From two hours before yesterday's midnight: yesterday is exported
	// whole, so the runs seal it (the day before, begun at 22:00, stays
	// partial and unsealed).
	span := time.Since(evidence.DayOf(time.Now()).AddDate(0, 0, -1)) + 2*time.Hour
	w := newWorldSpan(t, faults, 300, 250, neosim.AllReadings()[reading], span)
	key := filepath.Join(w.dir, "signing.pem")
	_, priv, _ := ed25519.GenerateKey(crand.Reader)
	os.WriteFile(key, evidence.MarshalPrivateKey(priv), 0o600)
	pub := filepath.Join(w.dir, "signing.pub")
	os.WriteFile(pub, evidence.MarshalPublicKey(priv.Public().(ed25519.PublicKey)), 0o600)
	// A Cloud Foundry account in the same runs, its API just as unreliable,
	// under one of the readings its documentation leaves open.
	cfNames := cfsim.ReadingNames()
	cfReading := cfNames[rng.IntN(len(cfNames))]
	if r := os.Getenv("CHAOS_CF_READING"); r != "" {
		cfReading = r
	}
	cfReadings := cfsim.AllReadings()
	cf := cfsim.New(cfsim.Options{ClientID: "sb-chaos", ClientSecret: secret, Seed: seed, PageSize: 150, Readings: cfReadings[cfReading]})
	cfRecs := cfsim.Generate(cfAcct, w.start.Add(-time.Hour), time.Now(), 4000, seed)
	cf.Add(cfRecs...)
	cf.SetFaults(cfsim.Faults{Rate429: 0.03, RetryAfter: "0", Rate5xx: 0.05, Truncate: 0.03})
	cfSrv := httptest.NewServer(cf)
	defer cfSrv.Close()
	cfg := w.configWith(`state:
  type: s3
  bucket: `+bucket+`
  prefix: state/
  region: us-east-1
  endpoint: `+proxy.URL+`
  path_style: true
sinks:
  - type: file
    path: %[1]s/out
  - type: file
    format: parquet
    path: %[1]s/out-pq
  - type: s3
    format: parquet
    bucket: `+bucket+`
    prefix: pq/
    region: us-east-1
    endpoint: `+proxy.URL+`
    path_style: true
  - type: s3
    format: jsonl
    compression: gzip
    bucket: `+bucket+`
    prefix: js/
    region: us-east-1
    endpoint: `+proxy.URL+`
    path_style: true
  - type: file
    format: jsonl
    schema: ocsf
    path: %[1]s/out-ocsf
  - type: s3
    format: parquet
    schema: ocsf
    layout: security-lake
    security_lake_account_id: "123456789012"
    bucket: `+bucket+`
    prefix: ext/sap-btp-{class}/
    region: us-east-1
    endpoint: `+proxy.URL+`
    path_style: true
`, "evidence:\n  signing_key_file: "+key+"\n")
	b, _ := os.ReadFile(cfg)
	b = bytes.Replace(b, []byte("source:\n  api_url:"), []byte("accounts:\n- type: cf\n  account: "+cfAcct+"\n  api_url: "+cfSrv.URL+"\n  token_url: "+cfSrv.URL+
		"\n  client_id: sb-chaos\n  client_secret: ${E2E_SECRET}\n- api_url:"), 1)
	// Half the windows (~750 records each) are deduplicated on disk.
	spill := "  spill_threshold: 100000\n"
	if rng.IntN(2) == 0 {
		spill = "  spill_threshold: 100\n  spool_dir: " + t.TempDir() + "\n"
	}
	os.WriteFile(cfg, bytes.Replace(b, []byte("  lag: 15m\n"), []byte("  lag: 15m\n  parallel: 3\n"+spill), 1), 0o600)

	// Consumers of the six sinks: every file created, every object
	// version created, snapshotted after each run so that a replaced or
	// removed one is caught.
	consumers := []*consumer{
		{t: t, w: w, srv: srv, bucket: bucket, prefix: "pq/", dir: filepath.Join(w.dir, "out")},
		{t: t, w: w, srv: srv, bucket: bucket, prefix: "js/", dir: filepath.Join(w.dir, "out-pq")},
		// OCSF events: JSON lines files, and Security Lake's custom sources
		// (one per class) on the bucket.
		{t: t, w: w, srv: srv, bucket: bucket, prefix: "ext/", dir: filepath.Join(w.dir, "out-ocsf")},
	}
	var reads []read
	snapshot := func(step string) {
		t.Helper()
		reads = reads[:0]
		for _, c := range consumers {
			reads = append(reads, c.readFiles(step), c.readBucket(step))
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	// Late records: visible only from a chosen run on, in windows that
	// earlier runs may have exported already; the look-back (or the final
	// verify --repair) appends them.
	lateAt := map[int][]audit.Record{}
	for i, at := range []int{1, runs / 2, runs - 1} {
		t0 := w.start.Add(time.Duration(10+7*i) * time.Minute)
		lateAt[at] = append(lateAt[at], consumerLate(fmt.Sprintf("late-neo-%d", i), t0))
		cl := cfsim.Generate(cfAcct, t0.Add(time.Hour), t0.Add(time.Hour+time.Minute), 1, seed+uint64(i))[0]
		cl.UUID = fmt.Sprintf("late-cf-%d", i)
		lateAt[at] = append(lateAt[at], cl)
	}
	gridChange := runs / 2

	chaos.on.Store(true)
	kills, exits := 0, map[int]int{}
	resets, lookedBack := 0, 0
	for i := 0; i < runs; i++ {
		for _, rec := range lateAt[i] {
			if rec.Account == cfAcct {
				cf.Add(rec)
				cfRecs = append(cfRecs, rec)
			} else {
				w.sim.Add(nil, rec)
			}
		}
		if i == gridChange && i > 0 {
			// The operator changes export.window from 30m to 1h.
			b, _ := os.ReadFile(cfg)
			os.WriteFile(cfg, bytes.Replace(b, []byte("  window: 30m\n"), []byte("  window: 1h\n"), 1), 0o600)
		}
		// Half the time, move the watermark back first, so that the run
		// re-exports (replaces) windows instead of finding nothing due.
		if i > 0 && rng.IntN(2) == 0 {
			chaos.on.Store(false)
			var states []struct {
				Account   string
				Watermark time.Time
			}
			r := w.run(srv.Env(), "state", "show", "--config", cfg, "--output", "json")
			if err := json.Unmarshal([]byte(r.stdout), &states); err != nil || len(states) != 2 {
				t.Fatalf("state show: %v %s %s", err, r.stdout, r.stderr)
			}
			st := states[rng.IntN(2)]
			if n := int(st.Watermark.Sub(w.start) / (30 * time.Minute)); n > 0 {
				back := w.start.Add(time.Duration(rng.IntN(n)) * 30 * time.Minute)
				if r := w.run(srv.Env(), "state", "set", "--config", cfg, "--account", st.Account, "--watermark", back.Format(time.RFC3339)); r.code == 0 {
					resets++
				}
			}
			chaos.on.Store(true)
		}
		cmd, _, stderr := w.cmd(context.Background(), srv.Env(), "run", "--config", cfg)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Duration(rng.Int64N(int64(1500 * time.Millisecond)))):
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			kills++
		}
		exits[cmd.ProcessState.ExitCode()]++
		assertNoSecret(t, stderr.String())
		lookedBack += len(regexp.MustCompile(`"late_records":[1-9]`).FindAllString(stderr.String(), -1))
		chaos.on.Store(false)
		snapshot(fmt.Sprintf("run %d", i+1))
		chaos.on.Store(true)
	}
	chaos.on.Store(false)
	w.sim.SetFaults(neosim.Faults{})
	cf.SetFaults(cfsim.Faults{})
	r := w.run(srv.Env(), "run", "--config", cfg)
	if r.code != 0 {
		t.Fatalf("final run: exit %d\n%s", r.code, r.stderr)
	}
	lookedBack += len(regexp.MustCompile(`"late_records":[1-9]`).FindAllString(r.stderr, -1))
	// What the look-back of a run without windows due has not re-checked
	// yet, verify --repair appends (and seals again).
	r = w.run(srv.Env(), "state", "show", "--config", cfg, "--output", "json")
	var states []struct{ Watermark time.Time }
	if err := json.Unmarshal([]byte(r.stdout), &states); err != nil || len(states) != 2 {
		t.Fatalf("state show: %v %s %s", err, r.stdout, r.stderr)
	}
	repairTo := states[0].Watermark
	if states[1].Watermark.Before(repairTo) {
		repairTo = states[1].Watermark
	}
	r = w.run(srv.Env(), "verify", "--config", cfg, "--from", w.start.Format(time.RFC3339), "--to", repairTo.Format(time.RFC3339), "--repair", "--output", "json")
	if r.code != 0 {
		t.Fatalf("verify --repair after chaos: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	repaired := strings.Count(r.stdout, `"repaired":true`)
	snapshot("final run and repair")

	// The watermarks live in S3.
	watermark := func(account string) time.Time {
		out, err := srv.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("state/" + account + ".json")})
		if err != nil {
			t.Fatal(err)
		}
		stb, _ := io.ReadAll(out.Body)
		i := bytes.Index(stb, []byte(`"watermark": "`))
		wm, err := time.Parse(time.RFC3339, string(stb[i+14:i+34]))
		if err != nil {
			t.Fatalf("state %s: %v", stb, err)
		}
		return wm
	}
	wm, cfWM := watermark(acct), watermark(cfAcct)
	want := map[string][]audit.Record{acct: w.sim.Records(acct, w.start, wm)}
	for _, rec := range cfRecs {
		if !rec.Time.Before(w.start) && rec.Time.Before(cfWM) {
			want[cfAcct] = append(want[cfAcct], rec)
		}
	}
	check := func(name string, all map[string]audit.Record) {
		t.Helper()
		for account, recs := range want {
			got := map[string]audit.Record{}
			for id, r := range all {
				if r.Account == account {
					got[id] = r
				}
			}
			if len(got) != len(recs) {
				t.Fatalf("%s: %d records of %s, the simulator holds %d", name, len(got), account, len(recs))
			}
			for _, rec := range recs {
				rec.Time = rec.Time.Truncate(time.Millisecond)
				g, ok := got[rec.UUID]
				if !ok || !g.Equal(&rec) {
					t.Fatalf("%s: record %s of %s missing or changed:\n got %+v\nwant %+v", name, rec.UUID, account, g, rec)
				}
			}
		}
	}
	upTo := wm
	if cfWM.After(upTo) {
		upTo = cfWM
	}
	// Each record read once by every consumer, in all it ever took in.
	for i, name := range []string{"jsonl file", "parquet s3", "parquet file", "jsonl.gz s3", "ocsf jsonl file", "ocsf security lake s3"} {
		for id, where := range reads[i].where {
			if len(where) > 1 {
				t.Fatalf("%s: record %s read %d times: %v", name, id, len(where), where)
			}
			if r := reads[i].records[id]; !r.Time.Before(upTo) {
				t.Fatalf("%s: record %s at %s beyond the watermarks", name, id, r.Time)
			}
		}
		check(name, reads[i].records)
	}

	// The evidence holds: every window signed and as committed, yesterday
	// sealed (in every sink, for both accounts), the chain unbroken.
	early := wm
	if cfWM.Before(early) {
		early = cfWM
	}
	r = w.run(srv.Env(), "verify", "--config", cfg, "--from", w.start.Format(time.RFC3339), "--to", early.Format(time.RFC3339),
		"--evidence-only", "--public-key", pub, "--output", "json")
	var ev verifyOutput
	if err := json.Unmarshal([]byte(r.stdout), &ev); err != nil {
		t.Fatalf("verify: %v\n%s", err, r.stderr)
	}
	if r.code != 0 || ev.Summary.Days["sealed"] < 8 || len(ev.Problems) != 0 {
		t.Fatalf("evidence after chaos: exit %d, days %v, windows %v, problems %+v", r.code, ev.Summary.Days, ev.Summary.Windows, ev.Problems)
	}

	injected := w.sim.Counters().Faults
	for k, v := range cf.Counters().Faults {
		injected["cf-"+k] = v
	}
	chaos.mu.Lock()
	for k, v := range chaos.counts {
		injected[k] = v
	}
	chaos.mu.Unlock()
	total := 0
	for _, v := range injected {
		total += v
	}
	n := len(want[acct]) + len(want[cfAcct])
	t.Logf("chaos (seed %d, readings %s and %s, %s): %d runs (%d after moving a watermark back, window 30m then 1h from run %d), %d killed, exits %v, %d faults injected %v, %d records checked in 6 sinks (watermarks %s, %s); late records appended by %d look-backs, %d windows repaired",
		seed, reading, cfReading, strings.TrimSpace(strings.SplitN(spill, "\n", 2)[0]), runs+1, resets, gridChange+1, kills, exits, total, injected, 6*n, wm.Format(time.RFC3339), cfWM.Format(time.RFC3339), lookedBack, repaired)
	fmt.Fprintf(os.Stderr, "chaos (readings %s, %s): %d runs, %d killed with SIGKILL, window changed 30m -> 1h, %d faults injected, %d records (Neo and Cloud Foundry, %d late) x 6 sinks, every object version a consumer ingests counted: 0 missing, 0 duplicated, %d days sealed, chain unbroken\n", reading, cfReading, runs+1, kills, total, n, 2*len(lateAt), ev.Summary.Days["sealed"])
}
