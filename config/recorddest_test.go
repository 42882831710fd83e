package config_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/config"
	"github.com/auditlog-exporter/auditlog-exporter/exporter"
	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/rs/zerolog"
)

// A destination that receives records, not objects (an Elasticsearch
// bulk API, Splunk HEC): written in this file alone and plugged in by one
// line of a registry, it runs an export end to end. It is exactly once as
// its consumer sees it by the argument such APIs allow: every record is
// indexed under a deterministic ID (its UUID) with create semantics
// (op_type=create), so a window sent again after a lost answer creates
// nothing twice.

// bulkIndex is the API's side: documents by ID.
type bulkIndex struct {
	mu        sync.Mutex
	docs      map[string]audit.Record
	created   int // documents created
	conflicts int // creates refused: the ID was taken
	requests  int
	// loseAnswers: the first so many bulk requests are applied, then
	// answered with an error (a connection lost after the server acted).
	loseAnswers int
}

// bulk applies one request: create each document unless its ID is taken.
func (x *bulkIndex) bulk(ctx context.Context, docs []audit.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.requests++
	for _, d := range docs {
		if _, taken := x.docs[d.UUID]; taken {
			x.conflicts++
			continue
		}
		x.docs[d.UUID] = d
		x.created++
	}
	if x.loseAnswers > 0 {
		x.loseAnswers--
		return errors.New("bulk: connection reset after the request was sent")
	}
	return nil
}

// bulkSink is the destination: a sinks.Sink of its own, no Output, no
// objects, nothing to read back.
type bulkSink struct{ x *bulkIndex }

var _ sinks.Sink = (*bulkSink)(nil)

func (s *bulkSink) Name() string                    { return "bulk:audit" }
func (s *bulkSink) Probe(ctx context.Context) error { return ctx.Err() }
func (s *bulkSink) Archive() sinks.Archive          { return nil }
func (s *bulkSink) Open(ctx context.Context, w audit.Window) (sinks.Writer, error) {
	return s.OpenPart(ctx, w, 0)
}
func (s *bulkSink) OpenPart(ctx context.Context, _ audit.Window, _ int) (sinks.Writer, error) {
	return &bulkWriter{x: s.x}, ctx.Err()
}

// bulkWriter buffers a window's records; Commit sends them in one request.
type bulkWriter struct {
	x    *bulkIndex
	docs []audit.Record
	done bool
}

func (w *bulkWriter) Write(r *audit.Record) error {
	if w.done {
		return errors.New("write after commit or abort")
	}
	w.docs = append(w.docs, *r)
	return nil
}

func (w *bulkWriter) Commit(ctx context.Context, _ sinks.Source) error {
	if w.done {
		return errors.New("commit after commit or abort")
	}
	w.done = true
	if err := w.x.bulk(ctx, w.docs); err != nil {
		return fmt.Errorf("sink bulk:audit: %w", err)
	}
	return nil
}

func (w *bulkWriter) Records() int64 { return int64(len(w.docs)) }
func (w *bulkWriter) Abort() error   { w.done, w.docs = true, nil; return nil }

func TestRecordDestinationThroughTheRegistry(t *testing.T) {
	ctx := context.Background()
	const acct = "abc123xyz"
	// One clock for the API and the exporter: which windows are due does
	// not depend on when the test runs.
	now := time.Now().UTC()
	clock := func() time.Time { return now }
	sim := neosim.New(neosim.Options{Accounts: []string{acct}, ClientID: "c", ClientSecret: "s", Seed: 3, PageSize: 200, Now: clock})
	recs, _ := neosim.Generate(neosim.GenOptions{Account: acct, From: now.Add(-4 * time.Hour), To: now, PerHour: 300, Seed: 4})
	sim.Add(nil, recs...)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	start := now.Add(-3 * time.Hour).Truncate(30 * time.Minute)
	yaml := fmt.Sprintf(`source:
  api_url: %s
  account: %s
  client_id: c
  client_secret: s
  max_requests_per_second: 0
export:
  start: %s
  window: 30m
  lag: 15m
state:
  path: %s
sinks:
  - type: bulk
`, srv.URL, acct, start.Format(time.RFC3339), filepath.Join(t.TempDir(), "state"))

	index := &bulkIndex{docs: map[string]audit.Record{}, loseAnswers: 1}
	registry := config.Builtin()
	registry.Sinks["bulk"] = config.SinkType{Sink: func(context.Context, config.SinkConfig, config.SinkEnv) (sinks.Sink, error) {
		return &bulkSink{x: index}, nil
	}}

	if _, err := config.Parse([]byte(yaml), func(string) (string, bool) { return "", false }); err == nil {
		t.Fatal("a sink type outside the registry was accepted")
	}
	cfg, err := registry.Parse([]byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	run := func() error {
		ex, parts, err := cfg.Build(ctx, exporter.Options{Log: zerolog.Nop(), Version: "test", Now: clock}, io.Discard, true)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = parts.Close() }()
		_, err = ex.Run(ctx)
		return err
	}
	// The first window's answer is lost: the run stops, the watermark
	// stays, and the next run sends that window again.
	if err := run(); err == nil {
		t.Fatal("a run whose bulk answer was lost succeeded")
	}
	if err := run(); err != nil {
		t.Fatal(err)
	}
	due := now.Add(-15 * time.Minute).Truncate(30 * time.Minute)
	want := sim.Records(acct, start, due)
	if len(want) == 0 {
		t.Fatal("nothing to export: the test is broken")
	}
	if index.conflicts == 0 {
		t.Fatal("no window was sent again: the lost answer was not retried")
	}
	if index.created != len(want) || len(index.docs) != len(want) {
		t.Fatalf("%d documents created (%d stored), the source holds %d in %v-%v", index.created, len(index.docs), len(want), start, due)
	}
	for _, r := range want {
		if _, ok := index.docs[r.UUID]; !ok {
			t.Fatalf("record %s is not indexed", r.UUID)
		}
	}
	// Verify names the sink it cannot read back.
	ex, parts, err := cfg.Build(ctx, exporter.Options{Log: zerolog.Nop(), Version: "test", Now: clock}, io.Discard, false)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = parts.Close() }()
	res, err := ex.Verify(ctx, start, due, exporter.VerifyOptions{EvidenceOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.NotVerifiable) != 1 || res.NotVerifiable[0].Sink != "bulk:audit" || len(res.Windows) != 0 {
		t.Fatalf("verify of a record destination: %+v, %d window rows", res.NotVerifiable, len(res.Windows))
	}
}
