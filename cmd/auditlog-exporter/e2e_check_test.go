package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/internal/s3test"
	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
)

func TestCheckCommand(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	w := newWorld(t, neosim.Faults{})
	stateAndSinks := func(sinkBucket, stateBucket, fileDir string) string {
		return fmt.Sprintf(`state:
  type: s3
  bucket: %s
  prefix: state/
  region: us-east-1
  endpoint: %s
  path_style: true
sinks:
  - type: file
    path: %s
  - type: s3
    format: parquet
    bucket: %s
    prefix: neo/
    region: us-east-1
    endpoint: %s
    path_style: true
`, stateBucket, srv.Endpoint, fileDir, sinkBucket, srv.Endpoint)
	}
	good := stateAndSinks(bucket, bucket, "%[1]s/out")
	notDir := filepath.Join(w.dir, "a-file")
	os.WriteFile(notDir, []byte("x"), 0o600)

	cases := []struct {
		name    string
		cfg     string
		replace [2]string
		env     []string
		code    int
		fail    string
		hint    string
	}{
		{name: "good", cfg: good, code: 0},
		{name: "plain secret", cfg: good, replace: [2]string{"${E2E_SECRET}", secret}, code: 0, fail: "WARN", hint: "plain text"},
		{name: "wrong secret", cfg: good, replace: [2]string{"${E2E_SECRET}", "wrong"}, code: 3, fail: acct + ": token", hint: "client_secret"},
		{name: "forbidden account", cfg: good, replace: [2]string{"account: " + acct, "account: notmine"}, code: 3, fail: "notmine: read audit logs", hint: "Read Audit Logs"},
		{name: "wrong region host", cfg: good, replace: [2]string{"api_url: " + w.url, "api_url: https://api.nowhere.invalid"}, code: 1, fail: acct + ": token", hint: "region"},
		{name: "missing bucket", cfg: stateAndSinks("no-such-bucket", bucket, "%[1]s/out"), code: 2, fail: "sinks[1] s3://no-such-bucket/neo/", hint: "bucket not found"},
		{name: "missing state bucket", cfg: stateAndSinks(bucket, "no-such-state", "%[1]s/out"), code: 2, fail: "state s3", hint: "bucket not found"},
		{name: "access denied", cfg: good, env: []string{"AWS_SECRET_ACCESS_KEY=not-the-secret"}, code: 2, fail: "sinks[1]", hint: "access denied"},
		{name: "unwritable directory", cfg: stateAndSinks(bucket, bucket, "%[1]s/a-file/out"), code: 2, fail: "sinks[0] file:", hint: "not writable"},
		{name: "start past retention", cfg: good, replace: [2]string{"start: " + w.start.Format(time.RFC3339), "start: " + time.Now().AddDate(0, 0, -300).Format(time.DateOnly)},
			code: 0, fail: "WARN", hint: "can no longer be complete"},
		{name: "long catch-up", cfg: good, replace: [2]string{"start: " + w.start.Format(time.RFC3339), "start: " + time.Now().AddDate(0, 0, -10).Format(time.DateOnly)},
			code: 0, fail: "WARN", hint: "a catch-up of"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := w.configWith(c.cfg, "")
			if c.replace[0] != "" {
				b, _ := os.ReadFile(cfg)
				if !strings.Contains(string(b), c.replace[0]) {
					t.Fatalf("config has no %q", c.replace[0])
				}
				os.WriteFile(cfg, []byte(strings.Replace(string(b), c.replace[0], c.replace[1], 1)), 0o600)
			}
			r := w.run(append(srv.Env(), c.env...), "check", "--config", cfg)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", r.code, c.code, r.stdout, r.stderr)
			}
			if c.code == 0 {
				// Seven items, the next run's a warning where it warns.
				nextWarn := len(regexp.MustCompile(`(?m)^WARN +\S+: next run`).FindAllString(r.stdout, -1))
				if strings.Contains(r.stdout, "FAIL") || strings.Count(r.stdout, "PASS")+nextWarn != 7 ||
					!regexp.MustCompile(`(?m)^(PASS|WARN) +`+acct+`: next run +\d+ windows due`).MatchString(r.stdout) {
					t.Fatalf("want seven items passed, the next run's with its windows due:\n%s", r.stdout)
				}
				// The probe's count is the API's unfiltered listing, which
				// SAP documents as the last 30 days, and says so.
				if !regexp.MustCompile(`(?m)^PASS +` + acct + `: read audit logs +\d+ records in the last 30 days \(the API's listing without a time filter, not the whole retention\)$`).MatchString(r.stdout) {
					t.Fatalf("the read probe does not say what it counted:\n%s", r.stdout)
				}
				if c.fail == "WARN" {
					if !regexp.MustCompile(`(?m)^WARN .*` + regexp.QuoteMeta(c.hint)).MatchString(r.stdout) {
						t.Fatalf("no warning about %q:\n%s", c.hint, r.stdout)
					}
				} else if strings.Contains(r.stdout, "WARN") {
					t.Fatalf("unexpected warning:\n%s", r.stdout)
				}
				if keys := srv.Keys(t, bucket, ""); len(keys) != 0 {
					t.Fatalf("probes left objects: %v", keys)
				}
				return
			}
			var failLine, hintLine string
			lines := strings.Split(r.stdout, "\n")
			for i, l := range lines {
				if strings.HasPrefix(l, "FAIL") && strings.Contains(l, c.fail) {
					failLine = l
					if i+1 < len(lines) {
						hintLine = lines[i+1]
					}
					break
				}
			}
			if failLine == "" || !strings.Contains(hintLine, c.hint) {
				t.Fatalf("want a FAIL line for %q with a hint about %q:\n%s", c.fail, c.hint, r.stdout)
			}
		})
	}
}
