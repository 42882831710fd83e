package odata

import (
	"net/url"
	"strings"
	"testing"
)

const recPath = "/auditlog/v1/accounts/abc123/AuditLogRecords"

func mustURL(t testing.TB, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestRebaseNextLink(t *testing.T) {
	base := mustURL(t, "https://api.hana.ondemand.com")
	cur := mustURL(t, "https://api.hana.ondemand.com"+recPath+"?$count=true")
	tests := []struct {
		name, link, want, err string
	}{
		{"documented internal origin", "http://localhost:8001" + recPath + "?$top=5000&$skip=0&$skiptoken=1000",
			"https://api.hana.ondemand.com" + recPath + "?$top=5000&$skip=0&$skiptoken=1000", ""},
		{"same origin", "https://api.hana.ondemand.com" + recPath + "?$skiptoken=2000",
			"https://api.hana.ondemand.com" + recPath + "?$skiptoken=2000", ""},
		{"foreign host keeps the token home", "https://evil.example" + recPath + "?$skiptoken=1000",
			"https://api.hana.ondemand.com" + recPath + "?$skiptoken=1000", ""},
		{"relative", "AuditLogRecords?$skiptoken=1000",
			"https://api.hana.ondemand.com" + recPath + "?$skiptoken=1000", ""},
		{"absolute path", recPath + "?$filter=Time%20ge%20%272026-11-24T09.59.58%27&$skiptoken=1000",
			"https://api.hana.ondemand.com" + recPath + "?$filter=Time%20ge%20%272026-11-24T09.59.58%27&$skiptoken=1000", ""},
		{"userinfo dropped", "http://user:pw@localhost:8001" + recPath + "?$skiptoken=1",
			"https://api.hana.ondemand.com" + recPath + "?$skiptoken=1", ""},
		{"fragment dropped", "http://localhost:8001" + recPath + "?$skiptoken=1#frag",
			"https://api.hana.ondemand.com" + recPath + "?$skiptoken=1", ""},
		{"empty", "", "", "empty"},
		{"file scheme", "file:///etc/passwd", "", "scheme"},
		{"javascript", "javascript:alert(1)", "", "scheme"},
		{"mailto", "mailto:x@example.com", "", "scheme"},
		{"other path", "http://localhost:8001/authorization/v1/accounts/abc123/users", "", "path"},
		{"other account", "http://localhost:8001/auditlog/v1/accounts/other/AuditLogRecords?$skiptoken=1", "", "path"},
		{"dot segments", "http://localhost:8001/auditlog/v1/accounts/abc123/../other/AuditLogRecords", "", "path"},
		{"bad escape", "http://localhost:8001/%zz", "", "not a URL"},
		{"control char", "http://localhost:8001/\x7f", "", "not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RebaseNextLink(base, cur, recPath, tt.link)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, %v; want error containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Fatalf("got %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestRebaseNextLinkPathPrefix(t *testing.T) {
	base := mustURL(t, "https://proxy.example.com/sap")
	path := "/sap" + recPath
	cur := mustURL(t, "https://proxy.example.com"+path)
	got, err := RebaseNextLink(base, cur, path, "http://localhost:8001"+recPath+"?$skiptoken=1000")
	if err != nil || got.String() != "https://proxy.example.com"+path+"?$skiptoken=1000" {
		t.Fatalf("got %v, %v", got, err)
	}
}

// FuzzRebaseNextLink: whatever the link, the result never leaves the
// configured origin and never changes the records path.
func FuzzRebaseNextLink(f *testing.F) {
	for _, s := range []string{"http://localhost:8001" + recPath + "?$skiptoken=1000", "https://evil.example/x", "file:///etc/passwd", "//evil.example" + recPath, "AuditLogRecords?$skiptoken=5", "%", "http://[::1]:80" + recPath} {
		f.Add(s)
	}
	base := mustURL(f, "https://api.hana.ondemand.com")
	cur := mustURL(f, "https://api.hana.ondemand.com"+recPath)
	f.Fuzz(func(t *testing.T, link string) {
		got, err := RebaseNextLink(base, cur, recPath, link)
		if err != nil {
			return
		}
		if got.Scheme != "https" || got.Host != "api.hana.ondemand.com" || got.User != nil {
			t.Fatalf("link %q left the origin: %v", link, got)
		}
		if got.EscapedPath() != recPath {
			t.Fatalf("link %q changed the path: %v", link, got)
		}
		again, err := url.Parse(got.String())
		if err != nil || again.Host != "api.hana.ondemand.com" {
			t.Fatalf("link %q re-parses to %v, %v", link, again, err)
		}
	})
}
