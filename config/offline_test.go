package config

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// LoadOffline takes a configuration whose sources' credentials are not
// there (unset variables, missing files) and still refuses any other
// problem; the sources it builds refuse to be asked.
func TestLoadOffline(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	cases := []struct {
		name, yaml string
		err        string // "": loads offline
	}{
		{"unset secret", "source: {api_url: https://api.example.com, account: a1, client_id: id, client_secret: \"${OFFLINE_TEST_UNSET}\"}\n", ""},
		{"missing secret file", "source: {api_url: https://api.example.com, account: a1, client_id: \"${OFFLINE_TEST_UNSET_ID}\", client_secret_file: /nonexistent/secret}\n", ""},
		{"cf without its service key", "accounts:\n- {type: cf, account: a2, service_key_file: /nonexistent/key.json}\n", ""},
		{"Kyma without its credentials directory", "accounts:\n- {type: cf, account: a3, credentials_dir: /nonexistent/auditlog-read-credentials}\n", ""},
		{"no credentials at all", "source: {api_url: https://api.example.com, account: a1}\n", ""},
		{"unset bucket still an error", "source: {api_url: https://api.example.com, account: a1}\nstate: {type: s3, bucket: \"${OFFLINE_TEST_UNSET_BUCKET}\"}\n", "OFFLINE_TEST_UNSET_BUCKET is not set"},
		{"unknown key still an error", "source: {api_url: https://api.example.com, account: a1, acount: x}\n", "unknown key"},
		{"account still required", "source: {api_url: https://api.example.com, client_id: id}\n", "source.account"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".yaml")
			body := c.yaml
			if !strings.Contains(body, "state:") {
				body += "state: {path: " + state + "}\n"
			}
			body += "sinks: [{type: file, path: " + filepath.Join(dir, "out") + "}]\n"
			os.WriteFile(p, []byte(body), 0o600)
			cfg, err := LoadOffline(p, func(string) (string, bool) { return "", false })
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("got %v, want an error about %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Load(p, func(string) (string, bool) { return "", false }); err == nil {
				t.Fatal("Load took it too: the case proves nothing")
			}
			accounts, err := cfg.BuildSources(zerolog.Nop())
			if err != nil || len(accounts) != 1 {
				t.Fatalf("sources: %v %v", accounts, err)
			}
			if err := accounts[0].Source.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "does not ask the API") {
				t.Fatalf("an offline source answered: %v", err)
			}
		})
	}
}

// Relative paths in a configuration file are relative to the file's
// directory, wherever the command was started from; absolute ones stay.
func TestRelativePathsFollowTheFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "secret"), []byte("s3cr3t-for-test\n"), 0o600)
	p := filepath.Join(dir, "config.yaml")
	os.WriteFile(p, []byte(`source: {api_url: https://api.example.com, account: a1, client_id: id, client_secret_file: secret}
export: {spool_dir: .}
state: {path: ./state}
sinks:
  - {type: file, path: out}
  - {type: file, path: /abs/out}
metrics: {textfile: m.prom}
`), 0o600)
	t.Chdir(t.TempDir()) // started from elsewhere
	cfg, err := Load(p, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	for what, got := range map[string]string{
		filepath.Join(dir, "state"): cfg.State.Path, filepath.Join(dir, "out"): cfg.Sinks[0].File.Path, "/abs/out": cfg.Sinks[1].File.Path,
		dir: cfg.Export.SpoolDir, filepath.Join(dir, "m.prom"): cfg.Metrics.Textfile, filepath.Join(dir, "secret"): neo(t, *cfg.Source).ClientSecretFile,
	} {
		if got != what {
			t.Errorf("got %s, want %s", got, what)
		}
	}
	if neo(t, *cfg.Source).ClientSecret != "s3cr3t-for-test" {
		t.Errorf("the secret file was not read from the file's directory")
	}
}
