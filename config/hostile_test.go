package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/auditlog-exporter/auditlog-exporter/cfaudit"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
)

// hostileFiles makes the files a hostile setup points the exporter at: a
// FIFO nobody writes, a device that never ends, a 1 GiB file (sparse), a
// directory. Each must fail at once with a message, never hang or grow.
func hostileFiles(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	big := filepath.Join(dir, "big")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return map[string]string{"fifo": fifo, "/dev/zero": "/dev/zero", "1 GiB": big, "directory": dir}
}

func TestHostileFilesFailAtOnce(t *testing.T) {
	files := hostileFiles(t)
	for what, path := range files {
		for _, tc := range []struct {
			field, yaml string
		}{
			{"source.client_secret_file", strings.Replace(validYAML, "client_secret: ${NEO_CLIENT_SECRET}", "client_secret_file: "+path, 1)},
			{"source.service_key_file", cfConfig("  service_key_file: " + path + "\n")},
			{"evidence.signing_key_file", validYAML + "evidence:\n  signing_key_file: " + path + "\n"},
		} {
			t.Run(tc.field+"/"+what, func(t *testing.T) {
				_, err := parseResolved([]byte(tc.yaml), testEnv)
				if err == nil || errclass.Classify(err) != errclass.Config || !strings.Contains(err.Error(), tc.field) {
					t.Fatalf("%v", err)
				}
				if !strings.Contains(err.Error(), "not a regular file") && !strings.Contains(err.Error(), "than") {
					t.Fatalf("the message does not say what is wrong: %v", err)
				}
				t.Log(err)
			})
		}
		t.Run("config file/"+what, func(t *testing.T) {
			_, err := Load(path, testEnv)
			if err == nil || errclass.Classify(err) != errclass.Config {
				t.Fatalf("%v", err)
			}
		})
		t.Run("cert_file/"+what, func(t *testing.T) {
			c, err := parseResolved([]byte(cfConfig("  api_url: https://auditlog.example.com\n  token_url: https://uaa.example.com\n  client_id: id\n  cert_file: "+path+"\n  key_file: "+path+"\n")), testEnv)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Sources()[0].Settings.(*cfaudit.SourceConfig).Key()
			if err == nil || errclass.Classify(err) != errclass.Config || !strings.Contains(err.Error(), "cert_file") {
				t.Fatalf("%v", err)
			}
		})
	}
}

func TestURLSecretsAreNotShown(t *testing.T) {
	const sec = "Url-Embedded-Secret"
	for _, tc := range []struct{ name, yaml string }{
		{"neo api_url userinfo", strings.Replace(validYAML, "https://api.hana.ondemand.com", "http://cid:"+sec+"@api.hana.ondemand.com", 1)},
		{"neo api_url query", strings.Replace(validYAML, "https://api.hana.ondemand.com", "https://api.hana.ondemand.com/?client_secret="+sec, 1)},
		{"neo api_url unparseable", strings.Replace(validYAML, "https://api.hana.ondemand.com", "http://cid:"+sec+"@api.hana.ondemand.com:99999999/%zz", 1)},
		{"cf api_url", cfConfig("  api_url: http://cid:" + sec + "@10.0.0.1/\n  token_url: https://uaa.example.com\n  client_id: id\n  client_secret: x\n")},
		{"cf token_url", cfConfig("  api_url: https://a.example.com\n  token_url: https://uaa.example.com/?secret=" + sec + "\n  client_id: id\n  client_secret: x\n")},
		{"s3 endpoint", validYAML + "  - type: s3\n    bucket: b\n    region: r\n    endpoint: ftp://k:" + sec + "@minio:9000\n"},
		{"pushgateway", validYAML + "metrics:\n  pushgateway_url: ftp://u:" + sec + "@pgw:9091\n"},
		{"service key url", cfConfig("  service_key_file: " + keyFile(t, `{"url":"http://cid:`+sec+`@127.0.0.1:1/","uaa":{"url":"https://uaa.example.com","clientid":"cid","clientsecret":"x"}}`) + "\n")},
		{"service key uaa.url query", cfConfig("  service_key_file: " + keyFile(t, `{"url":"https://a.example.com","uaa":{"url":"https://uaa.example.com/?s=`+sec+`","clientid":"cid","clientsecret":"x"}}`) + "\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseResolved([]byte(tc.yaml), testEnv)
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), sec) {
				t.Fatalf("the secret in the URL is shown: %v", err)
			}
			t.Log(err)
		})
	}
}

func keyFile(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDuplicateKeysAreListedOnce(t *testing.T) {
	var b strings.Builder
	b.WriteString(validYAML + "log:\n  level: info\n")
	for i := 0; i < 2000; i++ {
		b.WriteString("  format: json\n")
	}
	_, err := parseResolved([]byte(b.String()), testEnv)
	if err == nil || errclass.Classify(err) != errclass.Config {
		t.Fatalf("%v", err)
	}
	msg := err.Error()
	if n := strings.Count(msg, "\n"); n > maxConfigErrors+2 {
		t.Fatalf("%d lines of errors for 2,000 repeated keys; the cap is %d", n, maxConfigErrors)
	}
	if !strings.Contains(msg, "log.format: given again on line") || !strings.Contains(msg, "more problems are not listed") {
		t.Fatalf("%s", msg)
	}
	// One repeat: one line naming both places.
	_, err = parseResolved([]byte(validYAML+"log:\n  level: info\n  level: debug\n"), testEnv)
	if err == nil || strings.Count(err.Error(), "given again") != 1 {
		t.Fatalf("%v", err)
	}
}
