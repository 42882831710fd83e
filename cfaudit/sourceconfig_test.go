package cfaudit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Validation of a Cloud Foundry source's keys, every problem named by its
// path under the one given.
func TestSourceConfigValidate(t *testing.T) {
	explicit := func() *SourceConfig {
		s := NewSourceConfig()
		s.APIURL, s.TokenURL, s.ClientID, s.ClientSecret = "https://auditlog.example.com", "https://uaa.example.com", "id", "secret"
		return s
	}
	if errs := explicit().Validate("accounts[1]"); len(errs) != 0 {
		t.Fatalf("a valid source: %v", errs)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*SourceConfig)
		path   string
		msg    string
	}{
		{"Neo's filter", func(s *SourceConfig) { s.Filter = "x" }, "accounts[1].filter", "only for type neo (the Cloud Foundry API filters only by category"},
		{"no token url", func(s *SourceConfig) { s.TokenURL = "" }, "accounts[1].token_url", "required"},
		{"secret and certificate", func(s *SourceConfig) { s.CertFile, s.KeyFile = "/c", "/k" }, "accounts[1].cert_file", "not both"},
		{"certificate alone", func(s *SourceConfig) { s.ClientSecret, s.CertFile = "", "/c" }, "accounts[1].cert_file", "go together"},
		{"timeout", func(s *SourceConfig) { s.Timeout = -1 }, "accounts[1].timeout", "positive"},
	} {
		s := explicit()
		tc.mutate(s)
		errs := s.Validate("accounts[1]")
		if len(errs) != 1 || errs[0].Path != tc.path || !strings.Contains(errs[0].Msg, tc.msg) {
			t.Errorf("%s: %v, want one problem at %s about %q", tc.name, errs, tc.path, tc.msg)
		}
	}
	s := NewSourceConfig()
	s.ServiceKeyFile, s.ClientID = "/key.json", "id"
	if errs := s.Validate("source"); len(errs) != 1 || errs[0].Path != "source.client_id" || !strings.Contains(errs[0].Msg, "set either service_key_file or the explicit keys") {
		t.Errorf("service key and explicit keys: %v", errs)
	}
	if d := NewSourceConfig().DefaultStart(); d >= DefaultRetention {
		t.Errorf("default start %s beyond the retention of %s", d, DefaultRetention)
	}
}

// Key reads the certificate and key of an x509 source afresh; ReadFiles
// checks the files when the configuration is loaded.
func TestSourceConfigKey(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, []byte("CERT"), 0o600)
	os.WriteFile(key, []byte("KEY"), 0o600)
	s := NewSourceConfig()
	s.APIURL, s.TokenURL, s.ClientID, s.CertFile, s.KeyFile = "https://auditlog.example.com", "https://uaa.cert.example.com", "id", cert, key
	if errs := s.ReadFiles("source"); len(errs) != 0 {
		t.Fatal(errs)
	}
	k, err := s.Key()
	if err != nil || k.UAA.CredentialType != "x509" || k.UAA.Certificate != "CERT" || k.UAA.Key != "KEY" || k.UAA.CertURL != s.TokenURL {
		t.Fatalf("%+v %v", k.UAA, err)
	}
	s.KeyFile = filepath.Join(dir, "gone.pem")
	if errs := s.ReadFiles("source"); len(errs) != 1 || errs[0].Path != "source.key_file" {
		t.Fatalf("missing key: %v", errs)
	}
	if _, err := s.Key(); err == nil || !strings.Contains(err.Error(), "key_file") {
		t.Fatalf("missing key: %v", err)
	}
}
