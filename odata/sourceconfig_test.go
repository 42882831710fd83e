package odata

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/source/apiclient"
)

// The keys' defaults, and their validation: from a valid source, break
// one key at a time; every problem is named by its path under the one
// given.
func TestSourceConfigValidate(t *testing.T) {
	valid := func() *SourceConfig {
		s := NewSourceConfig()
		s.APIURL, s.ClientID, s.ClientSecret = "https://api.hana.ondemand.com", "id", "secret"
		return s
	}
	if s := NewSourceConfig(); s.Timeout != apiclient.DefaultTimeout || s.MaxPageBytes != DefaultMaxPageBytes || s.MaxPagesPerWindow != DefaultMaxPagesPerWindow || s.MaxRequestsPerSecond != 0 || s.RetentionDays != 0 {
		t.Fatalf("defaults %+v", s)
	}
	if errs := valid().Validate("accounts[2]"); len(errs) != 0 {
		t.Fatalf("a valid source: %v", errs)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*SourceConfig)
		path   string
		msg    string
	}{
		{"http", func(s *SourceConfig) { s.APIURL = "http://api.hana.ondemand.com" }, "accounts[2].api_url", "loopback"},
		{"no client", func(s *SourceConfig) { s.ClientID = "" }, "accounts[2].client_id", "required"},
		{"no secret", func(s *SourceConfig) { s.ClientSecret = "" }, "accounts[2].client_secret", "required (or client_secret_file)"},
		{"two secrets", func(s *SourceConfig) { s.ClientSecretFile = "/s" }, "accounts[2].client_secret", "not both"},
		{"time filter", func(s *SourceConfig) { s.Filter = "Time gt 1" }, "accounts[2].filter", "must not filter on Time"},
		{"timeout", func(s *SourceConfig) { s.Timeout = 0 }, "accounts[2].timeout", "positive"},
		{"page bytes", func(s *SourceConfig) { s.MaxPageBytes = 1000 }, "accounts[2].max_page_bytes", "at least 1048576"},
		{"pages", func(s *SourceConfig) { s.MaxPagesPerWindow = 9 }, "accounts[2].max_pages_per_window", "at least 10"},
		{"retention", func(s *SourceConfig) { s.RetentionDays = 3651 }, "accounts[2].retention_days", "1 to 3650"},
	} {
		s := valid()
		tc.mutate(s)
		errs := s.Validate("accounts[2]")
		if len(errs) != 1 || errs[0].Path != tc.path || !strings.Contains(errs[0].Msg, tc.msg) {
			t.Errorf("%s: %v, want one problem at %s about %q", tc.name, errs, tc.path, tc.msg)
		}
	}
	if d := NewSourceConfig().DefaultStart(); d != DefaultStart || d >= DefaultRetention || DefaultRetention-d < 24*time.Hour {
		t.Errorf("default start %s: want it inside the retention of %s with a day to spare", d, DefaultRetention)
	}
}

// ReadFiles reads client_secret_file (without its line ends) into the
// secret, and names the key when it cannot.
func TestSourceConfigReadFiles(t *testing.T) {
	dir := t.TempDir()
	good, empty := filepath.Join(dir, "good"), filepath.Join(dir, "empty")
	os.WriteFile(good, []byte("from-file\r\n"), 0o600)
	os.WriteFile(empty, []byte("\n"), 0o600)
	s := NewSourceConfig()
	s.ClientSecretFile = good
	if errs := s.ReadFiles("source"); len(errs) != 0 || s.ClientSecret != "from-file" {
		t.Fatalf("%v, secret %q", errs, s.ClientSecret)
	}
	for file, msg := range map[string]string{empty: "is empty", filepath.Join(dir, "nope"): "cannot read the secret"} {
		s := NewSourceConfig()
		s.ClientSecretFile = file
		if errs := s.ReadFiles("source"); len(errs) != 1 || errs[0].Path != "source.client_secret_file" || !strings.Contains(errs[0].Msg, msg) || s.ClientSecret != "" {
			t.Errorf("%s: %v", file, errs)
		}
	}
	if got := NewSourceConfig().Files(); len(got) != 2 {
		t.Errorf("files %v: want client_secret_file and ca_file", got)
	}
}
