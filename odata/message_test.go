package odata

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestODataMessage(t *testing.T) {
	long := strings.Repeat("x", 2000)
	for _, tc := range []struct {
		name, body, want string
	}{
		{"odata error", `{"error":{"code":"400","message":"The query option '$foo' is not supported"}}`, "400: The query option '$foo' is not supported"},
		{"message object", `{"error":{"code":"E1","message":{"lang":"en","value":"bad"}}}`, `E1: {"lang":"en","value":"bad"}`},
		{"code only", `{"error":{"code":"E2"}}`, "E2"},
		{"message only", `{"error":{"message":"just this"}}`, "just this"},
		{"inner object without wrapper", `{"code":"E3","message":"m"}`, "E3: m"},
		{"long message shortened", `{"error":{"code":"E4","message":"` + long + `"}}`, "E4: " + long[:500] + "..."},
		{"html page", "  <html><body>502 Bad Gateway</body></html>\n", "<html><body>502 Bad Gateway</body></html>"},
		{"long text shortened", long, long[:200] + "..."},
		{"cut before a character, not inside it", strings.Repeat("x", 199) + "é" + long, strings.Repeat("x", 199) + "..."},
		{"empty", "", ""},
		{"json without error", `{"value":[]}`, `{"value":[]}`},
	} {
		if got := odataMessage([]byte(tc.body)); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// Whatever an error body holds, the message taken from it is bounded (it
// goes into logs and errors), and valid UTF-8 stays valid.
func FuzzODataMessage(f *testing.F) {
	for _, s := range []string{`{"error":{"code":"400","message":"m"}}`, `{"error":null}`, `{"error":{"message":{"a":[1,2]}}}`, "<html>", "\xff\xfe", strings.Repeat("ü", 300)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		msg := odataMessage(b)
		// A code is not shortened, but it is part of a body of at most 16 KiB.
		if len(msg) > len(b)+503 {
			t.Fatalf("message of %d bytes from a body of %d", len(msg), len(b))
		}
		if utf8.Valid(b) && !utf8.ValidString(msg) {
			t.Fatalf("shortening cut a character in two: %q", msg)
		}
	})
}

// Scrubbing removes every secret, and leaves no control character, whatever
// the text around them.
