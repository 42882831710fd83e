package apiclient

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-5", 0},
		{"7", 7 * time.Second},
		{" 7 ", 7 * time.Second},
		{"999999999", MaxRetryAfter},
		{"99999999999999999999999", MaxRetryAfter}, // out of int64 range: longer than anything
		{"-99999999999999999999999", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{now.Add(48 * time.Hour).Format(http.TimeFormat), MaxRetryAfter},
		{"Tue, 24 Nov 2026 10:00:30 GMT", 30 * time.Second},
		{"soon", 0},
		{"1.5", 0},
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("Retry-After %q: %v, want %v", tc.in, got, tc.want)
		}
	}
}

// Any Retry-After header gives a wait between 0 and MaxRetryAfter.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "7", "-1", "999999999", "Tue, 24 Nov 2026 10:00:30 GMT", "Monday, 02-Jan-06 15:04:05 MST", "9223372036854775807"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		if d := parseRetryAfter(s, now); d < 0 || d > MaxRetryAfter {
			t.Fatalf("Retry-After %q: %v", s, d)
		}
	})
}

func FuzzScrubText(f *testing.F) {
	f.Add("error: Basic dXNlcjpzM2NyM3Q= \x1b[31m", "s3cr3t")
	f.Add("line\nforged", "secret-value")
	f.Add("\xff\xfe bad utf8 \u202e", "xxxx")
	f.Fuzz(func(t *testing.T, text, secret string) {
		out := scrubText(text, SecretsOf("user", secret))
		if strings.ContainsFunc(out, unsafeRune) || !utf8.ValidString(out) {
			t.Fatalf("unsafe output %q", out)
		}
		// A secret of plain text cannot survive; the replacement marker is
		// cut out first, so it cannot make one up across its edges.
		plain := len(secret) >= 4 && utf8.ValidString(secret) && !strings.ContainsAny(secret, "\\\x00\uFFFD") && !strings.ContainsFunc(secret, unsafeRune)
		if plain && strings.Contains(strings.ReplaceAll(out, Redacted, "\x00"), secret) {
			t.Fatalf("secret %q survives in %q", secret, out)
		}
	})
}

func TestShowURLHidesSecrets(t *testing.T) {
	const sec = "Url-Secret-Not-Shown"
	for _, in := range []string{
		"http://cid:" + sec + "@127.0.0.1:8080/x",
		"https://api.example.com/?client_secret=" + sec,
		"https://api.example.com/#" + sec,
		"http://cid:" + sec + "@host:99999999/%zz",
		"cid:" + sec + "@host",
		"mailto:" + sec,
		"http://x/?a=%zz&s=" + sec,
		"http://host/\x1b]0;title\x07?" + sec,
	} {
		out := ShowURL(in)
		if strings.Contains(out, sec) || strings.ContainsFunc(out, unsafeRune) {
			t.Errorf("ShowURL(%q) = %s", in, out)
		}
	}
	if got := ShowURL("https://api.hana.ondemand.com/x"); got != `"https://api.hana.ondemand.com/x"` {
		t.Errorf("a plain URL changed: %s", got)
	}
}

func FuzzShowURL(f *testing.F) {
	f.Add("http://id:s3cr3t-value@127.0.0.1/?q=s3cr3t-value", "s3cr3t-value")
	f.Fuzz(func(t *testing.T, s, secret string) {
		out := ShowURL(s)
		if strings.ContainsFunc(out, unsafeRune) || !utf8.ValidString(out) {
			t.Fatalf("unsafe output %q", out)
		}
		// A secret placed as the password or in the query never shows.
		if len(secret) < 4 || strings.ContainsAny(secret, "@/?#:%\\") || !utf8.ValidString(secret) || strings.ContainsFunc(secret, unsafeRune) {
			return
		}
		for _, u := range []string{"http://id:" + secret + "@host/p", "https://host/p?k=" + secret} {
			if out := ShowURL(u); strings.Contains(out, secret) {
				t.Fatalf("ShowURL(%q) = %s shows the secret", u, out)
			}
		}
	})
}

func TestScrubCredentials(t *testing.T) {
	const sec = "Std-Log-Secret"
	basic := base64.StdEncoding.EncodeToString([]byte("cid:" + sec))
	for _, in := range []string{
		`Unsolicited response received on idle HTTP channel starting with "POST /oauth HTTP/1.1\r\nAuthorization: Basic ` + basic + `\r\n"; err=<nil>`,
		`starting with "GET /x HTTP/1.1\r\nAuthorization: Bearer eyJhbGciOi.payload.sig\r\n"`,
		`{"access_token":"eyJhbGciOi.payload.sig","expires_in":3600}`,
		`{\"access_token\":\"eyJhbGciOi.payload.sig\"}`,
		`grant_type=client_credentials&client_secret=` + sec,
		"raw " + sec + " \x1b[2J",
	} {
		out := ScrubCredentials(in, SecretsOf("cid", sec))
		if strings.Contains(out, sec) || strings.Contains(out, basic) || strings.Contains(out, "eyJhbGciOi") || strings.ContainsFunc(out, unsafeRune) {
			t.Errorf("ScrubCredentials(%q) = %q", in, out)
		}
	}
	if out := ScrubCredentials("http: TLS handshake error from 127.0.0.1:5555: EOF", nil); out != "http: TLS handshake error from 127.0.0.1:5555: EOF" {
		t.Errorf("plain text changed: %q", out)
	}
}
