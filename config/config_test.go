package config

import (
	"context"
	"errors"
	"fmt"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/odata"
	"github.com/auditlog-exporter/auditlog-exporter/source/apiclient"
)

const validYAML = `
source:
  api_url: https://api.hana.ondemand.com
  account: abc123xyz
  client_id: ${NEO_CLIENT_ID}
  client_secret: ${NEO_CLIENT_SECRET}
export:
  start: 2026-01-01T00:00:00Z
  window: 30m
  lag: 0s
state:
  path: /var/lib/auditlog-exporter
sinks:
  - type: file
    format: jsonl
    path: ./out
`

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// parseResolved is Parse then Resolve: what Load does with a file's
// bytes, every problem at once.
func parseResolved(data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	c, errs, err := Builtin().parse(data, "", lookupEnv)
	if err != nil {
		return nil, err
	}
	if err := append(errs, c.checkFiles()...).err(); err != nil {
		return nil, err
	}
	return c, nil
}

// neo is a Neo source's keys.
func neo(t *testing.T, s SourceConfig) *odata.SourceConfig {
	t.Helper()
	k, ok := s.Settings.(*odata.SourceConfig)
	if !ok {
		t.Fatalf("source %s: settings %T, want Neo's", s.Account, s.Settings)
	}
	return k
}

// startOf is export.start's default for sources whose own is d.
func startOf(d time.Duration) string { return fmt.Sprintf("-%dh", d/time.Hour) }

var testEnv = env(map[string]string{"NEO_CLIENT_ID": "id", "NEO_CLIENT_SECRET": "s3cr:et #x", "NULLISH": "null", "TILDE": "~"})

func TestParseValid(t *testing.T) {
	c, err := parseResolved([]byte(validYAML), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	s := neo(t, c.Sources()[0])
	if s.ClientSecret != "s3cr:et #x" || s.ClientID != "id" || s.Timeout != apiclient.DefaultTimeout || s.MaxRequestsPerSecond != 0 {
		t.Fatalf("source %+v", s)
	}
	if c.Export.Window != 30*time.Minute || c.Export.Lag != 0 || c.Export.Parallel != 1 || c.Retry.MaxElapsed != DefaultMaxElapsed {
		t.Fatalf("export %+v retry %+v", c.Export, c.Retry)
	}
	if c.State.Type != "file" || c.Sinks[0].Compression != "none" || c.Log.Level != "info" || c.Log.Format != "json" {
		t.Fatalf("defaults: %+v %+v %+v", c.State, c.Sinks[0], c.Log)
	}
}

func TestExampleConfigLoads(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, []byte("from-file\n"), 0o600)
	data, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.ReplaceAll(string(data), "/var/run/secrets/neo/client_secret", secretFile))
	c, err := parseResolved(data, testEnv)
	if err != nil {
		t.Fatalf("config.example.yaml: %v", err)
	}
	if len(c.Sources()) == 0 || len(c.Sinks) == 0 {
		t.Fatal("example has no source or sink")
	}
}

// Start from a valid config and break one thing at a time.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, from, to, path, msg string
	}{
		{"unknown top key", "state:", "stat:\n  x: 1\nstate:", "stat", "unknown key"},
		{"unknown nested key", "  window: 30m", "  window: 30m\n  windw: 1h", "export.windw", "unknown key"},
		{"unknown sink key", "    path: ./out", "    path: ./out\n    bukket: x", "sinks[0].bukket", "unknown key"},
		{"missing account", "  account: abc123xyz\n", "", "source.account", "required"},
		{"missing secret", "  client_secret: ${NEO_CLIENT_SECRET}\n", "", "source.client_secret", "required"},
		{"unset env var", "${NEO_CLIENT_SECRET}", "${NOPE_NOT_SET}", "source.client_secret", "NOPE_NOT_SET is not set"},
		{"window does not divide 24h", "window: 30m", "window: 7m", "export.window", "does not divide 24h"},
		{"window too small", "window: 30m", "window: 10s", "export.window", "too small"},
		{"window not a duration", "window: 30m", "window: soon", "export.window", "duration"},
		{"negative lag", "lag: 0s", "lag: -5m", "export.lag", "negative"},
		{"bad start", "start: 2026-01-01T00:00:00Z", "start: yesterday", "export.start", "RFC 3339"},
		{"http api", "https://api.hana", "http://api.hana", "source.api_url", "loopback"},
		{"bad sink type", "  - type: file", "  - type: ftp", "sinks[0].type", "not one of"},
		{"bad compression", "    path: ./out", "    path: ./out\n    compression: zip", "sinks[0].compression", "not one of"},
		{"time in filter", "  account: abc123xyz", "  account: abc123xyz\n  filter: Time gt '2026-01-01T00.00.00'", "source.filter", "Time"},
		{"bad log level", "state:", "log:\n  level: loud\nstate:", "log.level", "not one of"},
		{"no sinks", "sinks:\n  - type: file\n    format: jsonl\n    path: ./out\n", "", "sinks", "at least one"},
		{"account with slash", "account: abc123xyz", "account: ../etc", "source.account", "technical"},
		{"account too long", "account: abc123xyz", "account: " + strings.Repeat("a", 240), "source.account", "longer than 100"},
		{"env var is null", "lag: 0s", "lag: ${NULLISH}", "export.lag", "reads as no value"},
		{"env var is tilde", "lag: 0s", "lag: ${TILDE}", "export.lag", "reads as no value"},
		{"both secret kinds", "  client_secret: ${NEO_CLIENT_SECRET}", "  client_secret: ${NEO_CLIENT_SECRET}\n  client_secret_file: /x", "source.client_secret", "not both"},
		{"unreadable secret file", "  client_secret: ${NEO_CLIENT_SECRET}", "  client_secret_file: /nonexistent/secret", "source.client_secret_file", "cannot read"},
		{"duplicate sinks", "    path: ./out\n", "    path: ./out\n  - type: file\n    path: ./out/\n", "sinks[1]", "same objects"},
		{"parquet codecs collide", "    path: ./out\n", "    path: ./out\n  - {type: file, format: parquet, path: ./p}\n  - {type: file, format: parquet, path: ./p, compression: snappy}\n", "sinks[2]", "same objects"},
		{"bad parquet codec", "    path: ./out\n", "    path: ./out\n  - {type: file, format: parquet, path: ./p, compression: gzip}\n", "sinks[1].compression", "zstd, snappy, none"},
		{"s3 without bucket", "    path: ./out\n", "    path: ./out\n  - {type: s3, format: parquet, region: eu-central-1}\n", "sinks[1].bucket", "required"},
		{"s3 with path", "    path: ./out\n", "    path: ./out\n  - {type: s3, bucket: b, path: ./x}\n", "sinks[1].path", "only for sink type file"},
		{"file with bucket", "    path: ./out\n", "    path: ./out\n    bucket: b\n", "sinks[0].bucket", "only for sink type s3"},
		{"bad sse", "    path: ./out\n", "    path: ./out\n  - {type: s3, bucket: b, sse: rot13}\n", "sinks[1].sse", "AES256, aws:kms"},
		{"kms key without kms", "    path: ./out\n", "    path: ./out\n  - {type: s3, bucket: b, sse: AES256, kms_key_id: k}\n", "sinks[1].kms_key_id", "aws:kms"},
		{"bad storage class", "    path: ./out\n", "    path: ./out\n  - {type: s3, bucket: b, storage_class: COLD}\n", "sinks[1].storage_class", "storage class"},
		{"bad endpoint", "    path: ./out\n", "    path: ./out\n  - {type: s3, bucket: b, endpoint: 'minio:9000'}\n", "sinks[1].endpoint", "http(s) URL"},
		{"stdout parquet", "    path: ./out\n", "    path: ./out\n  - {type: stdout, format: parquet}\n", "sinks[1].format", "jsonl only"},
		{"bad schema", "    path: ./out\n", "    path: ./out\n    schema: cef\n", "sinks[0].schema", "not one of: sap, ocsf"},
		{"same schema twice", "    path: ./out\n", "    path: ./out\n  - {type: file, format: jsonl, schema: ocsf, path: ./o}\n  - {type: file, format: jsonl, schema: ocsf, path: ./o/}\n", "sinks[2]", "same objects"},
		{"security lake on a file sink", "    path: ./out\n", "    path: ./out\n    layout: security-lake\n", "sinks[0].layout", "for sink type s3"},
		{"security lake takes ocsf", "    path: ./out\n", "    path: ./out\n  - {type: s3, format: parquet, schema: sap, layout: security-lake, security_lake_account_id: \"123456789012\", bucket: b, prefix: \"ext/sap-{class}/\", region: eu-central-1}\n", "sinks[1].schema", "schema: ocsf"},
		{"security lake takes parquet", "    path: ./out\n", "    path: ./out\n  - {type: s3, format: jsonl, schema: ocsf, layout: security-lake, security_lake_account_id: \"123456789012\", bucket: b, prefix: \"ext/sap-{class}/\", region: eu-central-1}\n", "sinks[1].format", "format: parquet"},
		{"security lake needs class", "    path: ./out\n", "    path: ./out\n  - {type: s3, format: parquet, schema: ocsf, layout: security-lake, security_lake_account_id: \"123456789012\", bucket: b, prefix: ext/sap/, region: eu-central-1}\n", "sinks[1].prefix", "{class}"},
		{"security lake needs region", "    path: ./out\n", "    path: ./out\n  - {type: s3, format: parquet, schema: ocsf, layout: security-lake, security_lake_account_id: \"123456789012\", bucket: b, prefix: \"ext/sap-{class}/\"}\n", "sinks[1].region", "required"},
		{"security lake needs account id", "    path: ./out\n", "    path: ./out\n  - {type: s3, format: parquet, schema: ocsf, layout: security-lake, bucket: b, prefix: \"ext/sap-{class}/\", region: eu-central-1}\n", "sinks[1].security_lake_account_id", "required"},
		{"security lake account id with a slash", "    path: ./out\n", "    path: ./out\n  - {type: s3, format: parquet, schema: ocsf, layout: security-lake, security_lake_account_id: \"12/34\", bucket: b, prefix: \"ext/sap-{class}/\", region: eu-central-1}\n", "sinks[1].security_lake_account_id", "letters, digits"},
		{"account id without security lake", "    path: ./out\n", "    path: ./out\n    security_lake_account_id: \"1\"\n", "sinks[0].security_lake_account_id", "only for layout security-lake"},
		{"bad layout", "    path: ./out\n", "    path: ./out\n    layout: flat\n", "sinks[0].layout", "not one of: hive, security-lake"},
		{"class in a sap prefix", "    path: ./out\n", "    path: ./out\n  - {type: s3, bucket: b, prefix: \"x/{class}/\"}\n", "sinks[1].prefix", "schema ocsf"},
		{"two stdouts", "    path: ./out\n", "    path: ./out\n  - {type: stdout}\n  - {type: stdout, compression: gzip}\n", "sinks[2].type", "only one stdout"},
		{"bad pushgateway", "state:", "metrics:\n  pushgateway_url: pushgateway:9091\nstate:", "metrics.pushgateway_url", "http(s) URL"},
		{"bad listen", "state:", "metrics:\n  listen: '9464'\nstate:", "metrics.listen", "address like"},
		{"bad textfile", "state:", "metrics:\n  textfile: /var/lib/node_exporter/auditlog.txt\nstate:", "metrics.textfile", ".prom"},
		{"spill threshold", "  lag: 0s", "  lag: 0s\n  spill_threshold: 0", "export.spill_threshold", "at least 1"},
		{"missing spool dir", "  lag: 0s", "  lag: 0s\n  spool_dir: /nonexistent/spool", "export.spool_dir", "no such file"},
		{"spool dir is a file", "  lag: 0s", "  lag: 0s\n  spool_dir: /dev/null", "export.spool_dir", "not a directory"},
		{"object lock mode", "    path: ./out\n", "    path: ./out\n  - {type: s3, bucket: b, object_lock: {mode: STRICT, retention_days: 30}}\n", "sinks[1].object_lock.mode", "GOVERNANCE, COMPLIANCE"},
		{"object lock without days", "    path: ./out\n", "    path: ./out\n  - {type: s3, bucket: b, object_lock: {mode: COMPLIANCE}}\n", "sinks[1].object_lock.retention_days", "1 to 36500"},
		{"object lock days without mode", "    path: ./out\n", "    path: ./out\n  - {type: s3, bucket: b, object_lock: {retention_days: 30}}\n", "sinks[1].object_lock.mode", "required"},
		{"object lock on a file sink", "    path: ./out\n", "    path: ./out\n    object_lock: {mode: GOVERNANCE, retention_days: 1}\n", "sinks[0].object_lock.mode", "only for sink type s3"},
		{"missing signing key", "state:", "evidence:\n  signing_key_file: /nonexistent/signing.pem\nstate:", "evidence.signing_key_file", "no such file"},
		{"signing key not a key", "state:", "evidence:\n  signing_key_file: config_test.go\nstate:", "evidence.signing_key_file", "no PEM block"},
		{"signing key a device", "state:", "evidence:\n  signing_key_file: /dev/null\nstate:", "evidence.signing_key_file", "not a regular file"},
		{"s3 state without bucket", "  path: /var/lib/auditlog-exporter", "  type: s3\n  prefix: states/", "state.bucket", "required"},
		{"file state with bucket", "  path: /var/lib/auditlog-exporter", "  path: /x\n  bucket: b", "state.bucket", "only for state type s3"},
		{"s3 state key and prefix", "  path: /var/lib/auditlog-exporter", "  type: s3\n  bucket: b\n  key: a.json\n  prefix: p/", "state.key", "not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(validYAML, tt.from) {
				t.Fatalf("fixture does not contain %q", tt.from)
			}
			_, err := parseResolved([]byte(strings.Replace(validYAML, tt.from, tt.to, 1)), testEnv)
			var fe FieldErrors
			if !errors.As(err, &fe) || errclass.Classify(err) != errclass.Config {
				t.Fatalf("got %v; want FieldErrors", err)
			}
			for _, e := range fe {
				if e.Path == tt.path && strings.Contains(e.Msg, tt.msg) {
					return
				}
			}
			t.Fatalf("errors:\n%v\nwant %s: ...%s...", err, tt.path, tt.msg)
		})
	}
}

const securityLakeSink = `  - type: s3
    format: parquet
    schema: ocsf
    layout: security-lake
    security_lake_account_id: "123456789012"
    bucket: aws-security-data-lake-eu-central-1-abc
    prefix: ext/sap-btp-{class}/
    region: eu-central-1
`

// A Security Lake sink is one sink per OCSF class, each under its custom
// source's prefix, writing only its class, objects in Security Lake's
// partitions.
func TestSecurityLakeSinks(t *testing.T) {
	c, err := parseResolved([]byte(strings.Replace(validYAML, "    path: ./out\n", "    path: ./out\n"+securityLakeSink, 1)), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	list, err := c.BuildSinks(t.Context(), "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range list[1:] {
		o := s.(*sinks.Output)
		names = append(names, s.Name()+" "+o.Only.Name)
		w := audit.Window{Account: "acct", Start: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 24, 11, 0, 0, 0, time.UTC)}
		if got := o.ObjectName(w); got != "region=eu-central-1/accountId=123456789012/eventDay=20261124/acct_20261124T100000Z_20261124T110000Z.ocsf.parquet" {
			t.Errorf("%s names objects %s", s.Name(), got)
		}
	}
	want := []string{
		"s3://aws-security-data-lake-eu-central-1-abc/ext/sap-btp-authentication/ ocsf.parquet ocsf_class=authentication",
		"s3://aws-security-data-lake-eu-central-1-abc/ext/sap-btp-api-activity/ ocsf.parquet ocsf_class=api_activity",
		"s3://aws-security-data-lake-eu-central-1-abc/ext/sap-btp-datastore-activity/ ocsf.parquet ocsf_class=datastore_activity",
	}
	if len(list) != 4 || !reflect.DeepEqual(names, want) {
		t.Fatalf("%d sinks: %q", len(list), names)
	}
	// Security Lake wants objects at most every 5 minutes.
	bad := strings.Replace(strings.Replace(validYAML, "    path: ./out\n", "    path: ./out\n"+securityLakeSink, 1), "window: 30m", "window: 1m", 1)
	if _, err := parseResolved([]byte(bad), testEnv); err == nil || !strings.Contains(err.Error(), "sinks[1].layout") || !strings.Contains(err.Error(), "5 minutes") {
		t.Fatalf("a 1m window with Security Lake: %v", err)
	}
}

// A sink of each schema on the same path writes different objects.
func TestSchemasShareAPath(t *testing.T) {
	c, err := parseResolved([]byte(strings.Replace(validYAML, "    path: ./out\n", "    path: ./out\n  - {type: file, format: jsonl, schema: ocsf, path: ./out}\n", 1)), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Sinks[0].Schema != "sap" || c.Sinks[1].Schema != "ocsf" {
		t.Fatalf("schemas %q %q, want sap (the default) and ocsf", c.Sinks[0].Schema, c.Sinks[1].Schema)
	}
	if a, b := c.Sinks[0].format("").Ext(), c.Sinks[1].format("").Ext(); a != "jsonl" || b != "ocsf.jsonl" {
		t.Fatalf("extensions %q %q", a, b)
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	bad := strings.NewReplacer("window: 30m", "window: 7m", "account: abc123xyz", "acount: abc123xyz", "lag: 0s", "lag: -1s").Replace(validYAML)
	_, err := parseResolved([]byte(bad), testEnv)
	var fe FieldErrors
	if !errors.As(err, &fe) || len(fe) < 4 {
		t.Fatalf("want at least 4 errors, got %v", err)
	}
	for _, p := range []string{"export.window", "source.acount", "source.account", "export.lag"} {
		if !strings.Contains(err.Error(), p+":") {
			t.Errorf("missing %s in\n%v", p, err)
		}
	}
}

// A string taken from the environment is taken verbatim, even when YAML
// would read it as null or a boolean.
func TestEnvStringsVerbatim(t *testing.T) {
	for _, v := range []string{"null", "~", "true", "0x10", "1e3"} {
		c, err := parseResolved([]byte(validYAML), env(map[string]string{"NEO_CLIENT_ID": "id", "NEO_CLIENT_SECRET": v}))
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if got := neo(t, c.Sources()[0]).ClientSecret; got != v {
			t.Fatalf("secret %q read as %q", v, got)
		}
	}
}

// A configuration of very many keys is refused quickly, with a bounded
// list of problems, instead of parsing for minutes.
func TestHugeConfigFailsFast(t *testing.T) {
	var b strings.Builder
	b.WriteString(validYAML + "log:\n")
	for i := 0; b.Len() < MaxConfigBytes-100; i++ {
		fmt.Fprintf(&b, "  k%d: v\n", i)
	}
	_, err := parseResolved([]byte(b.String()), testEnv)
	if err == nil || len(err.Error()) > 64<<10 || !strings.Contains(err.Error(), "more problems") {
		t.Fatalf("got %d bytes of error", len(fmt.Sprint(err)))
	}
	b.WriteString(strings.Repeat("#", 200))
	if _, err := parseResolved([]byte(b.String()), testEnv); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("an oversized file: %v", err)
	}
}

func TestSecretFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(f, []byte("file-secret\r\n"), 0o600)
	c, err := parseResolved([]byte(strings.Replace(validYAML, "client_secret: ${NEO_CLIENT_SECRET}", "client_secret_file: "+f, 1)), testEnv)
	if err != nil || neo(t, *c.Source).ClientSecret != "file-secret" {
		t.Fatalf("%v %+v", err, c)
	}
}

// Parse reads no file: the files a configuration names are read by
// Resolve (Load does both), which reports them with their paths.
func TestParseReadsNoFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	y := strings.Replace(validYAML, "client_secret: ${NEO_CLIENT_SECRET}", "client_secret_file: "+missing, 1)
	y += "evidence:\n  signing_key_file: " + missing + "\n"
	c, err := Parse([]byte(y), testEnv)
	if err != nil {
		t.Fatalf("Parse read a file: %v", err)
	}
	if neo(t, *c.Source).ClientSecret != "" {
		t.Fatal("Parse filled in the secret")
	}
	err = c.Resolve()
	if err == nil || errclass.Classify(err) != errclass.Config || !strings.Contains(err.Error(), "source.client_secret_file: cannot read the secret") || !strings.Contains(err.Error(), "evidence.signing_key_file") {
		t.Fatalf("Resolve: %v", err)
	}
}

func TestEnvExpansionIsNotYAML(t *testing.T) {
	e := env(map[string]string{"NEO_CLIENT_ID": "id", "NEO_CLIENT_SECRET": "x\n  evil: true\n"})
	c, err := parseResolved([]byte(validYAML), e)
	if err != nil || neo(t, *c.Source).ClientSecret != "x\n  evil: true\n" {
		t.Fatalf("%v", err)
	}
	e = env(map[string]string{"NEO_CLIENT_ID": "id", "NEO_CLIENT_SECRET": "s", "WIN": "2h"})
	c, err = parseResolved([]byte(strings.Replace(validYAML, "window: 30m", "window: ${WIN}", 1)), e)
	if err != nil || c.Export.Window != 2*time.Hour {
		t.Fatalf("%v", err)
	}
	_, err = parseResolved([]byte(validYAML+"log:\n  level: \"$${info}\"\n"), testEnv)
	if err == nil || !strings.Contains(err.Error(), `"${info}"`) {
		t.Fatalf("$${ escape: %v", err)
	}
}

func TestAccountsList(t *testing.T) {
	y := strings.Replace(validYAML, `source:
  api_url: https://api.hana.ondemand.com
  account: abc123xyz
  client_id: ${NEO_CLIENT_ID}
  client_secret: ${NEO_CLIENT_SECRET}`, `accounts:
  - api_url: https://api.hana.ondemand.com
    account: one
    client_id: a
    client_secret: b
  - api_url: https://api.eu2.hana.ondemand.com
    account: two
    client_id: c
    client_secret_file: /nonexistent
  - api_url: https://api.hana.ondemand.com
    account: one
    client_id: a
    client_secret: b`, 1)
	_, err := parseResolved([]byte(y), testEnv)
	if err == nil || !strings.Contains(err.Error(), "accounts[1].client_secret_file") || !strings.Contains(err.Error(), `accounts[2].account: "one" is also configured at accounts[0]`) {
		t.Fatalf("%v", err)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(validYAML))
	f.Add([]byte("source: [1, 2]\nsinks: {a: b}\n"))
	f.Add([]byte("&a x: *a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseResolved(data, testEnv)
		if err != nil {
			if errclass.Classify(err) != errclass.Config {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		// Anything accepted is fully valid.
		if len(c.Sources()) == 0 || len(c.Sinks) == 0 || c.Export.Window <= 0 || (24*time.Hour)%c.Export.Window != 0 {
			t.Fatalf("accepted invalid config %+v", c)
		}
	})
}

func TestPlainSecretsAreNoted(t *testing.T) {
	c, err := parseResolved([]byte(strings.Replace(validYAML, "client_secret: ${NEO_CLIENT_SECRET}", "client_secret: hunter2", 1)), testEnv)
	if err != nil || len(c.PlainSecrets) != 1 || c.PlainSecrets[0] != "source.client_secret" {
		t.Fatalf("%v %v", err, c.PlainSecrets)
	}
	c, err = parseResolved([]byte(validYAML), testEnv)
	if err != nil || len(c.PlainSecrets) != 0 {
		t.Fatalf("${VAR} secret noted as plain: %v %v", err, c.PlainSecrets)
	}
	_, err = parseResolved([]byte(strings.Replace(validYAML, "  account: abc123xyz", "  account: abc123xyz\n  max_page_bytes: 1000", 1)), testEnv)
	if err == nil || !strings.Contains(err.Error(), "source.max_page_bytes: must be at least") {
		t.Fatalf("%v", err)
	}
}

// config.example.yaml mentions every key the decoder accepts.
func TestExampleDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[reflect.Type]bool{}
	var visit func(reflect.Type)
	visit = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] {
			return
		}
		seen[typ] = true
		for i := 0; i < typ.NumField(); i++ {
			tag := strings.Split(typ.Field(i).Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			if !regexp.MustCompile(`(^|[\s#(\x60])` + regexp.QuoteMeta(tag) + `:`).Match(data) {
				t.Errorf("config.example.yaml does not mention %s (%s)", tag, typ.Name())
			}
			visit(typ.Field(i).Type)
		}
	}
	visit(reflect.TypeOf(Config{}))
}

// export.spool_dir reaches the sinks that stage a window locally (stdout,
// S3): once the directory is gone they cannot stage, and say which
// directory.
func TestSpoolDirReachesStagingSinks(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	if err := os.Mkdir(spool, 0o700); err != nil {
		t.Fatal(err)
	}
	y := strings.Replace(validYAML, "  lag: 0s\n", "  lag: 0s\n  spool_dir: "+spool+"\n", 1)
	y = strings.Replace(y, "  - type: file\n    format: jsonl\n    path: ./out\n", "  - type: stdout\n  - type: s3\n    bucket: b\n    region: us-east-1\n    endpoint: http://127.0.0.1:1\n", 1)
	c, err := parseResolved([]byte(y), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := c.BuildSinks(context.Background(), "test", io.Discard)
	if err != nil || len(ss) != 2 {
		t.Fatalf("%v %v", ss, err)
	}
	w := audit.Window{Account: "abc123xyz", Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC)}
	wr, err := ss[0].Open(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	_ = wr.Abort()
	if err := os.Remove(spool); err != nil {
		t.Fatal(err)
	}
	if _, err := ss[0].Open(context.Background(), w); err == nil || !strings.Contains(err.Error(), spool) {
		t.Fatalf("open without the spool directory: %v, want an error naming %s", err, spool)
	}
	// The S3 sink's check stages a file before it asks the server anything.
	if err := ss[1].(interface{ Probe(context.Context) error }).Probe(context.Background()); err == nil || !strings.Contains(err.Error(), spool) {
		t.Fatalf("S3 probe without the spool directory: %v, want an error naming %s", err, spool)
	}
}
