package main

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/cfaudit/cfsim"
	"github.com/auditlog-exporter/auditlog-exporter/internal/duckdbtest"
	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
)

const (
	cfAcct   = "e2ecf"
	cfSecret = "e2e-CF-Secret-Do-Not-Log"
)

// One run exports a Neo subaccount and a Cloud Foundry subaccount (a
// service key file as `cf service-key` prints it; the API throttling,
// failing, cutting pages short and serving stored duplicates) to JSON lines
// and Parquet: every record of every exported window exactly once, in one
// layout that DuckDB reads as one table; a second run adds nothing twice.
func TestNeoAndCloudFoundryInOneRun(t *testing.T) {
	t.Parallel()
	w := newWorld(t, neosim.Faults{})
	now := time.Now().UTC()
	sim := cfsim.New(cfsim.Options{ClientID: "sb-e2e", ClientSecret: cfSecret, Seed: 21, PageSize: 120, Readings: cfsim.Readings{StoredDuplicates: 0.05}})
	recs := cfsim.Generate(cfAcct, now.Add(-5*time.Hour), now, 2400, 8)
	sim.Add(recs...)
	sim.SetFaults(cfsim.Faults{Rate429: 0.03, Rate5xx: 0.1, Truncate: 0.05})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	keyFile := filepath.Join(w.dir, "cf-key.json")
	key := fmt.Sprintf("Getting key e2e for service instance auditlog as admin...\n\n"+
		`{"credentials":{"url":%q,"uaa":{"clientid":"sb-e2e","clientsecret":%q,"url":%q,"credential-type":"binding-secret"}}}`, srv.URL, cfSecret, srv.URL)
	if err := os.WriteFile(keyFile, []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(w.dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`accounts:
  - {api_url: %q, account: %s, client_id: e2e-client, client_secret: "${E2E_SECRET}"}
  - {type: cf, account: %s, service_key_file: %s}
export:
  start: %s
  window: 30m
  lag: 15m
retry:
  max_elapsed: 2m
state:
  path: %[6]s/state
sinks:
  - {type: file, format: jsonl, path: %[6]s/out}
  - {type: file, format: parquet, path: %[6]s/parquet}
log:
  level: debug
`, w.url, acct, cfAcct, keyFile, w.start.Format(time.RFC3339), w.dir)), 0o600)
	// check proves both accounts' credentials and reading, sinks and state.
	sim.SetFaults(cfsim.Faults{})
	if r := w.run(nil, "check", "--config", cfg); r.code != 0 || !strings.Contains(r.stdout, cfAcct+": read audit logs") {
		t.Fatalf("check: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	sim.SetFaults(cfsim.Faults{Rate429: 0.03, Rate5xx: 0.1, Truncate: 0.05})
	for run := 0; run < 2; run++ {
		r := w.run(nil, "run", "--config", cfg)
		if r.code != 0 {
			t.Fatalf("run %d: exit %d\n%s", run, r.code, r.stderr)
		}
		for _, s := range append([]string{cfSecret}, sim.IssuedTokens()...) {
			if strings.Contains(r.stdout+r.stderr, s) {
				t.Fatal("a Cloud Foundry credential or token in the output")
			}
		}
	}
	// The Cloud Foundry account's watermark and exactly its records.
	st, err := os.ReadFile(filepath.Join(w.dir, "state", cfAcct+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var wm struct{ Watermark time.Time }
	if err := json.Unmarshal(st, &wm); err != nil {
		t.Fatal(err)
	}
	want := map[string]audit.Record{}
	for _, r := range recs {
		if !r.Time.Before(w.start) && r.Time.Before(wm.Watermark) {
			want[r.UUID] = r
		}
	}
	if len(want) < 1000 {
		t.Fatalf("only %d Cloud Foundry records to export up to %s", len(want), wm.Watermark)
	}
	for _, sub := range []string{"out", "parquet"} {
		got := map[string]audit.Record{}
		for id, r := range w.readOutput(sub, wm.Watermark.Add(24*time.Hour)) {
			if r.Account == cfAcct {
				got[id] = r
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d Cloud Foundry records, want %d", sub, len(got), len(want))
		}
		for id, r := range want {
			g := got[id]
			if !g.Equal(&r) {
				t.Fatalf("%s: record %s\n got %+v\nwant %+v", sub, id, g, r)
			}
		}
	}
	w.assertExactSink("out", "parquet") // and the Neo account's, exactly
	if sim.Counters().Faults["5xx"] == 0 {
		t.Fatal("no fault injected")
	}
	// verify re-reads every window of both accounts (the Cloud Foundry API
	// counts nothing: its windows are fetched again) and finds them whole;
	// a Cloud Foundry window removed is found missing and repaired.
	sim.SetFaults(cfsim.Faults{})
	verify := func(args ...string) verifyOutput {
		t.Helper()
		r := w.run(nil, append([]string{"verify", "--config", cfg, "--from", w.start.Format(time.RFC3339), "--to", wm.Watermark.Format(time.RFC3339), "--output", "json"}, args...)...)
		var out verifyOutput
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("verify: exit %d, %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
		}
		return out
	}
	if out := verify(); out.Summary.Windows["ok"] == 0 || len(out.Summary.Windows) != 1 {
		t.Fatalf("verify after the export: %v", out.Summary)
	}
	// A record that becomes visible after its window was exported: the API
	// counts nothing, so verify cannot tell a late arrival from a skipped
	// record; it says the window is short and names the record (scrubbed:
	// a hostile server put the client secret into its id).
	late := cfsim.Generate(cfAcct, w.start.Add(time.Hour), w.start.Add(90*time.Minute), 1, 77)[0]
	late.UUID = "late-arrival-" + cfSecret
	sim.Add(late)
	want[late.UUID] = late
	out := verify()
	named := false
	for _, row := range out.Windows {
		if strings.Contains(row.Detail, cfSecret) {
			t.Fatalf("verify prints the client secret: %s", row.Detail)
		}
		if row.Status == "short" && strings.Contains(row.Detail, `not in the object: "late-arrival-[REDACTED]"`) {
			named = true
		}
	}
	if !named || out.Summary.Windows["short"] != 2 { // the JSON lines and the Parquet sink
		t.Fatalf("verify after a late arrival: %v %+v", out.Summary, out.Windows)
	}
	victim, _ := filepath.Glob(filepath.Join(w.dir, "out", "account="+cfAcct, "date=*", "*.jsonl"))
	if len(victim) == 0 {
		t.Fatal("no Cloud Foundry JSON lines file")
	}
	// The object and its manifest lost together (an object deleted alone
	// is "deleted", and left for a person to restore).
	os.Remove(victim[0])
	rel, _ := filepath.Rel(filepath.Join(w.dir, "out"), victim[0])
	os.Remove(filepath.Join(w.dir, "out", "_manifests", rel+".json"))
	if out := verify(); out.Summary.Windows["missing"] != 1 {
		t.Fatalf("verify after removing %s: %v", victim[0], out.Summary)
	}
	if out := verify("--repair"); out.Summary.Windows["missing"] != 0 || out.Summary.Windows["short"] != 0 {
		t.Fatalf("verify --repair: %v", out.Summary)
	}
	if _, err := os.Stat(victim[0]); err != nil {
		t.Fatalf("not repaired: %v", err)
	}

	// One table for both sources, read by DuckDB.
	rows := duckdbtest.Query(t, fmt.Sprintf(`SELECT source, account, count(*) AS n, count(DISTINCT uuid) AS d, count(org_id) AS orgs, count(application) AS apps
		FROM read_parquet('%s/parquet/account=*/date=*/*.parquet', hive_partitioning = false) GROUP BY ALL ORDER BY source`, w.dir))
	if len(rows) != 2 || rows[0]["source"] != "cf" || rows[0]["account"] != cfAcct || rows[1]["source"] != "neo" || rows[1]["account"] != acct {
		t.Fatalf("DuckDB sees %v", rows)
	}
	if n := fmt.Sprint(rows[0]["n"]); n != fmt.Sprint(len(want)) || fmt.Sprint(rows[0]["d"]) != n || fmt.Sprint(rows[0]["orgs"]) != n || fmt.Sprint(rows[0]["apps"]) != "0" {
		t.Fatalf("DuckDB's Cloud Foundry rows %v, want %d records with org_id and no application", rows[0], len(want))
	}
	if fmt.Sprint(rows[1]["orgs"]) != "0" || fmt.Sprint(rows[1]["apps"]) != fmt.Sprint(rows[1]["n"]) {
		t.Fatalf("DuckDB's Neo rows %v: want application set and no org_id", rows[1])
	}
}

// A Cloud Foundry export killed with SIGKILL after a window is committed
// but before its watermark is saved (and another killed mid-window) is
// completed by the next run: exactly once.
func TestCloudFoundryKilledRuns(t *testing.T) {
	t.Parallel()
	for _, crash := range []string{"after-commit:3", "mid-window:150"} {
		t.Run(crash, func(t *testing.T) {
			w := newWorld(t, neosim.Faults{}) // for its directory, helpers and clock
			now := time.Now().UTC()
			sim := cfsim.New(cfsim.Options{ClientID: "sb-e2e", ClientSecret: cfSecret, Seed: 5, PageSize: 100})
			recs := cfsim.Generate(cfAcct, now.Add(-5*time.Hour), now, 1500, 9)
			sim.Add(recs...)
			srv := httptest.NewServer(sim)
			t.Cleanup(srv.Close)
			cfg := filepath.Join(w.dir, "config.yaml")
			os.WriteFile(cfg, []byte(fmt.Sprintf(`source:
  type: cf
  account: %s
  api_url: %s
  token_url: %s
  client_id: sb-e2e
  client_secret: %s
export: {start: %s, window: 30m, lag: 15m}
state: {path: %[6]s/state}
sinks:
  - {type: file, format: parquet, path: %[6]s/parquet}
`, cfAcct, srv.URL, srv.URL, cfSecret, w.start.Format(time.RFC3339), w.dir)), 0o600)
			if r := w.run([]string{"AUDITLOG_EXPORTER_CRASH=" + crash}, "run", "--config", cfg); r.code != -1 {
				t.Fatalf("want the run killed, got exit %d\n%s", r.code, r.stderr)
			}
			if r := w.run(nil, "run", "--config", cfg); r.code != 0 {
				t.Fatalf("rerun: exit %d\n%s", r.code, r.stderr)
			}
			st, _ := os.ReadFile(filepath.Join(w.dir, "state", cfAcct+".json"))
			var wm struct{ Watermark time.Time }
			if err := json.Unmarshal(st, &wm); err != nil {
				t.Fatal(err)
			}
			got := w.readOutput("parquet", wm.Watermark)
			n := 0
			for _, r := range recs {
				if r.Time.Before(w.start) || !r.Time.Before(wm.Watermark) {
					continue
				}
				n++
				if g, ok := got[r.UUID]; !ok || !g.Equal(&r) {
					t.Fatalf("record %s: found %v, %+v", r.UUID, ok, g)
				}
			}
			if n < 500 || len(got) != n {
				t.Fatalf("%d records exported, %d expected", len(got), n)
			}
		})
	}
}

// demo --source both exports a Neo and a Cloud Foundry account from the
// built-in simulators and verifies both.
func TestDemoBothSources(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	cmd := exec.Command(binary, "demo", "--out", out, "--source", "both")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	m := regexp.MustCompile(`verify: (\d+) of (\d+)`).FindStringSubmatch(stdout.String())
	if !strings.Contains(stdout.String(), "every one exported once") || m == nil || m[1] != m[2] {
		t.Fatalf("demo output:\n%s", stdout.String())
	}
	for _, account := range []string{"demoacct", "democf"} {
		if pq, _ := filepath.Glob(filepath.Join(out, "parquet", "account="+account, "date=*", "*.parquet")); len(pq) < 5 {
			t.Fatalf("%d Parquet files for %s", len(pq), account)
		}
	}
	bad := exec.Command(binary, "demo", "--out", out, "--source", "kyma")
	var badErr strings.Builder
	bad.Stderr = &badErr
	if err := bad.Run(); bad.ProcessState == nil || bad.ProcessState.ExitCode() != 2 || !strings.Contains(badErr.String(), `demo --source "kyma": want neo`) {
		t.Fatalf("demo --source kyma: %v, want exit 2 (usage) with what --source takes:\n%s", err, badErr.String())
	}
}

// cfConfig writes a config that exports one Cloud Foundry account, whose
// source keys are given (one per line, indented two spaces), to JSON lines
// and Parquet.
func (w *world) cfConfig(sourceKeys string) string {
	w.t.Helper()
	cfg := filepath.Join(w.dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`source:
  type: cf
  account: %s
%s
export: {start: %s, window: 30m, lag: %s}
retry: {max_elapsed: 2m}
state: {path: %[5]s/state}
sinks:
  - {type: file, format: jsonl, path: %[5]s/out}
  - {type: file, format: parquet, path: %[5]s/parquet}
  - {type: file, format: jsonl, schema: ocsf, path: %[5]s/ocsf}
`, cfAcct, strings.TrimRight(sourceKeys, "\n"), w.start.Format(time.RFC3339), w.lagYAML(), w.dir)), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return cfg
}

// assertCFExact checks that each sink holds exactly the records of recs
// from the export's start to the Cloud Foundry account's watermark, and
// that this is a real export (enough records over several pages).
func (w *world) assertCFExact(recs []audit.Record, minRecords int, subs ...string) {
	w.t.Helper()
	st, err := os.ReadFile(filepath.Join(w.dir, "state", cfAcct+".json"))
	if err != nil {
		w.t.Fatal(err)
	}
	var wm struct{ Watermark time.Time }
	if err := json.Unmarshal(st, &wm); err != nil {
		w.t.Fatal(err)
	}
	want := map[string]audit.Record{}
	for _, r := range recs {
		if !r.Time.Before(w.start) && r.Time.Before(wm.Watermark) {
			want[r.UUID] = r
		}
	}
	if len(want) < minRecords {
		w.t.Fatalf("only %d records to export up to %s", len(want), wm.Watermark)
	}
	for _, sub := range subs {
		got := w.readOutput(sub, wm.Watermark)
		if len(got) != len(want) {
			w.t.Fatalf("%s: %d records, want %d", sub, len(got), len(want))
		}
		for id, r := range want {
			if g := got[id]; !g.Equal(&r) {
				w.t.Fatalf("%s: record %s\n got %+v\nwant %+v", sub, id, g, r)
			}
		}
	}
}

// Under every reading of the Cloud Foundry API that its documentation
// leaves open (the paging handle as opaque base64, as a raw time-and-uuid
// cursor with '<', already percent-encoded, with cursor semantics; stored
// duplicates; exclusive bounds; newest first), with throttling, server
// errors and pages cut short on top: two runs of the binary export every
// record exactly once, and the second changes nothing.
func TestCloudFoundryAcrossReadings(t *testing.T) {
	t.Parallel()
	for _, name := range cfsim.ReadingNames() {
		rd := cfsim.AllReadings()[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, neosim.Faults{}) // for its directory, helpers and clock
			now := time.Now().UTC()
			sim := cfsim.New(cfsim.Options{ClientID: "sb-e2e", ClientSecret: cfSecret, Seed: 13, PageSize: 70, Readings: rd})
			recs := cfsim.Generate(cfAcct, now.Add(-5*time.Hour), now, 1200, 10)
			sim.Add(recs...)
			sim.SetFaults(cfsim.Faults{Rate429: 0.03, RetryAfter: "0", Rate5xx: 0.05, Truncate: 0.03})
			srv := httptest.NewServer(sim)
			t.Cleanup(srv.Close)
			w.pinDue() // both runs see the same windows due
			cfg := w.cfConfig(fmt.Sprintf("  api_url: %s\n  token_url: %s\n  client_id: sb-e2e\n  client_secret: %s\n", srv.URL, srv.URL, cfSecret))
			var outputs []string
			for run := 1; run <= 2; run++ {
				r := w.run(nil, "run", "--config", cfg)
				if r.code != 0 {
					t.Fatalf("run %d: exit %d\n%s", run, r.code, r.stderr)
				}
				for _, tok := range append([]string{cfSecret}, sim.IssuedTokens()...) {
					if strings.Contains(r.stdout+r.stderr, tok) {
						t.Fatal("a Cloud Foundry credential or token in the output")
					}
				}
				outputs = append(outputs, fmt.Sprint(snapshot(t, filepath.Join(w.dir, "out"))))
			}
			w.assertCFExact(recs, 500, "out", "parquet", "ocsf")
			if n := validateOCSFFiles(t, filepath.Join(w.dir, "ocsf")); n < 500 {
				t.Fatalf("%d OCSF events validated", n)
			}
			if outputs[0] != outputs[1] {
				t.Fatal("the second run changed the output")
			}
			if sim.Counters().APIRequests < 10 {
				t.Fatalf("%d API requests: the listing did not page", sim.Counters().APIRequests)
			}
		})
	}
}

// mountKymaSecret lays out Kyma's Secret auditlog-read-credentials as the
// kubelet mounts a Secret volume: the keys' files in a timestamped
// directory, ..data a link to it, each key a link to ..data/<key>.
func mountKymaSecret(t *testing.T, dir string, values map[string]string) {
	t.Helper()
	ts := "..2026_12_03_02_00_00.0123456789"
	if err := os.MkdirAll(filepath.Join(dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range values {
		if err := os.WriteFile(filepath.Join(dir, ts, k), []byte(v), 0o400); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..data", k), filepath.Join(dir, k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(ts, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
}

// On Kyma with Audit Log Access, the read credentials are the Secret
// kyma-system/auditlog-read-credentials (url, clientID, clientSecret,
// tokenUrl). Mounted as Kubernetes mounts it and named by credentials_dir,
// it needs no translation: check passes, and the binary exports the
// account exactly, whether tokenUrl is the token endpoint itself or its
// base. A Secret with a key it does not know is a configuration error
// (exit 2) naming the file, never showing the secret.
func TestKymaCredentialsDirectory(t *testing.T) {
	t.Parallel()
	for _, tokenSuffix := range []string{"/oauth/token", ""} {
		t.Run("tokenUrl="+map[string]string{"/oauth/token": "endpoint", "": "base"}[tokenSuffix], func(t *testing.T) {
			w := newWorld(t, neosim.Faults{}) // for its directory, helpers and clock
			now := time.Now().UTC()
			sim := cfsim.New(cfsim.Options{ClientID: "sb-kyma-reader", ClientSecret: cfSecret, Seed: 17, PageSize: 90, Readings: cfsim.Readings{Handle: cfsim.HandleRaw, Cursor: true}})
			recs := cfsim.Generate(cfAcct, now.Add(-5*time.Hour), now, 1200, 18)
			sim.Add(recs...)
			srv := httptest.NewServer(sim)
			t.Cleanup(srv.Close)
			secretDir := filepath.Join(w.dir, "auditlog-read-credentials")
			mountKymaSecret(t, secretDir, map[string]string{"url": srv.URL, "clientID": "sb-kyma-reader", "clientSecret": cfSecret, "tokenUrl": srv.URL + tokenSuffix})
			w.pinDue()
			cfg := w.cfConfig("  credentials_dir: " + secretDir + "\n")
			if r := w.run(nil, "check", "--config", cfg); r.code != 0 || !strings.Contains(r.stdout, cfAcct+": read audit logs") {
				t.Fatalf("check: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			if r := w.run(nil, "run", "--config", cfg); r.code != 0 {
				t.Fatalf("run: exit %d\n%s", r.code, r.stderr)
			}
			if sim.Counters().Tokens == 0 {
				t.Fatal("no token issued")
			}
			w.assertCFExact(recs, 500, "out", "parquet")

			// A key the Secret does not have: exit 2, the file named.
			if err := os.WriteFile(filepath.Join(secretDir, "clientsecret"), []byte(cfSecret), 0o600); err != nil {
				t.Fatal(err)
			}
			r := w.run(nil, "run", "--config", cfg)
			if r.code != 2 || !strings.Contains(r.stderr, filepath.Join(secretDir, "clientsecret")) || strings.Contains(r.stdout+r.stderr, cfSecret) {
				t.Fatalf("a Secret with an unknown key: exit %d, want 2 naming the file\n%q\n%q", r.code, r.stdout, r.stderr)
			}
		})
	}
}
