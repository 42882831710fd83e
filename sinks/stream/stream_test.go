package stream_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/sinktest"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/stream"
)

func TestStreamSink(t *testing.T) {
	outs := map[sinks.Sink]*bytes.Buffer{}
	spools := map[sinks.Sink]string{}
	sinktest.Run(t, sinktest.Harness{
		AtLeastOnce: true,
		New: func(t *testing.T) sinks.Sink {
			var buf bytes.Buffer
			dir := t.TempDir()
			s := stream.NewSink("stdout", &buf, sinks.JSONL{}, dir)
			outs[s], spools[s] = &buf, dir
			return s
		},
		Read: func(t *testing.T, s sinks.Sink, w audit.Window) ([]audit.Record, bool) {
			var recs []audit.Record
			err := sinks.ReadJSONL(bytes.NewReader(outs[s].Bytes()), false, func(r audit.Record) error {
				if r.Account == w.Account && w.Contains(r.Time) {
					recs = append(recs, r)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			return recs, len(recs) > 0
		},
		List: func(t *testing.T, s sinks.Sink) []string {
			left, _ := filepath.Glob(filepath.Join(spools[s], "*"))
			if outs[s].Len() > 0 {
				left = append(left, "stdout")
			}
			return left
		},
	})
}

// Windows written concurrently come out whole, one after the other.
func TestStreamSinkWindowsDoNotInterleave(t *testing.T) {
	var buf bytes.Buffer
	s := stream.NewSink("stdout", &buf, sinks.JSONL{}, t.TempDir())
	w1, w2 := sinktest.Window("a", 0), sinktest.Window("a", 1)
	r1, r2 := sinktest.Records(w1, 500, "one"), sinktest.Records(w2, 500, "two")
	wr1, _ := s.Open(context.Background(), w1)
	wr2, _ := s.Open(context.Background(), w2)
	for i := range r1 {
		wr1.Write(&r1[i])
		wr2.Write(&r2[i])
	}
	if buf.Len() != 0 {
		t.Fatal("records reached the stream before Commit")
	}
	wr2.Commit(context.Background(), sinks.Source{Count: -1})
	wr1.Commit(context.Background(), sinks.Source{Count: -1})
	var got []audit.Record
	sinks.ReadJSONL(&buf, false, func(r audit.Record) error { got = append(got, r); return nil })
	for i := range got {
		want := r2
		if i >= 500 {
			want = r1
		}
		if !got[i].Equal(&want[i%500]) {
			t.Fatalf("line %d is %s", i, got[i].UUID)
		}
	}
	if _, err := os.Stat(os.TempDir()); err != nil {
		t.Fatal(err)
	}
}
