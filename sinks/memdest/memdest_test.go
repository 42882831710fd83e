package memdest_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/schema/ocsf"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/memdest"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/sinktest"
)

func harness(format sinks.Format) sinktest.Harness {
	dest := func(s sinks.Sink) *memdest.Dest { return s.(*sinks.Output).Destination().(*memdest.Dest) }
	return sinktest.Harness{
		New: func(t *testing.T) sinks.Sink { o, _ := memdest.NewSink("t", format); return o },
		Read: func(t *testing.T, s sinks.Sink, w audit.Window) ([]audit.Record, bool) {
			b, ok := dest(s).Read(s.(*sinks.Output).ObjectName(w))
			if !ok {
				return nil, false
			}
			var out []audit.Record
			if err := format.Read(bytes.NewReader(b), int64(len(b)), func(r audit.Record) error { out = append(out, r); return nil }); err != nil {
				t.Fatal(err)
			}
			return out, true
		},
		List:   func(t *testing.T, s sinks.Sink) []string { return dest(s).Names() },
		Keeper: func(s sinks.Sink) sinks.Keeper { return s.(*sinks.Output).Keeper() },
		DropManifest: func(t *testing.T, s sinks.Sink, name string) {
			if !dest(s).Lose(name) {
				t.Fatalf("no %s to drop", name)
			}
		},
	}
}

// The memory destination passes the suite every destination passes, in
// every format.
func TestConformance(t *testing.T) {
	for _, f := range []sinks.Format{sinks.JSONL{}, sinks.JSONL{Gzip: true}, sinks.Parquet{Version: "test", RowGroupRows: 1000},
		sinks.JSONL{Schema: ocsf.Schema}} {
		t.Run(f.Ext(), func(t *testing.T) { sinktest.Run(t, harness(f)) })
	}
}

// TestVersionsAndFaults: every version created is kept in order with its
// version ID in the manifest; a taken name is refused; a failing publish
// publishes nothing and the writer leaves nothing pending; a cancelled
// publish neither.
func TestVersionsAndFaults(t *testing.T) {
	ctx := context.Background()
	o, d := memdest.NewSink("v", sinks.JSONL{})
	w := sinktest.Window("acct", 0)
	wr := sinktest.Write(t, o, w, sinktest.Records(w, 3, "a"))
	if d.Pending() != 1 {
		t.Fatalf("%d pending while writing, want 1", d.Pending())
	}
	if err := wr.Commit(ctx, sinks.Source{Count: 3, Completeness: "counted"}); err != nil {
		t.Fatal(err)
	}
	created := d.Created()
	if len(created) != 2 || created[0].Name != o.ObjectName(w) || created[0].Small || created[0].Meta.Records != 3 || !created[1].Small ||
		!strings.HasPrefix(created[1].Name, "_manifests/") || created[0].Version != "1" || created[1].Version != "2" || d.Pending() != 0 {
		t.Fatalf("created %+v, %d pending", created, d.Pending())
	}
	m, found, err := o.Archive().ReadManifest(ctx, w)
	if err != nil || !found || m.ObjectVersion != "1" {
		t.Fatalf("manifest %+v (%v, %v): want the object's version recorded", m, found, err)
	}
	info, err := o.Archive().Inspect(ctx, m.Object)
	if err != nil || info.Version != "1" || info.SHA256 != m.SHA256 || info.Size != m.Bytes {
		t.Fatalf("inspect %+v, %v; manifest %s %d", info, err, m.SHA256, m.Bytes)
	}

	// The name is taken: refused, nothing created.
	wr = sinktest.Write(t, o, w, sinktest.Records(w, 2, "b"))
	if err := wr.Commit(ctx, sinks.Source{Count: -1}); !errors.Is(err, sinks.ErrExists) {
		t.Fatalf("second commit: %v, want ErrExists", err)
	}
	if n := len(d.Created()); n != 2 || d.Pending() != 0 {
		t.Fatalf("a refused commit created %d versions in all, %d pending", n, d.Pending())
	}

	// A publish that fails publishes nothing.
	full := errclass.Mark(errclass.Retryable, errors.New("quota exceeded"))
	d.FailPublish(func(name string) error {
		if strings.Contains(name, "20261124T110000Z_") {
			return full
		}
		return nil
	})
	w1 := sinktest.Window("acct", 1)
	wr = sinktest.Write(t, o, w1, sinktest.Records(w1, 2, "c"))
	if err := wr.Commit(ctx, sinks.Source{Count: -1}); !errors.Is(err, full) || errclass.Classify(err) != errclass.Retryable {
		t.Fatalf("failing publish: %v", err)
	}
	if _, ok := d.Read(o.ObjectName(w1)); ok || len(d.Created()) != 2 || d.Pending() != 0 {
		t.Fatalf("a failed publish left %v, %d pending", d.Names(), d.Pending())
	}
	d.FailPublish(nil)
	wr = sinktest.Write(t, o, w1, sinktest.Records(w1, 2, "c"))
	if err := wr.Commit(ctx, sinks.Source{Count: -1}); err != nil {
		t.Fatal(err)
	}

	// A cancelled publish neither.
	w2 := sinktest.Window("acct", 2)
	st, err := d.Stage(ctx, o.ObjectName(w2))
	if err != nil {
		t.Fatal(err)
	}
	cx, cancel := context.WithCancel(ctx)
	cancel()
	if err := st.Publish(cx, sinks.ObjectMeta{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled publish: %v", err)
	}
	if err := st.Discard(); err != nil || d.Pending() != 0 || slices.Contains(d.Names(), o.ObjectName(w2)) {
		t.Fatalf("after a cancelled publish: %v, %d pending, %v", err, d.Pending(), d.Names())
	}
	if err := st.Discard(); err != nil {
		t.Fatalf("second discard: %v", err)
	}

	// A size limit is the commit layer's to enforce, before publishing.
	d.SetMaxObjectSize(10)
	w3 := sinktest.Window("acct", 3)
	wr = sinktest.Write(t, o, w3, sinktest.Records(w3, 5, "big"))
	if err := wr.Commit(ctx, sinks.Source{Count: -1}); errclass.Classify(err) != errclass.Config {
		t.Fatalf("object over the limit: %v", err)
	}
	if _, err := d.Stage(ctx, "../escape"); err == nil {
		t.Fatal("a name outside the destination was staged")
	}
}
