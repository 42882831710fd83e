package cfaudit

import (
	"net/url"
	"strings"
	"testing"
)

// The paging handle goes back as received where it is a valid query
// value, encoded once where it is not: never twice.
func TestHandleQueryValue(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"base64 with padding", "QUJDRA==", "QUJDRA=="},
		{"base64 with / and +", "ab/c+d=", "ab/c%2Bd="}, // a '+' would reach the server as a space
		{"raw time-and-uuid cursor", "2018-06-14T10:11:18.968<4f932695-8616-4e1f-ac9a-1cdfb758f01d<2018-06-14T10:11:00.000",
			"2018-06-14T10:11:18.968%3C4f932695-8616-4e1f-ac9a-1cdfb758f01d%3C2018-06-14T10:11:00.000"},
		{"already percent-encoded", "2018-06-14T10%3A11%3A18.968%3Cuuid%3C2018-06-14T10%3A11%3A00.000",
			"2018-06-14T10%3A11%3A18.968%3Cuuid%3C2018-06-14T10%3A11%3A00.000"},
		{"lower-case escapes kept", "a%3cb", "a%3cb"},
		{"a lone percent", "50%", "50%25"},
		{"a percent before non-hex", "%zz1", "%25zz1"},
		{"separators", "a&b#c;d", "a%26b%23c%3Bd"},
		{"other invalid characters", `a>b"c{d}|\^` + "`", "a%3Eb%22c%7Bd%7D%7C%5C%5E%60"},
		{"sub-delims and : @ / ? as they are", "a:b@c/d?e!$'()*,f", "a:b@c/d?e!$'()*,f"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := HandleQueryValue(tc.in); got != tc.want {
				t.Fatalf("HandleQueryValue(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if again := HandleQueryValue(tc.want); again != tc.want {
				t.Fatalf("encoded twice: %q -> %q", tc.want, again)
			}
		})
	}
}

func TestTokenEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"https://x.authentication.eu10.hana.ondemand.com":              "https://x.authentication.eu10.hana.ondemand.com/oauth/token",
		"https://x.authentication.eu10.hana.ondemand.com/":             "https://x.authentication.eu10.hana.ondemand.com/oauth/token",
		"https://x.authentication.eu10.hana.ondemand.com/oauth/token":  "https://x.authentication.eu10.hana.ondemand.com/oauth/token",
		"https://x.authentication.eu10.hana.ondemand.com/oauth/token/": "https://x.authentication.eu10.hana.ondemand.com/oauth/token",
		"https://proxy.example.com/uaa":                                "https://proxy.example.com/uaa/oauth/token",
	} {
		if got := TokenEndpoint(in); got != want {
			t.Errorf("TokenEndpoint(%q) = %q, want %q", in, got, want)
		}
	}
}

// queryValueOK reports whether s is a query value a server reads as
// itself: allowed characters and well-formed escapes, no separator.
func queryValueOK(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("-._~=/:@?!$'()*,", c) >= 0:
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			i += 2
		default:
			return false
		}
	}
	return true
}

// FuzzHandleQueryValue: whatever the handle, the value sent is a valid
// query value; a handle that already is one goes as received; encoding is
// never applied twice; a handle without '%' reaches the server unchanged.
func FuzzHandleQueryValue(f *testing.F) {
	for _, s := range []string{"QUJDRA==", "2018-06-14T10:11:18.968<u<2018-06-14T10:11:00.000", "a%3Cb", "%", "%%41", "a+b&c", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		got := HandleQueryValue(h)
		if !queryValueOK(got) {
			t.Fatalf("HandleQueryValue(%q) = %q: not a valid query value", h, got)
		}
		if queryValueOK(h) && got != h {
			t.Fatalf("HandleQueryValue(%q) = %q: a valid query value was changed", h, got)
		}
		if again := HandleQueryValue(got); again != got {
			t.Fatalf("encoded twice: %q -> %q -> %q", h, got, again)
		}
		if !strings.Contains(h, "%") {
			if back, err := url.QueryUnescape(got); err != nil || back != h {
				t.Fatalf("the server reads %q, not %q (%v)", back, h, err)
			}
		}
	})
}
