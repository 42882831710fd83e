package main

// End-to-end tests: the real binary against the simulator over real HTTP,
// real files, real signals.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/internal/testtool"
	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
)

// binary is the exporter as released; crashBinary is built with
// -tags crashhooks (AUDITLOG_EXPORTER_CRASH kills it at a chosen point).
var binary, crashBinary, simBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "auditlog-exporter-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "auditlog-exporter")
	crashBinary = filepath.Join(dir, "auditlog-exporter-crashhooks")
	simBinary = filepath.Join(dir, "neo-sim")
	for bin, args := range map[string][]string{binary: {"."}, crashBinary: {"-tags", "crashhooks", "."}, simBinary: {"../neo-sim"}} {
		out, err := exec.Command("go", append([]string{"build", "-o", bin}, args...)...).CombinedOutput()
		pkg := args[len(args)-1]
		if err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", pkg, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	acct   = "e2eacct"
	secret = "e2e-Secret-Do-Not-Log"
)

type world struct {
	t     *testing.T
	sim   *neosim.Server
	url   string
	dir   string
	start time.Time
	lag   time.Duration // export.lag of the configs it writes; 0: 15m
}

// pinDue sets the lag of the configs w writes from now on so that the
// newest window due (complete and as old as the lag) stays the same for 15
// minutes from now: a test that compares what runs exported with what is
// due cannot race a window boundary, whenever it runs and however slowly.
// It returns the end of that window, where a run's watermark stops. (With
// the default 15m lag the window due changes at every :15 and :45.)
func (w *world) pinDue() time.Time {
	now := time.Now().UTC()
	into := now.Sub(now.Truncate(30 * time.Minute)).Truncate(time.Second)
	// now-lag lands 15 minutes (and under a second) into a window.
	w.lag = (into + 15*time.Minute) % (30 * time.Minute)
	if w.lag < 15*time.Minute {
		w.lag += 30 * time.Minute
	}
	return now.Add(-w.lag).Truncate(30 * time.Minute)
}

// newWorld serves five hours of records; late ones appear within 5 minutes,
// well inside the 15-minute lag.
func newWorld(t *testing.T, faults neosim.Faults) *world {
	return newWorldSized(t, faults, 900, 200)
}

func newWorldSized(t *testing.T, faults neosim.Faults, perHour, pageSize int) *world {
	return newWorldReadings(t, faults, perHour, pageSize, neosim.Readings{})
}

// newWorldReadings is newWorldSized with the simulator answering the
// undocumented questions as readings says.
func newWorldReadings(t *testing.T, faults neosim.Faults, perHour, pageSize int, readings neosim.Readings) *world {
	t.Helper()
	return newWorldSpan(t, faults, perHour, pageSize, readings, 4*time.Hour)
}

// newWorldSpan serves records from an hour before the export starts,
// span ago, until now.
func newWorldSpan(t *testing.T, faults neosim.Faults, perHour, pageSize int, readings neosim.Readings, span time.Duration) *world {
	t.Helper()
	now := time.Now().UTC()
	sim := neosim.New(neosim.Options{Accounts: []string{acct}, ClientID: "e2e-client", ClientSecret: secret, Seed: 11, PageSize: pageSize, Readings: readings})
	recs, vis := neosim.Generate(neosim.GenOptions{Account: acct, From: now.Add(-span - time.Hour), To: now, PerHour: perHour, Seed: 12, LateFraction: 0.1, LateMax: 5 * time.Minute})
	sim.Add(vis, recs...)
	sim.SetFaults(faults)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &world{t: t, sim: sim, url: srv.URL, dir: t.TempDir(), start: now.Add(-span).Truncate(30 * time.Minute)}
}

func (w *world) config(extra string) string {
	return w.configWith(`state:
  path: %[1]s/state
sinks:
  - type: file
    path: %[1]s/out
  - type: file
    path: %[1]s/out-gz
    compression: gzip
`, extra)
}

// configWith writes a config whose state and sinks sections are given
// (%[1]s is the test directory).
func (w *world) configWith(stateAndSinks, extra string) string {
	w.t.Helper()
	p := filepath.Join(w.dir, "config.yaml")
	cfg := fmt.Sprintf(`source:
  api_url: %s
  account: %s
  client_id: e2e-client
  client_secret: ${E2E_SECRET}
  max_requests_per_second: 0
export:
  start: %s
  window: 30m
  lag: %s
retry:
  max_elapsed: 2m
%s
log:
  level: debug
%s`, w.url, acct, w.start.Format(time.RFC3339), w.lagYAML(), fmt.Sprintf(stateAndSinks, w.dir), extra)
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return p
}

func (w *world) lagYAML() string {
	if w.lag == 0 {
		return "15m"
	}
	return w.lag.String()
}

type result struct {
	code           int
	stdout, stderr string
}

// syncBuffer is a buffer a test may read while the child process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func (w *world) cmd(ctx context.Context, env []string, args ...string) (*exec.Cmd, *syncBuffer, *syncBuffer) {
	bin := binary
	for _, e := range env {
		if strings.HasPrefix(e, "AUDITLOG_EXPORTER_CRASH=") {
			bin = crashBinary
		}
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "E2E_SECRET="+secret)
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

func (w *world) run(env []string, args ...string) result {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd, stdout, stderr := w.cmd(ctx, env, args...)
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			w.t.Fatalf("run %v: %v", args, err)
		}
		code = ee.ExitCode() // -1 when killed by a signal
	}
	r := result{code, stdout.String(), stderr.String()}
	assertNoSecret(w.t, r.stdout+r.stderr)
	for _, tok := range w.sim.IssuedTokens() {
		if strings.Contains(r.stdout+r.stderr, tok) {
			w.t.Fatalf("access token %s... appears in the output", tok[:4])
		}
	}
	return r
}

func assertNoSecret(t *testing.T, s string) {
	t.Helper()
	if strings.Contains(s, secret) {
		t.Fatalf("the client secret appears in the output:\n%s", s)
	}
	if i := strings.Index(strings.ToLower(s), "bearer "); i >= 0 {
		t.Fatalf("a bearer token may appear in the output: %q", s[i:min(len(s), i+60)])
	}
}

func (w *world) watermark() time.Time {
	w.t.Helper()
	b, err := os.ReadFile(filepath.Join(w.dir, "state", acct+".json"))
	if os.IsNotExist(err) {
		return w.start
	}
	if err != nil {
		w.t.Fatal(err)
	}
	var st struct{ Watermark time.Time }
	if err := json.Unmarshal(b, &st); err != nil {
		w.t.Fatal(err)
	}
	return st.Watermark
}

// readOutput reads every committed file of one sink directory, failing on
// a duplicate record or a file outside [w.start, upTo).
func (w *world) readOutput(sub string, upTo time.Time) map[string]audit.Record {
	w.t.Helper()
	got := map[string]audit.Record{}
	root := filepath.Join(w.dir, sub)
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && strings.HasPrefix(d.Name(), "_") { // _manifests, _seals: what Hive-style readers skip
			return filepath.SkipDir
		}
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") {
			w.t.Fatalf("temporary file left in the output: %s", p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			w.t.Fatal(err)
		}
		err = sinks.ReadObject(sinks.ExtOf(p), bytes.NewReader(b), int64(len(b)), func(r audit.Record) error {
			if _, dup := got[r.UUID]; dup {
				w.t.Fatalf("record %s exported twice (%s)", r.UUID, p)
			}
			if r.Time.Before(w.start) || !r.Time.Before(upTo) {
				w.t.Fatalf("record %s at %s outside the exported range", r.UUID, r.Time)
			}
			got[r.UUID] = r
			return nil
		})
		if err != nil {
			w.t.Fatalf("%s: %v", p, err)
		}
		return nil
	})
	return got
}

// assertExact checks both sinks hold exactly the simulator's records for
// every window up to the watermark.
func (w *world) assertExact() int {
	return w.assertExactSink("out", "out-gz")
}

func (w *world) assertExactSink(subs ...string) int {
	w.t.Helper()
	wm := w.watermark()
	want := w.sim.Records(acct, w.start, wm)
	if len(want) == 0 {
		w.t.Fatal("nothing exported")
	}
	for _, sub := range subs {
		got := w.readOutput(sub, wm)
		for id, r := range got {
			if r.Account != acct {
				delete(got, id) // another account's (a mixed run)
			}
		}
		if len(got) != len(want) {
			w.t.Fatalf("%s: %d records, the simulator holds %d for %s..%s", sub, len(got), len(want), w.start, wm)
		}
		for _, r := range want {
			g, ok := got[r.UUID]
			if !ok {
				w.t.Fatalf("%s: record %s (%s) missing", sub, r.UUID, r.Time)
			}
			r.Time = r.Time.Truncate(time.Millisecond)
			if !g.Equal(&r) {
				w.t.Fatalf("%s: record %s differs:\n got %+v\nwant %+v", sub, r.UUID, g, r)
			}
		}
	}
	return len(want)
}

func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() != ".auditlog-exporter.lock" {
			fi, _ := d.Info()
			b, _ := os.ReadFile(p)
			m[p] = fmt.Sprintf("%x/%s", b, fi.ModTime())
		}
		return nil
	})
	return m
}

func TestEndToEndWithFaults(t *testing.T) {
	t.Parallel()
	w := newWorld(t, neosim.Faults{Rate429: 0.03, Rate5xx: 0.1, RateDrop: 0.1, RateTruncate: 0.1, RateHTML: 0.1,
		TokenMaxUses: 7, RateDuplicate: 0.3, RetryAfter: "0", ForeignOrigin: "https://evil.example"})
	due := w.pinDue()
	cfg := w.config("")
	r := w.run(nil, "run", "--config", cfg)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	n := w.assertExact()
	if wm := w.watermark(); !wm.Equal(due) {
		t.Fatalf("watermark %s: want %s, the end of the newest window due", wm, due)
	}
	faults := w.sim.Counters().Faults
	t.Logf("%d records, faults injected: %v", n, faults)
	for _, k := range []string{"429", "5xx", "drop", "truncate", "html", "duplicate", "token-expired-early"} {
		if faults[k] == 0 {
			t.Errorf("fault %s never injected", k)
		}
	}
	if len(w.sim.IssuedTokens()) < 2 {
		t.Fatal("early token expiry should have forced a renewal")
	}
	for _, f := range []string{filepath.Join(w.dir, "state", acct+".json")} {
		b, _ := os.ReadFile(f)
		assertNoSecret(t, string(b))
	}
	if !strings.Contains(r.stderr, `"message":"window exported"`) || !strings.Contains(r.stderr, `"message":"run finished"`) {
		t.Fatalf("missing log lines:\n%s", r.stderr)
	}
	// A second run changes nothing.
	before := snapshot(t, w.dir)
	r = w.run(nil, "run", "--config", cfg)
	if r.code != 0 {
		t.Fatalf("second run: exit %d\n%s", r.code, r.stderr)
	}
	if after := snapshot(t, w.dir); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("second run changed the output or the state")
	}
}

// Under every reading of what SAP leaves undocumented, with faults on top:
// the run exports every record exactly once, the manifests say how each
// window was judged complete, verify agrees with the export, and a second
// run changes nothing (no window fails forever). The records go to JSON
// lines, gzip and OCSF events, each of which validates against the
// published OCSF 1.1.0 schema.
func TestEndToEndAcrossReadings(t *testing.T) {
	t.Parallel()
	// Each reading owns its simulator and directory, and its runs mostly
	// wait out the gateway's refusals: six at once.
	all := testtool.AtOnce(t, 6)
	defer all.Wait()
	for _, name := range neosim.ReadingNames() {
		rd := neosim.AllReadings()[name]
		all.Run(name, func(t *testing.T) {
			// A gateway that refuses one request in eleven, by count:
			// throttled however fast the machine is.
			faults := neosim.Faults{GatewayAdmit: 10, GatewayRetryAfter: "none", Rate5xx: 0.05, RateDuplicate: 0.2, RetryAfter: "none"}
			if rd.ClientPages() {
				// Paging with $skip cannot tell a repeated row the server
				// adds to a page from a row it stores: such a window fails
				// loudly (TestSkipPagingWithServedDuplicatesNeverLoses).
				faults.RateDuplicate = 0
			}
			w := newWorldReadings(t, faults, 900, 200, rd)
			due := w.pinDue()
			cfg := w.configWith(`state:
  path: %[1]s/state
sinks:
  - type: file
    path: %[1]s/out
  - type: file
    path: %[1]s/out-gz
    compression: gzip
  - type: file
    schema: ocsf
    path: %[1]s/ocsf
`, "")
			for run := 1; run <= 2; run++ {
				r := w.run(nil, "run", "--config", cfg)
				if r.code != 0 {
					t.Fatalf("run %d: exit %d\n%s", run, r.code, r.stderr)
				}
				// Without a count: one warning per run, not one per window.
				warnings := strings.Count(r.stderr, "sends no @odata.count")
				if want := map[bool]int{true: 1, false: 0}[rd.Count == neosim.CountNone && run == 1]; warnings != want {
					t.Fatalf("run %d: %d warnings about the missing count, want %d", run, warnings, want)
				}
				// A nextLink elsewhere: paged by the client, said once per run.
				links := strings.Count(r.stderr, "points elsewhere than its records path")
				if want := map[bool]int{true: 1, false: 0}[(rd.NextLinkOtherPath || rd.NextLinkOtherHost) && run == 1]; links != want {
					t.Fatalf("run %d: %d warnings about nextLinks elsewhere, want %d", run, links, want)
				}
			}
			n := w.assertExactSink("out", "out-gz", "ocsf") // OCSF events too, read back by metadata.uid
			if v := validateOCSFFiles(t, filepath.Join(w.dir, "ocsf")); v != n {
				t.Fatalf("%d OCSF events validated, %d records exported", v, n)
			}
			wm := w.watermark()
			if !wm.Equal(due) {
				t.Fatalf("watermark %s, want %s: stuck", wm, due)
			}
			if w.sim.Counters().Faults["gateway-429"] == 0 {
				t.Fatal("the gateway refused nothing: throttling is not exercised")
			}
			want := map[neosim.CountReading]string{neosim.CountDistinct: "counted", neosim.CountRows: "counted", neosim.CountNone: "uncounted"}[rd.Count]
			if rd.Count == neosim.CountRows && rd.StoredDuplicates > 0 {
				want = "stored-duplicates"
			}
			manifests, _ := filepath.Glob(filepath.Join(w.dir, "out", "_manifests", "*", "*", "*.json"))
			if len(manifests) == 0 {
				t.Fatal("no manifests")
			}
			seen := map[string]int{}
			for _, m := range manifests {
				b, _ := os.ReadFile(m)
				var man struct {
					Completeness string `json:"completeness"`
					SourceCount  int64  `json:"source_count"`
				}
				if err := json.Unmarshal(b, &man); err != nil {
					t.Fatal(err)
				}
				seen[man.Completeness]++
				if (man.SourceCount < 0) != (rd.Count == neosim.CountNone) {
					t.Fatalf("%s: source_count %d under count=%s", m, man.SourceCount, rd.Count)
				}
			}
			if seen[want] == 0 {
				t.Fatalf("manifests' completeness %v, want some %q", seen, want)
			}
			w.sim.SetFaults(neosim.Faults{})
			r := w.run(nil, "verify", "--config", cfg, "--from", w.start.Format(time.RFC3339), "--to", wm.Format(time.RFC3339), "--output", "json")
			var out verifyOutput
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 {
				t.Fatalf("verify: exit %d, %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
			}
			for status, n := range out.Summary.Windows {
				if status != "ok" && n > 0 {
					t.Fatalf("verify disagrees with the export: %v", out.Summary)
				}
			}
		})
	}
}

// The release binary has no crash hooks: the variable the crash tests use
// does nothing to it.
func TestReleaseBinaryIgnoresCrashHooks(t *testing.T) {
	t.Parallel()
	w := newWorld(t, neosim.Faults{})
	cfg := w.config("")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "run", "--config", cfg)
	cmd.Env = append(os.Environ(), "E2E_SECRET="+secret, "AUDITLOG_EXPORTER_CRASH=after-commit:1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release binary with AUDITLOG_EXPORTER_CRASH set: %v\n%s", err, out)
	}
	w.assertExact()
}

func TestCrashAfterCommitBeforeWatermark(t *testing.T) {
	t.Parallel()
	w := newWorld(t, neosim.Faults{})
	cfg := w.config("")
	r := w.run([]string{"AUDITLOG_EXPORTER_CRASH=after-commit:3"}, "run", "--config", cfg)
	if r.code != -1 {
		t.Fatalf("want the run killed, got exit %d\n%s", r.code, r.stderr)
	}
	// Three windows committed, two watermarks saved.
	if wm := w.watermark(); !wm.Equal(w.start.Add(time.Hour)) {
		t.Fatalf("watermark %s, want %s", wm, w.start.Add(time.Hour))
	}
	if got := w.readOutput("out", w.start.Add(90*time.Minute)); len(got) == 0 {
		t.Fatal("the third window should be committed")
	}
	r = w.run(nil, "run", "--config", cfg)
	if r.code != 0 {
		t.Fatalf("rerun: exit %d\n%s", r.code, r.stderr)
	}
	w.assertExact()
}

// A Go runtime crash is exit 1 (worth retrying) with a message, not the
// runtime's 2 (which means "bad configuration"); the next run completes.
func TestRuntimeCrashIsExit1(t *testing.T) {
	t.Parallel()
	w := newWorld(t, neosim.Faults{})
	cfg := w.config("")
	r := w.run([]string{"AUDITLOG_EXPORTER_CRASH=panic-after-commit:1"}, "run", "--config", cfg)
	if r.code != 1 || !strings.Contains(r.stderr, "panic: crash requested") || !strings.Contains(r.stderr, "the process crashed") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if r := w.run(nil, "run", "--config", cfg); r.code != 0 {
		t.Fatalf("rerun: exit %d\n%s", r.code, r.stderr)
	}
	w.assertExact()
}

// A reader of standard output that goes away is a failed run (exit 1, with
// a message), not a silent death by SIGPIPE.
func TestStdoutReaderGoneIsExit1(t *testing.T) {
	t.Parallel()
	w := newWorld(t, neosim.Faults{})
	cfg := w.configWith(`state:
  path: %[1]s/state
sinks:
  - type: stdout
`, "")
	cmd, _, stderr := w.cmd(context.Background(), nil, "run", "--config", cfg)
	cmd.Stdout = nil
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	if _, err := io.ReadFull(out, buf); err != nil {
		t.Fatal(err)
	}
	out.Close()
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(stderr.String(), "broken pipe") {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
}

func TestCrashMidWindow(t *testing.T) {
	t.Parallel()
	w := newWorld(t, neosim.Faults{})
	cfg := w.config("")
	r := w.run([]string{"AUDITLOG_EXPORTER_CRASH=mid-window:200"}, "run", "--config", cfg)
	if r.code != -1 {
		t.Fatalf("want the run killed, got exit %d\n%s", r.code, r.stderr)
	}
	if wm := w.watermark(); !wm.Equal(w.start) {
		t.Fatalf("watermark moved to %s", wm)
	}
	var visible, partial int
	filepath.WalkDir(filepath.Join(w.dir, "out"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") {
				partial++
			} else {
				visible++
			}
		}
		return nil
	})
	if visible != 0 || partial != 1 {
		t.Fatalf("after the kill: %d visible files, %d temporary; want 0 and 1", visible, partial)
	}
	r = w.run(nil, "run", "--config", cfg)
	if r.code != 0 {
		t.Fatalf("rerun: exit %d\n%s", r.code, r.stderr)
	}
	w.assertExact()
}

// waitFor polls cond for up to 3 minutes: a bound for a hang, not a
// speed (tests run four at once, beside other packages).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// holdListings puts a gate in front of w's simulator (call it before
// w.config): once n windows are committed, every listing waits until
// release is called. A test that acts on a run while it is running (a
// signal, a second run) then finds it running, however fast or slow
// either is. release may be called more than once.
func (w *world) holdListings(n int) (release func()) {
	w.t.Helper()
	gate := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "AuditLogRecords") && committedFiles(w.dir) >= n {
			<-gate
		}
		w.sim.ServeHTTP(rw, r)
	}))
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	w.t.Cleanup(srv.Close)
	w.t.Cleanup(release) // before srv.Close, which waits for held listings
	w.url = srv.URL
	return release
}

func committedFiles(dir string) int {
	files, _ := filepath.Glob(filepath.Join(dir, "out", "account=*", "date=*", "*.jsonl"))
	return len(files)
}

func TestSIGTERMAbandonsWindowCleanly(t *testing.T) {
	t.Parallel()
	w := newWorld(t, neosim.Faults{Latency: 30 * time.Millisecond})
	release := w.holdListings(2) // the run is mid-export when the signal comes
	cfg := w.config("")
	cmd, _, stderr := w.cmd(context.Background(), nil, "run", "--config", cfg)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a committed window", func() bool { return committedFiles(w.dir) >= 2 })
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	release()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "interrupted") {
		t.Fatalf("after SIGTERM: %v\n%s", err, stderr)
	}
	assertNoSecret(t, stderr.String())
	// Every visible file is a window at or below the watermark.
	wm := w.watermark()
	w.readOutput("out", wm)
	if n := committedFiles(w.dir); n != int(wm.Sub(w.start)/(30*time.Minute)) {
		t.Fatalf("%d committed files but the watermark %s covers %d windows", n, wm, wm.Sub(w.start)/(30*time.Minute))
	}
	if r := w.run(nil, "run", "--config", cfg); r.code != 0 {
		t.Fatalf("rerun: exit %d\n%s", r.code, r.stderr)
	}
	w.assertExact()
}

func TestSecondRunIsLockedOut(t *testing.T) {
	t.Parallel()
	w := newWorld(t, neosim.Faults{Latency: 50 * time.Millisecond})
	// The first run holds the lock while the second tries.
	release := w.holdListings(1)
	cfg := w.config("")
	cmd, _, _ := w.cmd(context.Background(), nil, "run", "--config", cfg)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	defer release()
	waitFor(t, "the first run to start exporting", func() bool { return committedFiles(w.dir) >= 1 })
	r := w.run(nil, "run", "--config", cfg)
	if r.code != 1 || !strings.Contains(r.stderr, "in use by another run") || !strings.Contains(r.stderr, ".auditlog-exporter.lock") {
		t.Fatalf("second run: exit %d\n%s", r.code, r.stderr)
	}
	// state show works while the run holds the lock.
	if r := w.run(nil, "state", "show", "--config", cfg); r.code != 0 {
		t.Fatalf("state show during a run: exit %d\n%s", r.code, r.stderr)
	}
}

// Every run proves its credentials, even with no window due; a failing
// token endpoint is asked at most three times per run, which then fails
// with exit 1 (the next run tries again).
func TestEveryRunProvesCredentials(t *testing.T) {
	t.Parallel()
	w := newWorld(t, neosim.Faults{})
	cfg := w.config("")
	if r := w.run(nil, "run", "--config", cfg); r.code != 0 {
		t.Fatalf("first run: exit %d\n%s", r.code, r.stderr)
	}
	// Nothing is due now; a wrong secret must still be exit 3.
	b, _ := os.ReadFile(cfg)
	bad := filepath.Join(w.dir, "bad.yaml")
	os.WriteFile(bad, []byte(strings.Replace(string(b), "client_secret: ${E2E_SECRET}", "client_secret: wrong-one", 1)), 0o600)
	if r := w.run(nil, "run", "--config", bad); r.code != 3 || !strings.Contains(r.stderr, "refused the client credentials") {
		t.Fatalf("rejected credentials with nothing due: exit %d\n%s", r.code, r.stderr)
	}
	before := w.sim.Counters().TokenRequests
	w.sim.SetFaults(neosim.Faults{Token429: 1000})
	start := time.Now()
	r := w.run(nil, "run", "--config", cfg)
	if r.code != 1 || !strings.Contains(r.stderr, "HTTP 429") {
		t.Fatalf("throttled token endpoint: exit %d\n%s", r.code, r.stderr)
	}
	if n := w.sim.Counters().TokenRequests - before; n != 3 {
		t.Fatalf("%d token requests in one run, want at most 3", n)
	}
	t.Logf("failed after %s", time.Since(start).Round(time.Millisecond))
}

// A watermark near or past the retention horizon is said loudly, with the
// windows that can no longer be complete, and exported as a metric; the
// retention comes from the Retention API when the client may read it.
func TestRetentionHorizon(t *testing.T) {
	t.Parallel()
	w := newWorld(t, neosim.Faults{})
	prom := filepath.Join(w.dir, "metrics.prom")
	cfg := w.config("metrics:\n  textfile: " + prom + "\n")
	b, _ := os.ReadFile(cfg)
	// The world's records start 5 hours ago; a 4-hour retention puts the
	// first windows past the horizon.
	os.WriteFile(cfg, []byte(strings.Replace(string(b), "  max_requests_per_second: 0\n", "  max_requests_per_second: 0\n  retention_days: 1\n", 1)), 0o600)
	r := w.run(nil, "run", "--config", cfg)
	if r.code != 0 || strings.Contains(r.stderr, "can no longer be complete") || !strings.Contains(r.stderr, "close to the retention horizon") {
		t.Fatalf("1 day retention, 4 hours behind: exit %d\n%s", r.code, r.stderr)
	}
	m, _ := os.ReadFile(prom)
	if !strings.Contains(string(m), `auditlog_exporter_retention_headroom_seconds{account="e2eacct"}`) {
		t.Fatalf("no headroom metric:\n%s", m)
	}
	// Backfill from two days ago: those windows are past the horizon.
	from := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Hour)
	r = w.run(nil, "backfill", "--config", cfg, "--from", from.Format(time.RFC3339), "--to", from.Add(2*time.Hour).Format(time.RFC3339))
	if r.code != 0 || !strings.Contains(r.stderr, "can no longer be complete") || !strings.Contains(r.stderr, from.Format(time.RFC3339)) {
		t.Fatalf("backfill past the horizon: exit %d\n%s", r.code, r.stderr)
	}
	// Without retention_days the simulator's Retention API (201 days) is read.
	os.WriteFile(cfg, b, 0o600)
	r = w.run(nil, "backfill", "--config", cfg, "--from", from.Format(time.RFC3339), "--to", from.Add(2*time.Hour).Format(time.RFC3339))
	if r.code != 0 || strings.Contains(r.stderr, "retention_horizon") {
		t.Fatalf("201 days retention: exit %d\n%s", r.code, r.stderr)
	}
}

func TestBadInputExitCodes(t *testing.T) {
	t.Parallel()
	w := newWorld(t, neosim.Faults{})
	good := w.config("")
	mk := func(name, from, to string) string {
		b, _ := os.ReadFile(good)
		s := string(b)
		if !strings.Contains(s, from) {
			t.Fatalf("%s: config has no %q", name, from)
		}
		p := filepath.Join(w.dir, name+".yaml")
		os.WriteFile(p, []byte(strings.Replace(s, from, to, 1)), 0o600)
		return p
	}
	regular := filepath.Join(w.dir, "regular")
	os.WriteFile(regular, nil, 0o600)
	down := mk("down", "api_url: "+w.url, "api_url: http://127.0.0.1:1")
	b, _ := os.ReadFile(down)
	os.WriteFile(down, bytes.Replace(b, []byte("max_elapsed: 2m"), []byte("max_elapsed: 1s"), 1), 0o600)
	cases := []struct {
		name string
		args []string
		code int
		msg  []string
	}{
		{"unknown key", []string{"run", "--config", mk("unknown", "  lag: 15m", "  lag: 15m\n  lagg: 1m")}, 2, []string{"export.lagg: unknown key"}},
		{"missing key", []string{"run", "--config", mk("missing", "  client_id: e2e-client\n", "")}, 2, []string{"source.client_id: required"}},
		{"window", []string{"run", "--config", mk("window", "window: 30m", "window: 7m")}, 2, []string{"export.window", "does not divide 24h"}},
		{"secret file", []string{"run", "--config", mk("secretfile", "client_secret: ${E2E_SECRET}", "client_secret_file: "+w.dir+"/nope")}, 2, []string{"source.client_secret_file: cannot read the secret"}},
		{"wrong credentials", []string{"run", "--config", mk("creds", "client_secret: ${E2E_SECRET}", "client_secret: wrong-one")}, 3, []string{"refused the client credentials", "client_secret"}},
		{"forbidden account", []string{"run", "--config", mk("forbidden", "account: "+acct, "account: notmine")}, 3, []string{"HTTP 403", "notmine"}},
		{"no config flag", []string{"run"}, 2, []string{"--config is required"}},
		{"missing config file", []string{"run", "--config", w.dir + "/nope.yaml"}, 2, []string{"no such file"}},
		{"unknown flag", []string{"run", "--confg", good}, 2, []string{"unknown flag"}},
		{"unknown command", []string{"runn"}, 2, []string{"unknown command"}},
		{"unaligned watermark", []string{"state", "set", "--config", good, "--watermark", "2026-11-24T10:10:00Z"}, 2, []string{"not a boundary"}},
		{"bad watermark", []string{"state", "set", "--config", good, "--watermark", "soon"}, 2, []string{"--watermark"}},
		{"output cannot be made", []string{"run", "--config", mk("outdir", "path: "+w.dir+"/out\n", "path: /proc/auditlog-exporter-test\n")}, 2,
			[]string{"must be a directory this user can create and write", "(exit 2"}},
		{"output under a file", []string{"run", "--config", mk("outfile", "path: "+w.dir+"/out\n", "path: "+regular+"/out\n")}, 2,
			[]string{"not a directory", "(exit 2"}},
		{"API down", []string{"run", "--config", down}, 1, []string{"(exit 1: failed; worth retrying"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := w.run(nil, c.args...)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d\n%s", r.code, c.code, r.stderr)
			}
			for _, m := range c.msg {
				if !strings.Contains(r.stderr, m) {
					t.Fatalf("stderr lacks %q:\n%s", m, r.stderr)
				}
			}
			if strings.Contains(r.stderr, "HTTP 403: 403") {
				t.Fatalf("the status code said twice:\n%s", r.stderr)
			}
		})
	}
	if n := len(snapshot(t, filepath.Join(w.dir, "out"))); n != 0 {
		t.Fatalf("failed runs left %d files in the output", n)
	}
}

func TestStateCommands(t *testing.T) {
	t.Parallel()
	w := newWorld(t, neosim.Faults{})
	cfg := w.config("")
	// state show and set never ask the API: the client secret's variable
	// need not be set (run needs it, and says so).
	b, _ := os.ReadFile(cfg)
	noSecret := filepath.Join(w.dir, "no-secret.yaml")
	os.WriteFile(noSecret, bytes.Replace(b, []byte("${E2E_SECRET}"), []byte("${E2E_SECRET_NOT_SET_HERE}"), 1), 0o600)
	if r := w.run(nil, "state", "show", "--config", noSecret); r.code != 0 || !strings.Contains(r.stdout, "WATERMARK") {
		t.Fatalf("state show without the secret's variable: exit %d\n%s", r.code, r.stderr)
	}
	if r := w.run(nil, "run", "--config", noSecret, "--dry-run"); r.code != 0 {
		t.Fatalf("run --dry-run without the secret's variable: exit %d\n%s", r.code, r.stderr)
	}
	if r := w.run(nil, "run", "--config", noSecret); r.code != 2 || !strings.Contains(r.stderr, "E2E_SECRET_NOT_SET_HERE is not set") {
		t.Fatalf("run without the secret's variable: exit %d, want 2 naming it\n%s", r.code, r.stderr)
	}
	set := w.start.Add(3 * time.Hour).Format(time.RFC3339)
	r := w.run(nil, "state", "set", "--config", cfg, "--watermark", set)
	if r.code != 0 || !strings.Contains(r.stdout, "watermark set to "+set) {
		t.Fatalf("state set: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = w.run(nil, "state", "show", "--config", cfg, "--output", "json")
	var states []map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &states) != nil || len(states) != 1 || states[0]["watermark"] != set || states[0]["saved"] != true {
		t.Fatalf("state show: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = w.run(nil, "state", "show", "--config", cfg)
	if r.code != 0 || !strings.Contains(r.stdout, "WATERMARK") || !strings.Contains(r.stdout, set) {
		t.Fatalf("state show text: %s", r.stdout)
	}
	// The next run starts at the new watermark.
	if r := w.run(nil, "run", "--config", cfg); r.code != 0 {
		t.Fatalf("run: %s", r.stderr)
	}
	for _, rec := range w.readOutput("out", w.watermark()) {
		if rec.Time.Before(w.start.Add(3 * time.Hour)) {
			t.Fatalf("record %s before the watermark exported", rec.UUID)
		}
	}
}

func TestDemoCommand(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	cmd := exec.Command(binary, "demo", "--out", out)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "every one exported once") {
		t.Fatalf("demo output:\n%s", stdout.String())
	}
	files, _ := filepath.Glob(filepath.Join(out, "jsonl", "account=demoacct", "date=*", "*.jsonl"))
	gz, _ := filepath.Glob(filepath.Join(out, "jsonl-gzip", "account=demoacct", "date=*", "*.jsonl.gz"))
	pq, _ := filepath.Glob(filepath.Join(out, "parquet", "account=demoacct", "date=*", "*.parquet"))
	if len(files) < 5 || len(gz) != len(files) || len(pq) != len(files) {
		t.Fatalf("demo wrote %d jsonl, %d gzip and %d parquet files", len(files), len(gz), len(pq))
	}
	if !regexp.MustCompile(`verify: (\d+) of (\d+) window x sink checks ok`).MatchString(stdout.String()) || strings.Contains(stdout.String(), "_manifests") {
		t.Fatalf("demo output:\n%s", stdout.String())
	}
	if m := regexp.MustCompile(`verify: (\d+) of (\d+)`).FindStringSubmatch(stdout.String()); m[1] != m[2] || m[1] == "0" {
		t.Fatalf("demo verify: %s of %s ok", m[1], m[2])
	}
	if !strings.Contains(stdout.String(), "duckdb -c") {
		t.Fatalf("demo does not show how to query the Parquet files:\n%s", stdout.String())
	}
	cfg, _ := os.ReadFile(filepath.Join(out, "config.yaml"))
	if !strings.Contains(string(cfg), "${AUDITLOG_DEMO_CLIENT_SECRET}") {
		t.Fatalf("demo config should reference the secret, not contain it:\n%s", cfg)
	}
	// Sentences, not Go values; the config says it cannot be rerun and
	// how to repeat the demo; nothing the Neo demo does not use.
	if strings.Contains(stdout.String(), "map[") || !strings.Contains(stdout.String(), "To repeat the demo: auditlog-exporter demo --out "+out+" --source neo") {
		t.Fatalf("demo output:\n%s", stdout.String())
	}
	if _, err := os.Stat(filepath.Join(out, "cf-service-key.json")); err == nil {
		t.Fatal("the Neo demo wrote a Cloud Foundry service key")
	}
}

func TestVersionAndHelp(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(binary, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "auditlog-exporter ") || !strings.Contains(string(out), "go1.") {
		t.Fatalf("version: %q %v", out, err)
	}
	out, err = exec.Command(binary, "--help").Output()
	for _, want := range []string{"run", "state", "demo", "version", "Exit codes"} {
		if err != nil || !strings.Contains(string(out), want) {
			t.Fatalf("--help lacks %q: %s", want, out)
		}
	}
}

// The stdout sink streams every record as JSON lines; logs stay on stderr.
func TestStdoutSink(t *testing.T) {
	t.Parallel()
	w := newWorld(t, neosim.Faults{RateDuplicate: 0.3})
	cfg := w.configWith(`state:
  path: %[1]s/state
sinks:
  - type: file
    path: %[1]s/out
  - type: stdout
`, "")
	r := w.run(nil, "run", "--config", cfg)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	files := w.readOutput("out", w.watermark())
	n := 0
	err := sinks.ReadJSONL(strings.NewReader(r.stdout), false, func(rec audit.Record) error {
		n++
		if f, ok := files[rec.UUID]; !ok || !f.Equal(&rec) {
			t.Fatalf("stdout record %s differs from the file sink's", rec.UUID)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("stdout is not clean JSON lines: %v", err)
	}
	if n != len(files) || n == 0 {
		t.Fatalf("stdout has %d records, the file sink %d", n, len(files))
	}
	if !strings.Contains(r.stderr, "window exported") || strings.Contains(r.stdout, "window exported") {
		t.Fatal("logs must go to stderr only")
	}
	// verify checks the file sink and says, on a line of its own, that
	// the stream cannot be read back: no silent skip, and no failure.
	v := w.run(nil, "verify", "--config", cfg, "--evidence-only", "--from", w.start.Format(time.RFC3339), "--to", w.watermark().Format(time.RFC3339))
	if v.code != 0 || !strings.Contains(v.stdout, "sink stdout jsonl: not verifiable:") || !strings.Contains(v.stdout, " ok ") {
		t.Fatalf("verify with a stdout sink: exit %d\n%s\n%s", v.code, v.stdout, v.stderr)
	}
}

// run --dry-run says where each account starts and how many windows are
// due, asking the API nothing and writing nothing; after a run it starts
// at the saved watermark.
func TestRunDryRun(t *testing.T) {
	t.Parallel()
	w := newWorld(t, neosim.Faults{})
	due := w.pinDue()
	cfg := w.config("")
	r := w.run(nil, "run", "--config", cfg, "--dry-run")
	want := int(due.Sub(w.start) / (30 * time.Minute))
	line := regexp.MustCompile(acct + ` +` + regexp.QuoteMeta(w.start.Format(time.RFC3339)) + ` +export.start +(\d+) +`).FindStringSubmatch(r.stdout)
	if r.code != 0 || line == nil || line[1] != strconv.Itoa(want) {
		t.Fatalf("dry run: exit %d, want %d windows due from export.start:\n%s\n%s", r.code, want, r.stdout, r.stderr)
	}
	if c := w.sim.Counters(); c.APIRequests+c.TokenRequests != 0 {
		t.Fatalf("the dry run asked the API %d times", c.APIRequests+c.TokenRequests)
	}
	for _, p := range []string{"state", "out", "out-gz"} {
		if _, err := os.Stat(filepath.Join(w.dir, p)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("the dry run made %s (%v)", p, err)
		}
	}
	if r := w.run(nil, "run", "--config", cfg); r.code != 0 {
		t.Fatalf("run: %s", r.stderr)
	}
	r = w.run(nil, "run", "--config", cfg, "--dry-run")
	if r.code != 0 || !regexp.MustCompile(acct+` +`+regexp.QuoteMeta(due.Format(time.RFC3339))+` +saved watermark +0 `).MatchString(r.stdout) {
		t.Fatalf("dry run after a run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := w.run(nil, "run", "--config", cfg, "--dry-run", "--schedule", "@every 1m"); r.code != 2 {
		t.Fatalf("--dry-run with --schedule: exit %d, want 2", r.code)
	}
}
