package source

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestSqueezeWhitespace(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"a" :  [1,   2],` + "\n\t\r " + `"b":"x  \" \\  y"}`, `{"a" : [1, 2], "b":"x  \" \\  y"}`},
		{`"\\"   "  "`, `"\\" "  "`},
		{"   \n", " "},
	} {
		for _, r := range []func(io.Reader) io.Reader{func(r io.Reader) io.Reader { return r }, iotest.OneByteReader, iotest.HalfReader} {
			b, err := io.ReadAll(SqueezeWhitespace(r(strings.NewReader(tc.in))))
			if err != nil || string(b) != tc.want {
				t.Errorf("%q: got %q, %v; want %q", tc.in, b, err, tc.want)
			}
		}
	}
}

func FuzzSqueezeWhitespace(f *testing.F) {
	f.Add([]byte(`{"value":[ {"Uuid" : "a  b\"  "} ]   , "@odata.count": 1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := io.ReadAll(SqueezeWhitespace(iotest.HalfReader(bytes.NewReader(data))))
		if err != nil {
			t.Fatal(err)
		}
		// The same JSON value, or invalid both ways.
		var a, b any
		ea, eb := json.Unmarshal(data, &a), json.Unmarshal(out, &b)
		if (ea == nil) != (eb == nil) {
			t.Fatalf("%q -> %q: %v / %v", data, out, ea, eb)
		}
		if ea == nil {
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			if !bytes.Equal(ja, jb) {
				t.Fatalf("%q -> %q: value changed", data, out)
			}
		}
	})
}

func TestPageGateAdmitsOneBigPage(t *testing.T) {
	g := NewPageGate()
	ctx, cancel := context.WithCancel(context.Background())
	a, b := g.Pass(ctx), g.Pass(ctx)
	big := bytes.Repeat([]byte{' '}, BigPageBytes+2)
	if _, err := io.Copy(io.Discard, a.Reader(bytes.NewReader(big))); err != nil || !a.held {
		t.Fatalf("the first big page: %v, held %v", err, a.held)
	}
	// A small page passes while a big one holds the gate.
	if _, err := io.Copy(io.Discard, b.Reader(bytes.NewReader(big[:1000]))); err != nil {
		t.Fatal(err)
	}
	// A second big page waits for the gate: cancelled, it gives up.
	cancel()
	if _, err := io.Copy(io.Discard, b.Reader(bytes.NewReader(big))); err != context.Canceled || b.held {
		t.Fatalf("a second big page while the gate is held: %v", err)
	}
	a.Release()
	c := g.Pass(context.Background())
	if _, err := io.Copy(io.Discard, c.Reader(bytes.NewReader(big))); err != nil || !c.held {
		t.Fatalf("after release: %v", err)
	}
	c.Release()
	var nilGate *PageGate
	if _, err := io.Copy(io.Discard, nilGate.Pass(ctx).Reader(bytes.NewReader(big))); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkSqueezeWhitespace(b *testing.B) {
	var page bytes.Buffer
	page.WriteString(`{"@odata.count":1000,"value":[`)
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&page, `{"Uuid":"3b8a8b-16247c70836-%d","Category":"audit.data-access","User":"A on behalf of B","Tenant":"t","Account":"abc123xyz","Application":"app","Time":"2018-03-21T09.00.40.572+0000","Message":"Read access: {\"object\":{\"type\":\"person\"},\"attributes\":[{\"name\":\"email\"}],\"success\":true} %d","InstanceId":null,"FormatVersion":"2.2"},`, i, i)
	}
	page.WriteString(`{}]}`)
	body := page.Bytes()
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		r := SqueezeWhitespace(bytes.NewReader(body))
		for {
			if _, err := r.Read(buf); err != nil {
				break
			}
		}
	}
}
