package cfaudit

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/auditlog-exporter/auditlog-exporter/internal/safefile"
)

const kymaSecret = "kyma-Secret-Value-Never-Shown"

func kymaValues() map[string][]byte {
	return map[string][]byte{
		"url":          []byte("https://auditlog.example.com"),
		"clientID":     []byte("sb-kyma-reader"),
		"clientSecret": []byte(kymaSecret),
		"tokenUrl":     []byte("https://tenant.authentication.example.com/oauth/token"),
	}
}

func TestParseKymaCredentials(t *testing.T) {
	with := func(change func(m map[string][]byte)) map[string][]byte {
		m := kymaValues()
		change(m)
		return m
	}
	for _, tc := range []struct {
		name   string
		values map[string][]byte
		err    string // "" for success
	}{
		{"as Kyma stores it", kymaValues(), ""},
		{"tokenUrl as a base URL", with(func(m map[string][]byte) { m["tokenUrl"] = []byte("https://tenant.authentication.example.com") }), ""},
		{"values ending in a line break", with(func(m map[string][]byte) {
			m["clientSecret"] = []byte(kymaSecret + "\n")
			m["url"] = []byte("https://auditlog.example.com\r\n")
		}), ""},
		{"clientSecret missing", with(func(m map[string][]byte) { delete(m, "clientSecret") }), "clientSecret: missing"},
		{"clientID empty", with(func(m map[string][]byte) { m["clientID"] = []byte("\n") }), "clientID: empty"},
		{"an unknown key", with(func(m map[string][]byte) { m["certificate"] = []byte("x") }), `"certificate": not a key of the Secret auditlog-read-credentials`},
		{"a key in other case", with(func(m map[string][]byte) { m["clientId"] = m["clientID"]; delete(m, "clientID") }), `"clientId": not a key`},
		{"url over http", with(func(m map[string][]byte) { m["url"] = []byte("http://auditlog.example.com") }), "url: "},
		{"tokenUrl not a URL", with(func(m map[string][]byte) { m["tokenUrl"] = []byte("tenant") }), "tokenUrl: "},
		{"a secret holding a line break", with(func(m map[string][]byte) { m["clientSecret"] = []byte("a\nb") }), "clientSecret: holds control characters"},
		{"nothing", map[string][]byte{}, "url: missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseKymaCredentials(tc.values, nil)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if k.URL != "https://auditlog.example.com" || k.UAA.ClientID != "sb-kyma-reader" || k.UAA.ClientSecret != kymaSecret || k.X509() {
					t.Fatalf("got %+v", k)
				}
				if got := TokenEndpoint(k.UAA.URL); got != "https://tenant.authentication.example.com/oauth/token" {
					t.Fatalf("token endpoint %s", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("got %v, want an error containing %q", err, tc.err)
			}
			if strings.Contains(err.Error(), kymaSecret) {
				t.Fatalf("the error shows the secret: %v", err)
			}
		})
	}
}

// mountSecret lays values out as Kubernetes mounts a Secret volume: the
// files in a timestamped directory, ..data a link to it, and each key a
// link to ..data/<key>.
func mountSecret(t *testing.T, values map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	ts := "..2026_12_03_01_55_43.1234567890"
	if err := os.Mkdir(filepath.Join(dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range values {
		if err := os.WriteFile(filepath.Join(dir, ts, k), v, 0o400); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(ts, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for k := range values {
		if err := os.Symlink(filepath.Join("..data", k), filepath.Join(dir, k)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReadCredentialsDir(t *testing.T) {
	t.Run("mounted as Kubernetes does", func(t *testing.T) {
		k, err := ReadCredentialsDir(mountSecret(t, kymaValues()))
		if err != nil {
			t.Fatal(err)
		}
		if k.URL != "https://auditlog.example.com" || k.UAA.ClientSecret != kymaSecret || TokenEndpoint(k.UAA.URL) != "https://tenant.authentication.example.com/oauth/token" {
			t.Fatalf("got %+v", k)
		}
	})
	t.Run("a key missing is named by its file", func(t *testing.T) {
		m := kymaValues()
		delete(m, "tokenUrl")
		dir := mountSecret(t, m)
		_, err := ReadCredentialsDir(dir)
		if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "tokenUrl")+": missing") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("an unknown file is named", func(t *testing.T) {
		m := kymaValues()
		m["uaa.json"] = []byte(kymaSecret)
		dir := mountSecret(t, m)
		_, err := ReadCredentialsDir(dir)
		if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "uaa.json")) || strings.Contains(err.Error(), kymaSecret) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a key that is a FIFO fails at once", func(t *testing.T) {
		m := kymaValues()
		delete(m, "clientSecret")
		dir := mountSecret(t, m)
		if err := syscall.Mkfifo(filepath.Join(dir, "clientSecret"), 0o600); err != nil {
			t.Skip("no FIFOs here:", err)
		}
		_, err := ReadCredentialsDir(dir)
		if err == nil || !strings.Contains(err.Error(), safefile.ErrNotRegular.Error()) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a key too large", func(t *testing.T) {
		m := kymaValues()
		m["clientSecret"] = make([]byte, MaxCredentialFileBytes+1)
		_, err := ReadCredentialsDir(mountSecret(t, m))
		if err == nil || !strings.Contains(err.Error(), safefile.ErrTooLarge.Error()) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("not a directory", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "key.json")
		os.WriteFile(f, []byte("{}"), 0o600)
		if _, err := ReadCredentialsDir(f); err == nil || !strings.Contains(err.Error(), "is not a directory") {
			t.Fatalf("got %v", err)
		}
	})
}

// FuzzParseKymaCredentials: whatever the Secret holds, parsing never
// panics, an accepted Secret has https URLs and a client secret, and no
// error shows the secret.
func FuzzParseKymaCredentials(f *testing.F) {
	f.Add("https://auditlog.example.com", "sb-id", "s", "https://x.example.com/oauth/token", "")
	f.Add("http://127.0.0.1:1", "", "\n", "ftp://x", "extra")
	f.Fuzz(func(t *testing.T, url, id, secret, tokenURL, extra string) {
		if strings.Contains(url+tokenURL, "Fz-S3cr3t-") {
			return // URLs are shown in errors; the secret never is
		}
		secret = "Fz-S3cr3t-" + secret
		m := map[string][]byte{"url": []byte(url), "clientID": []byte(id), "clientSecret": []byte(secret), "tokenUrl": []byte(tokenURL)}
		if extra != "" && !slices.Contains(KymaKeys, extra) {
			m[extra] = []byte(secret)
		}
		k, err := ParseKymaCredentials(m, nil)
		if err != nil {
			if strings.Contains(err.Error(), "Fz-S3cr3t-") {
				t.Fatalf("the error shows the secret: %v", err)
			}
			return
		}
		if CheckURL(k.URL) != nil || CheckURL(k.UAA.URL) != nil || k.UAA.ClientSecret == "" || k.UAA.ClientID == "" {
			t.Fatalf("accepted %+v", k)
		}
	})
}
