package ocsf

import (
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// textByDecoding is what text gives without its fast path.
func textByDecoding(v jsontext.Value) (string, bool) {
	if len(v) == 0 || v[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return "", false
	}
	return s, true
}

func TestTextAsDecoded(t *testing.T) {
	for _, v := range []string{
		`"alice"`, `""`, `"a\"b"`, `"\u00e9t\u00e9"`, `"été"`, "\"tab\there\"", `"a\\b"`, `"\ud800"`,
		"\"\xff\"", `"unterminated`, `"`, `x"`, `123`, `null`, `"a"b"`, "\"\x7f\"", `"日本"`,
	} {
		got, gotOK := text(jsontext.Value(v))
		want, wantOK := textByDecoding(jsontext.Value(v))
		if got != want || gotOK != wantOK {
			t.Errorf("text(%q) = %q, %v; decoding gives %q, %v", v, got, gotOK, want, wantOK)
		}
	}
}

// text reads strings from SAP's messages: its fast path must give what
// decoding gives, for any bytes.
func FuzzText(f *testing.F) {
	for _, v := range []string{`"alice"`, `"a\"b"`, "\"\xff\"", `"été"`, `""`} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, gotOK := text(jsontext.Value(v))
		want, wantOK := textByDecoding(jsontext.Value(v))
		if got != want || gotOK != wantOK {
			t.Fatalf("text(%q) = %q, %v; decoding gives %q, %v", v, got, gotOK, want, wantOK)
		}
	})
}
