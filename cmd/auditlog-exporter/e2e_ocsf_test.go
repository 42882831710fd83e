package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/cfaudit/cfsim"
	"github.com/auditlog-exporter/auditlog-exporter/internal/duckdbtest"
	"github.com/auditlog-exporter/auditlog-exporter/internal/ocsfschema"
	"github.com/auditlog-exporter/auditlog-exporter/internal/s3test"
	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
	"github.com/auditlog-exporter/auditlog-exporter/schema/ocsf"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// securityLakeKey is where a Security Lake custom source's data object
// must be: one prefix per class, then region=/accountId=/eventDay=.
var securityLakeKey = regexp.MustCompile(`^ext/sap-btp-(authentication|api-activity|datastore-activity)/region=us-east-1/accountId=123456789012/eventDay=(\d{8})/[^/]+\.ocsf\.parquet$`)

// One run exports a Neo and a Cloud Foundry subaccount as OCSF events: to
// AWS Security Lake's layout on an S3 server (one custom source per OCSF
// class) and to JSON lines files. Every event validates against the
// published OCSF 1.1.0 schema; every record is delivered exactly once by
// metadata.uid, in both; each Parquet object holds one class, sorted by
// time, in the eventDay of its window; verify finds every window whole; a
// second run writes nothing.
func TestOCSFAndSecurityLake(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	w := newWorld(t, neosim.Faults{Rate5xx: 0.05, RateDuplicate: 0.2, RetryAfter: "0"})
	now := time.Now().UTC()
	sim := cfsim.New(cfsim.Options{ClientID: "sb-e2e", ClientSecret: cfSecret, Seed: 31, PageSize: 150})
	recs := cfsim.Generate(cfAcct, now.Add(-5*time.Hour), now, 1200, 9)
	sim.Add(recs...)
	cfSrv := httptest.NewServer(sim)
	t.Cleanup(cfSrv.Close)
	keyFile := filepath.Join(w.dir, "cf-key.json")
	key := fmt.Sprintf(`{"credentials":{"url":%q,"uaa":{"clientid":"sb-e2e","clientsecret":%q,"url":%q,"credential-type":"binding-secret"}}}`, cfSrv.URL, cfSecret, cfSrv.URL)
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
  - {type: file, format: jsonl, schema: ocsf, path: %[6]s/ocsf}
  - type: s3
    format: parquet
    schema: ocsf
    layout: security-lake
    security_lake_account_id: "123456789012"
    bucket: %[7]s
    prefix: ext/sap-btp-{class}/
    region: us-east-1
    endpoint: %[8]s
    path_style: true
log:
  level: debug
`, w.url, acct, cfAcct, keyFile, w.start.Format(time.RFC3339), w.dir, bucket, srv.Endpoint)), 0o600)

	// check names the custom sources to create.
	r := w.run(srv.Env(), "check", "--config", cfg)
	for _, src := range []string{"sap-btp-authentication (OCSF class Authentication, 3002)", "sap-btp-api-activity (OCSF class API Activity, 6003)", "sap-btp-datastore-activity (OCSF class Datastore Activity, 6005)"} {
		if r.code != 0 || !strings.Contains(r.stdout, src) {
			t.Fatalf("check: exit %d, want %q in\n%s\n%s", r.code, src, r.stdout, r.stderr)
		}
	}
	if r := w.run(srv.Env(), "run", "--config", cfg); r.code != 0 {
		t.Fatalf("run: exit %d\n%s", r.code, r.stderr)
	}
	keysAfterFirst := srv.Keys(t, bucket, "ext/")

	// What the simulators hold up to each account's watermark.
	want := map[string]audit.Record{}
	for _, r := range w.sim.Records(acct, w.start, w.watermark()) {
		r.Time = r.Time.Truncate(time.Millisecond)
		want[r.UUID] = r
	}
	var st struct{ Watermark time.Time }
	b, err := os.ReadFile(filepath.Join(w.dir, "state", cfAcct+".json"))
	if err != nil || json.Unmarshal(b, &st) != nil {
		t.Fatalf("Cloud Foundry state: %v %s", err, b)
	}
	for _, r := range recs {
		if !r.Time.Before(w.start) && r.Time.Before(st.Watermark) {
			want[r.UUID] = r
		}
	}
	schema, err := ocsfschema.Load()
	if err != nil {
		t.Fatal(err)
	}
	checkEvents := func(where string, events []map[string]any) {
		t.Helper()
		for _, e := range events {
			if err := schema.Validate(e); err != nil {
				t.Fatalf("%s: an event does not validate against OCSF 1.1.0: %v", where, err)
			}
		}
	}

	// JSON lines: every line an event that validates; each record once.
	if n := validateOCSFFiles(t, filepath.Join(w.dir, "ocsf")); n != len(want) {
		t.Fatalf("%d OCSF events in JSON lines, %d records", n, len(want))
	}
	got := w.readOutput("ocsf", w.watermark().Add(24*time.Hour)) // fails on a record read twice
	sameRecords(t, "JSON lines", got, want)

	// Security Lake: every data object where Security Lake wants it, one
	// class per object, the whole set exactly once by metadata.uid.
	local := t.TempDir()
	got = map[string]audit.Record{}
	objects := 0
	for _, k := range srv.Keys(t, bucket, "ext/") {
		if strings.Contains(k, "/_manifests/") || strings.Contains(k, "/_seals/") {
			continue
		}
		m := securityLakeKey.FindStringSubmatch(k)
		if m == nil {
			t.Fatalf("object %s is not where Security Lake wants a custom source's objects", k)
		}
		objects++
		out, err := srv.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(out.Body)
		out.Body.Close()
		p := filepath.Join(local, filepath.FromSlash(k))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, b, 0o600)
		err = sinks.ReadObject(sinks.ExtOf(k), bytes.NewReader(b), int64(len(b)), func(r audit.Record) error {
			if _, dup := got[r.UUID]; dup {
				t.Fatalf("record %s delivered twice (%s)", r.UUID, k)
			}
			if c := strings.ReplaceAll(ocsf.ClassOf(&r).Name, "_", "-"); c != m[1] {
				t.Fatalf("%s: an event of class %s in the custom source of %s", k, c, m[1])
			}
			if day := r.Time.UTC().Format("20060102"); day != m[2] {
				t.Fatalf("%s: an event of %s in eventDay=%s", k, day, m[2])
			}
			got[r.UUID] = r
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
	sameRecords(t, "Security Lake", got, want)

	// DuckDB reads the custom sources: one class per file, sorted by time,
	// every event valid as a Parquet reader sees it.
	glob := filepath.Join(local, "ext", "*", "region=*", "accountId=*", "eventDay=*", "*.parquet")
	rows := duckdbtest.Query(t, fmt.Sprintf(`SELECT count(DISTINCT filename) AS files, count(*) AS n, count(DISTINCT metadata.uid) AS uids,
		max(classes) AS most_classes, bool_and(sorted) AS sorted FROM (
		  SELECT filename, metadata, count(DISTINCT class_uid) OVER (PARTITION BY filename) AS classes,
		    time >= coalesce(lag(time) OVER (PARTITION BY filename ORDER BY file_row_number), time) AS sorted
		  FROM read_parquet('%s', filename = true, file_row_number = true, hive_partitioning = false))`, glob))
	if len(rows) != 1 || fmt.Sprint(rows[0]["files"]) != fmt.Sprint(objects) || fmt.Sprint(rows[0]["n"]) != fmt.Sprint(len(want)) ||
		fmt.Sprint(rows[0]["uids"]) != fmt.Sprint(len(want)) || fmt.Sprint(rows[0]["most_classes"]) != "1" || fmt.Sprint(rows[0]["sorted"]) != "true" {
		t.Fatalf("DuckDB sees %v; want %d files, %d events each once, one class a file, sorted by time", rows, objects, len(want))
	}
	var events []map[string]any
	for _, row := range duckdbtest.Query(t, fmt.Sprintf(`SELECT to_json(e)::VARCHAR AS j FROM read_parquet('%s', hive_partitioning = false) e`, glob)) {
		var e map[string]any
		if err := json.Unmarshal([]byte(row["j"].(string)), &e); err != nil {
			t.Fatal(err)
		}
		events = append(events, ocsfschema.DropAbsent(e))
	}
	checkEvents("Security Lake Parquet", events)

	// verify finds every window of every class whole; a second run writes
	// nothing.
	r = w.run(srv.Env(), "verify", "--config", cfg, "--from", w.start.Format(time.RFC3339), "--to", w.watermark().Format(time.RFC3339), "--output", "json")
	var out verifyOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 || len(out.Summary.Windows) != 1 || out.Summary.Windows["ok"] == 0 {
		t.Fatalf("verify: exit %d %v: %v\n%s", r.code, err, out.Summary, r.stderr)
	}
	if r := w.run(srv.Env(), "run", "--config", cfg); r.code != 0 {
		t.Fatalf("second run: exit %d\n%s", r.code, r.stderr)
	}
	if again := srv.Keys(t, bucket, "ext/"); strings.Join(again, "\n") != strings.Join(keysAfterFirst, "\n") && !onlyNewWindows(keysAfterFirst, again) {
		t.Fatalf("the second run changed what the first wrote:\n%v\n%v", keysAfterFirst, again)
	}
}

// onlyNewWindows reports whether after holds every key of before (a run
// may add the windows that came due meanwhile, never replace one).
func onlyNewWindows(before, after []string) bool {
	have := map[string]bool{}
	for _, k := range after {
		have[k] = true
	}
	for _, k := range before {
		if !have[k] {
			return false
		}
	}
	return true
}

// sameRecords fails unless got holds exactly want's records.
func sameRecords(t *testing.T, where string, got, want map[string]audit.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d records, the simulators hold %d", where, len(got), len(want))
	}
	for id, r := range want {
		g, ok := got[id]
		if !ok || !g.Equal(&r) {
			t.Fatalf("%s: record %s\n got %+v\nwant %+v", where, id, g, r)
		}
	}
}

// validateOCSFFiles checks every event of every OCSF JSON lines file under
// dir against the published OCSF 1.1.0 schema, and returns how many.
func validateOCSFFiles(t *testing.T, dir string) int {
	t.Helper()
	schema, err := ocsfschema.Load()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".ocsf.jsonl") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			var e map[string]any
			if err := json.Unmarshal(line, &e); err != nil {
				return fmt.Errorf("%s: %v", p, err)
			}
			if err := schema.Validate(e); err != nil {
				return fmt.Errorf("%s: an event does not validate against OCSF 1.1.0: %v\n%s", p, err, line)
			}
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
