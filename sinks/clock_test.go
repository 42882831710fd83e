package sinks_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/internal/s3test"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/file"
	s3dest "github.com/auditlog-exporter/auditlog-exporter/sinks/s3"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/sinktest"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The times an Output records come from its clock, in UTC: a manifest's
// exported_at, a seal's sealed_at, and the exported_at of a manifest
// rewritten for an object published without one.
func TestOutputClock(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2031, 5, 6, 9, 8, 7, 5e8, time.FixedZone("CEST", 2*3600))
	s := file.NewSink(t.TempDir(), sinks.JSONL{})
	s.Now = func() time.Time { return at }
	day := sinktest.Day("acct", 0)
	for i, w := range day {
		wr := sinktest.Write(t, s, w, sinktest.Records(w, 2, fmt.Sprint(i)))
		if err := wr.Commit(ctx, sinks.Source{Count: 2, Completeness: "counted"}); err != nil {
			t.Fatal(err)
		}
	}
	m, found, err := s.Archive().ReadManifest(ctx, day[0])
	if err != nil || !found {
		t.Fatalf("manifest: %v %v", found, err)
	}
	if !m.ExportedAt.Equal(at) || m.ExportedAt.Location() != time.UTC {
		t.Fatalf("exported_at %v, want %v in UTC", m.ExportedAt, at.UTC())
	}
	out, err := s.Archive().Seal(ctx, day, "run")
	if err != nil || out.Written != 1 {
		t.Fatalf("seal: %+v %v", out, err)
	}
	if !out.Seal.SealedAt.Equal(at) || out.Seal.SealedAt.Location() != time.UTC {
		t.Fatalf("sealed_at %v, want %v in UTC", out.Seal.SealedAt, at.UTC())
	}
}

// An S3 destination starts Object Lock retentions from its clock: a clock
// a day ahead puts the retention's end a day later.
func TestS3ObjectLockFromClock(t *testing.T) {
	ctx := context.Background()
	srv := s3test.StartVersioned(t)
	bucket := srv.NewLockedBucket(t)
	ahead := time.Now().Add(24 * time.Hour)
	s := s3dest.NewSink(srv.Client(), s3dest.Options{Bucket: bucket, Prefix: "p", LockMode: s3dest.LockGovernance, LockRetention: time.Hour,
		Now: func() time.Time { return ahead }}, sinks.JSONL{})
	w := sinktest.Window("acct", 0)
	wr := sinktest.Write(t, s, w, sinktest.Records(w, 1, "lock"))
	if err := wr.Commit(ctx, sinks.Source{Count: 1, Completeness: "counted"}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"p/" + sinks.ObjectName(w, "jsonl"), "p/" + sinks.ManifestName(w, "jsonl")} {
		head, err := srv.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		// S3 keeps whole seconds.
		if until := aws.ToTime(head.ObjectLockRetainUntilDate); until.Sub(ahead.Add(time.Hour)).Abs() > time.Second {
			t.Fatalf("%s: retained until %v, want %v (the clock's now + 1h)", key, until, ahead.Add(time.Hour).UTC())
		}
	}
}
