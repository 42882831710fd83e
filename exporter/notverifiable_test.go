package exporter_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/exporter"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/stream"
)

// A sink that keeps nothing to read back (a stream) is not skipped in
// silence: verify lists it as not verifiable, checks the others, and
// counts it as no problem (it was configured so).
func TestVerifyListsASinkItCannotReadBack(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	var out bytes.Buffer
	stream := stream.NewSink("stdout", &out, sinks.JSONL{}, t.TempDir())
	ex := e.exporter(e.sink, stream)
	if _, err := ex.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if out.Len() == 0 {
		t.Fatal("the stream got nothing")
	}
	res, err := ex.Verify(ctx, now.Add(-6*time.Hour).Truncate(time.Hour), now, exporter.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.NotVerifiable) != 1 || res.NotVerifiable[0].Sink != stream.Name() || !strings.Contains(res.NotVerifiable[0].Reason, "not verifiable") {
		t.Fatalf("not verifiable: %+v, want the stream %s", res.NotVerifiable, stream.Name())
	}
	if len(res.Windows) == 0 {
		t.Fatal("no window of the keeping sink checked")
	}
	for _, r := range res.Windows {
		if r.Sink != e.sink.Name() {
			t.Fatalf("a window row for %s, which cannot be read back: %+v", r.Sink, r)
		}
	}
	if wp, dp := res.Problems(); wp != 0 || dp != 0 {
		t.Fatalf("verify: %d window and %d day problems", wp, dp)
	}
	// Only keeping sinks: nothing is listed.
	res, err = e.exporter().Verify(ctx, now.Add(-6*time.Hour).Truncate(time.Hour), now, exporter.VerifyOptions{})
	if err != nil || len(res.NotVerifiable) != 0 {
		t.Fatalf("not verifiable without a stream: %+v, %v", res.NotVerifiable, err)
	}
}
