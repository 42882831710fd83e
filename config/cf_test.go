package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditlog-exporter/auditlog-exporter/cfaudit"
	"github.com/auditlog-exporter/auditlog-exporter/odata"
	"github.com/rs/zerolog"
)

const cfKeySecret = "cf-Key-Secret-Never-Printed"

// cfConfig is a valid configuration with one Cloud Foundry source whose
// source block is src (indented two spaces).
func cfConfig(src string) string {
	return "source:\n  type: cf\n  account: my-sub\n" + src + `export:
  window: 1h
sinks:
  - type: file
    format: jsonl
    path: ./out
`
}

func TestCloudFoundrySources(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.json")
	os.WriteFile(keyFile, []byte("Getting key k for service instance i as me...\n\n"+
		`{"url":"https://auditlog-management.cfapps.eu10.hana.ondemand.com","uaa":{"clientid":"sb-1","clientsecret":"`+cfKeySecret+`","url":"https://sub.authentication.eu10.hana.ondemand.com"}}`), 0o600)
	badKey := filepath.Join(dir, "bad.json")
	os.WriteFile(badKey, []byte(`{"url":"https://a.example","uaa":{"clientsecret":"`+cfKeySecret+`"}}`), 0o600)
	certFile, pemKeyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, []byte("cert"), 0o600)
	os.WriteFile(pemKeyFile, []byte("key"), 0o600)
	explicit := "  api_url: https://auditlog-management.cfapps.eu10.hana.ondemand.com\n  token_url: https://sub.authentication.eu10.hana.ondemand.com\n  client_id: sb-1\n"
	// Kyma's Secret auditlog-read-credentials, mounted as files.
	kyma := filepath.Join(dir, "kyma")
	os.Mkdir(kyma, 0o700)
	for k, v := range map[string]string{"url": "https://auditlog.example.com", "clientID": "sb-kyma", "clientSecret": cfKeySecret, "tokenUrl": "https://t.authentication.example.com/oauth/token"} {
		os.WriteFile(filepath.Join(kyma, k), []byte(v), 0o600)
	}
	kymaBad := filepath.Join(dir, "kyma-bad")
	os.Mkdir(kymaBad, 0o700)
	for k, v := range map[string]string{"url": "https://auditlog.example.com", "clientID": "sb-kyma", "client_secret": cfKeySecret, "tokenUrl": "https://t.example.com"} {
		os.WriteFile(filepath.Join(kymaBad, k), []byte(v), 0o600)
	}
	for _, tc := range []struct {
		name, yaml string
		err        string // "" = valid; else a path and text the error must hold
	}{
		{"service key file", cfConfig("  service_key_file: " + keyFile + "\n"), ""},
		{"explicit secret", cfConfig(explicit + "  client_secret: s\n"), ""},
		{"explicit x509", cfConfig(explicit + "  cert_file: " + certFile + "\n  key_file: " + pemKeyFile + "\n"), ""},
		{"key file and explicit keys", cfConfig("  service_key_file: " + keyFile + "\n  client_id: x\n"), "source.client_id: set either service_key_file"},
		{"no credentials", cfConfig(explicit), "source.client_secret: required"},
		{"secret and certificate", cfConfig(explicit + "  client_secret: s\n  cert_file: " + certFile + "\n  key_file: " + pemKeyFile + "\n"), "source.cert_file: set either"},
		{"certificate without key", cfConfig(explicit + "  cert_file: " + certFile + "\n"), "source.cert_file: cert_file and key_file go together"},
		{"no token_url", cfConfig(strings.Replace(explicit, "  token_url: https://sub.authentication.eu10.hana.ondemand.com\n", "", 1) + "  client_secret: s\n"), "source.token_url: required (the service key's url, or uaa.url / uaa.certurl)"},
		{"plain http", cfConfig(strings.Replace(explicit, "https://auditlog", "http://auditlog", 1) + "  client_secret: s\n"), "source.api_url: \"http://auditlog-management.cfapps.eu10.hana.ondemand.com\": want https://"},
		{"filter", cfConfig("  service_key_file: " + keyFile + "\n  filter: \"Category eq 'x'\"\n"), "source.filter: only for type neo"},
		{"missing key file", cfConfig("  service_key_file: " + filepath.Join(dir, "nope.json") + "\n"), "source.service_key_file"},
		{"key without client id", cfConfig("  service_key_file: " + badKey + "\n"), "uaa.clientid missing"},
		{"unknown type", strings.Replace(cfConfig("  service_key_file: "+keyFile+"\n"), "type: cf", "type: kyma", 1), `source.type: "kyma" is not one of: neo, cf`},
		{"Kyma credentials directory", cfConfig("  credentials_dir: " + kyma + "\n"), ""},
		{"Kyma Secret's keys in the config, full token endpoint", cfConfig("  api_url: https://auditlog.example.com\n  token_url: https://t.authentication.example.com/oauth/token\n  client_id: sb-kyma\n  client_secret: s\n"), ""},
		{"Kyma directory with a wrong key", cfConfig("  credentials_dir: " + kymaBad + "\n"), filepath.Join(kymaBad, "clientSecret") + ": missing"},
		{"Kyma directory names the unknown file", cfConfig("  credentials_dir: " + kymaBad + "\n"), `"` + filepath.Join(kymaBad, "client_secret") + `": not a key of the Secret auditlog-read-credentials`},
		{"Kyma directory missing", cfConfig("  credentials_dir: " + filepath.Join(dir, "nope") + "\n"), "source.credentials_dir: stat " + filepath.Join(dir, "nope")},
		{"Kyma directory and explicit keys", cfConfig("  credentials_dir: " + kyma + "\n  client_id: x\n"), "source.client_id: set either credentials_dir or the explicit keys"},
		{"Kyma directory and a service key", cfConfig("  credentials_dir: " + kyma + "\n  service_key_file: " + keyFile + "\n"), "source.credentials_dir: set either service_key_file or credentials_dir"},
		{"Kyma directory on neo", strings.Replace(validYAML, "  account: abc123xyz\n", "  account: abc123xyz\n  credentials_dir: /x\n", 1), "source.credentials_dir: only for type cf"},
		{"cf keys on neo", strings.Replace(validYAML, "  account: abc123xyz\n", "  account: abc123xyz\n  token_url: https://x.example\n", 1), "source.token_url: only for type cf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseResolved([]byte(tc.yaml), testEnv)
			if err != nil && strings.Contains(err.Error(), cfKeySecret) {
				t.Fatalf("the error prints the key's secret: %v", err)
			}
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("got %v, want an error holding %q", err, tc.err)
			case tc.err == "" && c.Export.Start != startOf(cfaudit.DefaultStart):
				t.Fatalf("export.start %q, want the Cloud Foundry default %q", c.Export.Start, startOf(cfaudit.DefaultStart))
			}
		})
	}
	// The Kyma directory builds a Cloud Foundry client.
	if c, err := parseResolved([]byte(cfConfig("  credentials_dir: "+kyma+"\n")), testEnv); err != nil {
		t.Fatal(err)
	} else if accounts, err := c.BuildSources(zerolog.Nop()); err != nil || len(accounts) != 1 {
		t.Fatalf("%v, %v", accounts, err)
	}
	// The service key source builds a Cloud Foundry client.
	c, err := parseResolved([]byte(cfConfig("  service_key_file: "+keyFile+"\n")), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	accounts, err := c.BuildSources(zerolog.Nop())
	if err != nil || len(accounts) != 1 {
		t.Fatalf("%v, %v", accounts, err)
	}
	if _, ok := accounts[0].Source.(*cfaudit.Client); !ok {
		t.Fatalf("source %T, want a Cloud Foundry client", accounts[0].Source)
	}
	if keep, how := accounts[0].Source.Retention(t.Context()); keep != cfaudit.DefaultRetention || how != "documented" {
		t.Fatalf("retention %v %s", keep, how)
	}
}

// accounts: may mix Neo and Cloud Foundry; the Neo default start applies.
func TestMixedAccounts(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.json")
	os.WriteFile(keyFile, []byte(`{"url":"https://a.example","uaa":{"clientid":"c","clientsecret":"s","url":"https://u.example"}}`), 0o600)
	c, err := parseResolved([]byte(`accounts:
  - {api_url: "https://api.hana.ondemand.com", account: neo1, client_id: a, client_secret: b}
  - {type: cf, account: cf1, service_key_file: `+keyFile+`}
sinks: [{type: file, format: parquet, path: ./out}]
`), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Export.Start != startOf(odata.DefaultStart) || c.Accounts[0].Type != SourceNeo || c.Accounts[1].Type != SourceCF {
		t.Fatalf("start %q, types %q %q", c.Export.Start, c.Accounts[0].Type, c.Accounts[1].Type)
	}
	accounts, err := c.BuildSources(zerolog.Nop())
	if err != nil || len(accounts) != 2 {
		t.Fatal(err)
	}
}
