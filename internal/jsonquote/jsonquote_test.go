package jsonquote

import (
	"bytes"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// same fails t unless Append and jsontext.AppendQuote agree on s: the
// same bytes after a common prefix, the same error or none.
func same(t *testing.T, s string) {
	t.Helper()
	prefix := []byte("x:")
	got, gotErr := Append(bytes.Clone(prefix), s)
	want, wantErr := jsontext.AppendQuote(bytes.Clone(prefix), s)
	if !bytes.Equal(got, want) || (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("Append(%q) = %q, %v; jsontext.AppendQuote gives %q, %v", s, got, gotErr, want, wantErr)
	}
}

func TestAppendIsAppendQuote(t *testing.T) {
	for _, s := range []string{
		"", "plain", `{"user":"alice","data":"logon"}`, `back\slash`, "\x00\x01\x1f\x7f",
		"\b\t\n\f\r", "<>&", "\u2028\u2029", "été 日本 🔒", "\xff", "a\xc3", "\xed\xa0\x80", "\"", "\\",
		"ends in escape\n", "\x1b[31mred",
	} {
		t.Run("", func(t *testing.T) { same(t, s) })
	}
}

func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", `{"a":"b\\c"}`, "\x00\xff", "été\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { same(t, s) })
}
