package s3_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/auditlog-exporter/auditlog-exporter/schema/ocsf"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/internal/s3test"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	s3dest "github.com/auditlog-exporter/auditlog-exporter/sinks/s3"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/sinktest"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func s3Harness(srv *s3test.Server, format sinks.Format) sinktest.Harness {
	return s3HarnessWith(srv, format, srv.NewBucket, s3dest.Options{})
}

// s3HarnessWith makes each sink in a bucket newBucket creates, with o.
func s3HarnessWith(srv *s3test.Server, format sinks.Format, newBucket func(testing.TB) string, o s3dest.Options) sinktest.Harness {
	buckets := map[sinks.Sink]string{}
	h := sinktest.Harness{
		New: func(t *testing.T) sinks.Sink {
			b := newBucket(t)
			o := o
			o.Bucket, o.Prefix = b, "neo-auditlog"
			s := s3dest.NewSink(srv.Client(), o, format)
			buckets[s] = b
			return s
		},
		Read: func(t *testing.T, s sinks.Sink, w audit.Window) ([]audit.Record, bool) {
			out, err := srv.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(buckets[s]), Key: aws.String(s3Key(s, w))})
			if err != nil {
				if strings.Contains(err.Error(), "NoSuchKey") {
					return nil, false
				}
				t.Fatal(err)
			}
			b, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			var recs []audit.Record
			if err := sinks.ReadObject(format.Ext(), bytes.NewReader(b), int64(len(b)), func(r audit.Record) error { recs = append(recs, r); return nil }); err != nil {
				t.Fatal(err)
			}
			return recs, true
		},
		List: func(t *testing.T, s sinks.Sink) []string {
			b := buckets[s]
			return append(srv.Keys(t, b, ""), srv.MultipartUploads(t, b)...)
		},
		Keeper: func(s sinks.Sink) sinks.Keeper { return s.(*sinks.Output).Keeper() },
		DropManifest: func(t *testing.T, s sinks.Sink, name string) {
			key := s.(*sinks.Output).Destination().(*s3dest.Dest).Key(name)
			if _, err := srv.Client().DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(buckets[s]), Key: aws.String(key)}); err != nil {
				t.Fatal(err)
			}
		},
	}
	if o.LockMode != "" {
		h.DropManifest = nil // a locked manifest's versions cannot be deleted
	}
	return h
}

func TestS3Sink(t *testing.T) {
	srv := s3test.Start(t)
	for _, f := range []sinks.Format{sinks.Parquet{Version: "test", RowGroupRows: 1000}, sinks.JSONL{}, sinks.JSONL{Gzip: true},
		sinks.Parquet{Version: "test", RowGroupRows: 1000, Schema: ocsf.Schema}, sinks.JSONL{Schema: ocsf.Schema}} {
		t.Run(f.Ext(), func(t *testing.T) { sinktest.Run(t, s3Harness(srv, f)) })
	}
}

func TestS3ObjectMetadataAndMultipart(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	client := srv.Client()
	// Parts of the minimum size, so a window of ~20 MB is a real multipart upload.
	s := s3dest.NewSink(client, s3dest.Options{Bucket: bucket, Prefix: "p/", PartSize: 5 << 20, Concurrency: 2}, sinks.JSONL{})
	w := sinktest.Window("acct", 0)
	recs := sinktest.Records(w, 120_000, "big")
	wr := sinktest.Write(t, s, w, recs)
	if err := wr.Commit(context.Background(), sinks.Source{Count: -1}); err != nil {
		t.Fatal(err)
	}
	head, err := client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(s3Key(s, w))})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"account": "acct", "window-start": "2026-11-24T10:00:00Z", "window-end": "2026-11-24T11:00:00Z", "records": "120000", "format": "jsonl"}
	for k, v := range want {
		if head.Metadata[k] != v {
			t.Errorf("metadata %s = %q, want %q (all: %v)", k, head.Metadata[k], v, head.Metadata)
		}
	}
	if aws.ToInt64(head.ContentLength) < 15<<20 || aws.ToString(head.ContentType) != "application/x-ndjson" {
		t.Fatalf("object %d bytes, %s", aws.ToInt64(head.ContentLength), aws.ToString(head.ContentType))
	}
	if keys := srv.Keys(t, bucket, "p/account="); len(keys) != 1 || keys[0] != "p/account=acct/date=2026-11-24/acct_20261124T100000Z_20261124T110000Z.jsonl" {
		t.Fatalf("keys %v", keys)
	}
}

// partCounter counts the UploadPart requests that succeeded and calls
// after once the first one has.
type partCounter struct {
	parts atomic.Int32
	puts  atomic.Int32 // every PUT (objects and parts)
	after func()
}

func (p *partCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut {
		p.puts.Add(1)
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && r.Method == http.MethodPut && r.URL.Query().Has("partNumber") && resp.StatusCode == http.StatusOK {
		if p.parts.Add(1) == 1 && p.after != nil {
			p.after()
		}
	}
	return resp, err
}

// A window is staged in an unlinked file (nothing named in the staging
// directory) and uploaded at Commit; cancelling the context after the
// first part was uploaded fails the Commit and leaves no object and no
// pending multipart upload.
func TestS3CancelMidUpload(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pc := &partCounter{after: cancel}
	client := s3.New(srv.Client().Options(), func(o *s3.Options) { o.HTTPClient = &http.Client{Transport: pc} })
	stage := t.TempDir()
	s := s3dest.NewSink(client, s3dest.Options{Bucket: bucket, PartSize: 5 << 20, Concurrency: 1, StageDir: stage}, sinks.JSONL{})
	w := sinktest.Window("acct", 0)
	recs := sinktest.Records(w, 60_000, "ab")
	wr, err := s.Open(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		if err := wr.Write(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if names, _ := os.ReadDir(stage); len(names) != 0 {
		t.Fatalf("staging directory holds %v", names)
	}
	err = wr.Commit(ctx, sinks.Source{Count: -1})
	if err == nil {
		t.Fatal("commit succeeded after cancel")
	}
	if n := pc.parts.Load(); n == 0 {
		t.Fatalf("no part uploaded before the cancel (%v)", err)
	}
	if keys, ups := srv.Keys(t, bucket, ""), srv.MultipartUploads(t, bucket); len(keys)+len(ups) != 0 {
		t.Fatalf("after cancel: objects %v, uploads %v", keys, ups)
	}
}

// Aborting before Commit uploads nothing at all.
func TestS3AbortUploadsNothing(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	pc := &partCounter{}
	client := s3.New(srv.Client().Options(), func(o *s3.Options) { o.HTTPClient = &http.Client{Transport: pc} })
	s := s3dest.NewSink(client, s3dest.Options{Bucket: bucket, PartSize: 5 << 20}, sinks.JSONL{})
	w := sinktest.Window("acct", 0)
	recs := sinktest.Records(w, 30_000, "ab")
	wr := sinktest.Write(t, s, w, recs)
	if err := wr.Abort(); err != nil {
		t.Fatal(err)
	}
	if keys, ups := srv.Keys(t, bucket, ""), srv.MultipartUploads(t, bucket); len(keys)+len(ups)+int(pc.parts.Load()) != 0 {
		t.Fatalf("after abort: objects %v, uploads %v, parts %d", keys, ups, pc.parts.Load())
	}
}

func TestS3MissingBucketIsConfigError(t *testing.T) {
	srv := s3test.Start(t)
	s := s3dest.NewSink(srv.Client(), s3dest.Options{Bucket: "does-not-exist"}, sinks.JSONL{})
	_, err := s.Open(context.Background(), sinktest.Window("acct", 0))
	if errclass.Classify(err) != errclass.Config || !strings.Contains(err.Error(), `bucket "does-not-exist" does not exist`) {
		t.Fatalf("got %v (%v)", err, errclass.Classify(err))
	}
}

func TestS3ConcurrentWritersSameWindow(t *testing.T) {
	srv := s3test.Start(t)
	h := s3Harness(srv, sinks.Parquet{Version: "t"})
	sinktest.ConcurrentSameWindow(t, h.New(t), h.Read)
}

// listCounter counts the LIST requests (objects and multipart uploads).
type listCounter struct{ lists atomic.Int32 }

func (l *listCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	q := r.URL.Query()
	if r.Method == http.MethodGet && (q.Has("list-type") || q.Has("uploads")) {
		l.lists.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// Leftovers of a killed run under _tmp/ (a temporary object, an incomplete
// multipart upload) are removed once older than StaleAfter, and only then;
// the temporary area is listed once, not for every window opened.
func TestS3CleansStaleLeftovers(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	ctx := context.Background()
	c := srv.Client()
	leftover := "p/_tmp/acct_20261124T090000Z_20261124T100000Z.jsonl.0123456789ab"
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(leftover), Body: strings.NewReader("partial")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(leftover + "x")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("p/_tmpx/keep"), Body: strings.NewReader("not ours")}); err != nil {
		t.Fatal(err)
	}
	lc := &listCounter{}
	counted := s3.New(c.Options(), func(o *s3.Options) { o.HTTPClient = &http.Client{Transport: lc} })
	open := func(s *sinks.Output, i int) {
		t.Helper()
		wr, err := s.Open(ctx, sinktest.Window("acct", i))
		if err != nil {
			t.Fatal(err)
		}
		if err := wr.Abort(); err != nil {
			t.Fatal(err)
		}
	}
	young := s3dest.NewSink(counted, s3dest.Options{Bucket: bucket, Prefix: "p/"}, sinks.JSONL{})
	for i := range 5 {
		open(young, i)
	}
	if n := lc.lists.Load(); n != 2 {
		t.Fatalf("5 windows opened: %d LIST requests, want 2 (one cleanup)", n)
	}
	if keys, ups := srv.Keys(t, bucket, "p/_tmp/"), srv.MultipartUploads(t, bucket); len(keys) != 1 || len(ups) != 1 {
		t.Fatalf("young leftovers removed: objects %v, uploads %v", keys, ups)
	}
	// A destination whose clock is past StaleAfter finds them stale.
	later := func() time.Time { return time.Now().Add(s3dest.StaleAfter + time.Minute) }
	open(s3dest.NewSink(c, s3dest.Options{Bucket: bucket, Prefix: "p/", Now: later}, sinks.JSONL{}), 0)
	if keys, ups := srv.Keys(t, bucket, "p/"), srv.MultipartUploads(t, bucket); len(keys) != 1 || keys[0] != "p/_tmpx/keep" || len(ups) != 0 {
		t.Fatalf("after cleanup: objects %v, uploads %v", keys, ups)
	}
}

// A window whose object would exceed what the publishing copy allows fails
// at Commit, before anything is uploaded, as a configuration error.
func TestS3ObjectTooLarge(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	pc := &partCounter{}
	client := s3.New(srv.Client().Options(), func(o *s3.Options) { o.HTTPClient = &http.Client{Transport: pc} })
	s := s3dest.NewSink(client, s3dest.Options{Bucket: bucket, MaxObjectSize: 10_000}, sinks.JSONL{})
	w := sinktest.Window("acct", 0)
	recs := sinktest.Records(w, 100, "big")
	wr := sinktest.Write(t, s, w, recs)
	err := wr.Commit(context.Background(), sinks.Source{Count: -1})
	if errclass.Classify(err) != errclass.Config || !strings.Contains(err.Error(), "choose a smaller export.window") {
		t.Fatalf("got %v (%v)", err, errclass.Classify(err))
	}
	if keys, ups := srv.Keys(t, bucket, ""), srv.MultipartUploads(t, bucket); len(keys)+len(ups)+int(pc.puts.Load()) != 0 {
		t.Fatalf("objects %v, uploads %v, PUT requests %d", keys, ups, pc.puts.Load())
	}
	// The same window below the limit commits.
	s = s3dest.NewSink(client, s3dest.Options{Bucket: bucket, MaxObjectSize: 1 << 20}, sinks.JSONL{})
	wr = sinktest.Write(t, s, w, recs)
	if err := wr.Commit(context.Background(), sinks.Source{Count: -1}); err != nil {
		t.Fatal(err)
	}
}

// s3Key is the key an S3 sink publishes window w under.
func s3Key(s sinks.Sink, w audit.Window) string {
	o := s.(*sinks.Output)
	return o.Destination().(*s3dest.Dest).Key(o.ObjectName(w))
}

// TestS3SinkObjectLock runs the conformance suite on a versioned bucket
// with Object Lock enabled, every object under COMPLIANCE retention.
func TestS3SinkObjectLock(t *testing.T) {
	srv := s3test.StartVersioned(t)
	sinktest.Run(t, s3HarnessWith(srv, sinks.JSONL{}, srv.NewLockedBucket, s3dest.Options{LockMode: s3dest.LockCompliance, LockRetention: 24 * time.Hour}))
}

// TestS3ObjectLockHolds: under COMPLIANCE retention a committed object,
// its manifest and its day's seal cannot be deleted or overwritten in
// place; the temporaries carry no retention and leave no version behind;
// an overwrite becomes a new version, which Inspect shows is not the
// committed one.
func TestS3ObjectLockHolds(t *testing.T) {
	ctx := context.Background()
	srv := s3test.StartVersioned(t)
	c := srv.Client()
	bucket := srv.NewLockedBucket(t)
	dest := s3dest.New(c, s3dest.Options{Bucket: bucket, Prefix: "p", LockMode: s3dest.LockCompliance, LockRetention: 48 * time.Hour})
	s := sinks.New(dest, sinks.JSONL{})
	if err := s.Probe(ctx); err != nil {
		t.Fatalf("Probe on a locked bucket: %v", err)
	}
	day := sinktest.Day("acct", 0)
	for i, w := range day {
		wr := sinktest.Write(t, s, w, sinktest.Records(w, 3, fmt.Sprint(i)))
		if err := wr.Commit(ctx, sinks.Source{Count: 3, Completeness: "counted"}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := s.Archive().Seal(ctx, day, "run")
	if err != nil || out.Written != 1 {
		t.Fatalf("seal: %+v %v", out, err)
	}
	w := day[3]
	m, _, err := s.Archive().ReadManifest(ctx, w)
	if err != nil || m.ObjectVersion == "" {
		t.Fatalf("manifest %+v, %v: want the object's version recorded", m, err)
	}
	for _, key := range []string{"p/" + sinks.ObjectName(w, "jsonl"), "p/" + sinks.ManifestName(w, "jsonl"), "p/" + out.Seal.Name} {
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		if head.ObjectLockMode != "COMPLIANCE" || aws.ToTime(head.ObjectLockRetainUntilDate).Before(time.Now().Add(47*time.Hour)) {
			t.Fatalf("%s: lock %q until %v, want COMPLIANCE for 48h", key, head.ObjectLockMode, head.ObjectLockRetainUntilDate)
		}
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: head.VersionId}); err == nil {
			t.Fatalf("%s: a version under COMPLIANCE retention was deleted", key)
		}
		if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: head.VersionId}); err != nil {
			t.Fatalf("%s: the locked version is gone: %v", key, err)
		}
	}
	// Nothing is left under _tmp/, not even an old version.
	vers, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String("p/_tmp/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(vers.Versions)+len(vers.DeleteMarkers) != 0 {
		t.Fatalf("temporaries left %d versions and %d delete markers", len(vers.Versions), len(vers.DeleteMarkers))
	}
	// An overwrite is a new version on top; the committed one stays.
	key := "p/" + sinks.ObjectName(w, "jsonl")
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("forged\n")}); err != nil {
		t.Fatal(err)
	}
	info, err := s.Archive().Inspect(ctx, m.Object)
	if err != nil || info.Version == "" || info.Version == m.ObjectVersion {
		t.Fatalf("after an overwrite: %+v, %v; want a version other than the committed %s", info, err, m.ObjectVersion)
	}
	got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: aws.String(m.ObjectVersion)})
	if err != nil {
		t.Fatalf("the committed version: %v", err)
	}
	got.Body.Close()
}

func TestS3ObjectLockNeedsALockedBucket(t *testing.T) {
	srv := s3test.StartVersioned(t)
	s := s3dest.NewSink(srv.Client(), s3dest.Options{Bucket: srv.NewBucket(t), LockMode: s3dest.LockGovernance, LockRetention: time.Hour}, sinks.JSONL{})
	err := s.Probe(context.Background())
	if err == nil || errclass.Classify(err) != errclass.Config || !strings.Contains(err.Error(), "Object Lock") {
		t.Fatalf("Probe with object_lock on a bucket without it: %v (class %v); want a configuration error naming Object Lock", err, errclass.Classify(err))
	}
}

// lostCopyAnswer performs the first CopyObject and loses its answer, as a
// connection that breaks after the server did the copy.
type lostCopyAnswer struct{ lost atomic.Bool }

func (l *lostCopyAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && r.Header.Get("X-Amz-Copy-Source") != "" && l.lost.CompareAndSwap(false, true) {
		resp.Body.Close()
		return nil, errors.New("connection reset after the copy")
	}
	return resp, err
}

// A publishing copy whose answer is lost is not copied again (a second
// version of the key, which consumers would ingest again, whole): the
// commit fails, the object stands once, and the retry of the window finds
// it without its manifest and adopts it.
func TestS3LostCopyAnswerIsNotCopiedAgain(t *testing.T) {
	srv := s3test.StartVersioned(t)
	bucket := srv.NewBucket(t)
	ctx := context.Background()
	if _, err := srv.Client().PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	lc := &lostCopyAnswer{}
	client := s3.New(srv.Client().Options(), func(o *s3.Options) { o.HTTPClient = &http.Client{Transport: lc} })
	s := s3dest.NewSink(client, s3dest.Options{Bucket: bucket, Prefix: "p/"}, sinks.JSONL{})
	w := sinktest.Window("acct", 0)
	wr := sinktest.Write(t, s, w, sinktest.Records(w, 40, "lost"))
	if err := wr.Commit(ctx, sinks.Source{Count: 40, Completeness: "counted"}); err == nil || !lc.lost.Load() {
		t.Fatalf("commit: %v (answer lost: %v); want the lost answer reported", err, lc.lost.Load())
	}
	key := s3Key(s, w)
	vs, err := srv.Client().ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(key)})
	if err != nil || len(vs.Versions) != 1 {
		t.Fatalf("%s: %d versions (%v); want the one copy", key, len(vs.Versions), err)
	}
	parts, orphan, err := s.Archive().ReadParts(ctx, w)
	if err != nil || len(parts) != 0 || orphan == "" {
		t.Fatalf("parts %+v, orphan %q, %v; want the object found without its manifest", parts, orphan, err)
	}
	if m, err := s.Archive().Adopt(ctx, w, 0, sinks.NewHeld()); err != nil || m.Records != 40 {
		t.Fatalf("adopt: %+v, %v", m, err)
	}
}

// A committed S3 object carries the SHA-256 of its whole bytes, kept by
// S3: Inspect returns it, equal to the manifest's, with the size.
func TestS3KeepsTheObjectsSHA256(t *testing.T) {
	srv := s3test.Start(t)
	s := s3dest.NewSink(srv.Client(), s3dest.Options{Bucket: srv.NewBucket(t), Prefix: "p/"}, sinks.Parquet{})
	w := sinktest.Window("acct", 2)
	ctx := context.Background()
	if err := sinktest.Write(t, s, w, sinktest.Records(w, 300, "sum")).Commit(ctx, sinks.Source{Count: 300, Completeness: "counted"}); err != nil {
		t.Fatal(err)
	}
	m, found, err := s.Archive().ReadManifest(ctx, w)
	if err != nil || !found {
		t.Fatalf("manifest: %v %v", found, err)
	}
	info, err := s.Archive().Inspect(ctx, m.Object)
	if err != nil || info.SHA256 == "" || info.SHA256 != m.SHA256 || info.Size != m.Bytes {
		t.Fatalf("inspect %s: %+v, %v; want the manifest's SHA-256 %s and size %d", m.Object, info, err, m.SHA256, m.Bytes)
	}
}
