package textsafe

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text, ünïcode", "plain text, ünïcode"},
		{"acct1\nFORGED", `acct1\u000aFORGED`},
		{"\x1b[2J\x1b]0;title\x07", `\u001b[2J\u001b]0;title\u0007`},
		{"abc\u202edef", `abc\u202edef`},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		{"del\x7f c1\u0085 ls\u2028", `del\u007f c1\u0085 ls\u2028`},
	} {
		if got := Escape(tc.in); got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestWriterKeepsJSONLines(t *testing.T) {
	var b bytes.Buffer
	line := `{"msg":"a` + "\x7f\u202e\u0085" + `b"}` + "\n"
	if _, err := (Writer{W: &b}).Write([]byte(line)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Fatalf("line breaks changed: %q", out)
	}
	var v map[string]string
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("not JSON any more: %v: %q", err, out)
	}
	if v["msg"] != "a\x7f\u202e\u0085b" {
		t.Fatalf("value changed: %q", v["msg"])
	}
}

func FuzzEscape(f *testing.F) {
	f.Add("\x1b]0;x\x07\n\u202e\xff")
	f.Fuzz(func(t *testing.T, s string) {
		out := Escape(s)
		if strings.ContainsFunc(out, Unsafe) || !utf8.ValidString(out) {
			t.Fatalf("unsafe output %q", out)
		}
		if utf8.ValidString(s) && !strings.ContainsFunc(s, Unsafe) && out != s {
			t.Fatalf("safe text changed: %q -> %q", s, out)
		}
	})
}
