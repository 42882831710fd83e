package sinks

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/internal/s3err"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3Options configures an S3 destination.
type S3Options struct {
	Bucket       string
	Prefix       string // "neo-auditlog/"; a missing trailing slash is added
	SSE          string // "", "AES256" or "aws:kms"
	KMSKeyID     string
	StorageClass string
	// PartSize and Concurrency shape the multipart upload of a staged
	// object; parts are read from the staged file, so neither costs
	// memory. Defaults: 16 MiB, 4.
	PartSize    int64
	Concurrency int
	// StageDir holds the staged objects, unlinked ("" = the system's
	// temporary directory): each window in flight takes its object's size.
	StageDir string
	// StaleAfter overrides the package's StaleAfter (tests).
	StaleAfter time.Duration
	// MaxObjectSize overrides MaxS3ObjectSize (tests).
	MaxObjectSize int64
}

// MaxS3ObjectSize is the largest object one window can have: the limit of
// the server-side copy that publishes it (CopyObject, 5 GiB).
const MaxS3ObjectSize = 5 << 30

// Multipart upload defaults: 16 MiB parts (AWS's recommended 8-16 MiB;
// fewer requests than the 5 MiB minimum), four in flight.
const (
	DefaultS3PartSize    = 16 << 20
	DefaultS3Concurrency = 4
)

// S3Sink writes each window as one object. The encoded object is staged
// in an unlinked local file while the window is written (memory does not
// depend on the object's size or the upload's part size), uploaded at
// Commit from that file to a temporary key under "<prefix>_tmp/" (never
// read by Hive-style readers, which also skip its extension), then copied
// server-side to the window's deterministic key with its metadata (account,
// window, record count) and deleted. The final object appears at once,
// complete, or not at all. A failed or cancelled upload aborts its
// multipart upload; the first window a sink opens (and then one an hour)
// removes temporaries and uploads a killed run left behind once they are
// older than StaleAfter. Windows up to 5 GiB (the CopyObject limit) per object.
type S3Sink struct {
	client *s3.Client
	// up is feature/s3/manager's Uploader, deprecated in favour of
	// feature/s3/transfermanager, kept on purpose: it reads the parts of a
	// seekable io.ReaderAt body as sections of it, while transfermanager
	// (v0.5) copies every body into PartSize x (Concurrency + 1) pooled
	// buffers, which is the memory the staging file exists to avoid.
	up     *manager.Uploader
	o      S3Options
	format Format
	// cleanMu guards cleaned, when the temporary area was last cleaned.
	cleanMu sync.Mutex
	cleaned time.Time
	// Version is recorded in each window's manifest.
	Version string
}

var _ Sink = (*S3Sink)(nil)

// NewS3 returns an S3 sink writing format with client.
func NewS3(client *s3.Client, o S3Options, format Format) *S3Sink {
	if o.Prefix != "" && !strings.HasSuffix(o.Prefix, "/") {
		o.Prefix += "/"
	}
	if o.PartSize <= 0 {
		o.PartSize = DefaultS3PartSize
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultS3Concurrency
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = StaleAfter
	}
	if o.MaxObjectSize <= 0 {
		o.MaxObjectSize = MaxS3ObjectSize
	}
	up := manager.NewUploader(client, func(u *manager.Uploader) {
		u.PartSize = o.PartSize
		u.Concurrency = o.Concurrency
		u.LeavePartsOnError = false
	})
	return &S3Sink{client: client, up: up, o: o, format: format}
}

// Name implements Sink.
func (s *S3Sink) Name() string { return "s3://" + s.o.Bucket + "/" + s.o.Prefix + " " + s.format.Ext() }

// Key returns the object key of window w.
func (s *S3Sink) Key(w audit.Window) string { return s.o.Prefix + ObjectName(w, s.format.Ext()) }

// tmpPrefix is where the temporaries of window w live: flat under _tmp/
// (the object's base name already holds account and window), so that
// S3-compatible servers on a POSIX file system, which create and remove
// directories for key prefixes, have one shared directory to race on
// instead of one per account and day.
func (s *S3Sink) tmpPrefix(w audit.Window) string {
	return s.o.Prefix + "_tmp/" + path.Base(ObjectName(w, s.format.Ext())) + "."
}

// Object metadata (x-amz-meta-*) of every committed object.
const (
	S3MetaAccount     = "account"
	S3MetaWindowStart = "window-start"
	S3MetaWindowEnd   = "window-end"
	S3MetaRecords     = "records"
	S3MetaFormat      = "format"
)

// Open implements Sink.
func (s *S3Sink) Open(ctx context.Context, w audit.Window) (Writer, error) {
	if err := s.cleanupIfDue(ctx); err != nil {
		return nil, err
	}
	f, err := stageFile(s.o.StageDir)
	if err != nil {
		return nil, fmt.Errorf("sink %s: %w", s.Name(), err)
	}
	wr := &s3Writer{sink: s, win: w, f: f, tmp: s.tmpPrefix(w) + randSuffix(), dg: newDigest(), source: Source{Count: -1}}
	wr.bw = bufio.NewWriterSize(io.MultiWriter(f, wr.dg), 256<<10)
	wr.encWriter = encWriter{ctx: ctx, wrapErr: func(err error) error {
		return fmt.Errorf("sink %s: stage: %w", s.Name(), err)
	}}
	enc, err := s.format.NewEncoder(wr.bw, w)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("sink %s: %w", s.Name(), err)
	}
	wr.enc = enc
	return wr, nil
}

func (s *S3Sink) applySSE(sse *types.ServerSideEncryption, kms **string) {
	if s.o.SSE != "" {
		*sse = types.ServerSideEncryption(s.o.SSE)
	}
	if s.o.KMSKeyID != "" {
		*kms = aws.String(s.o.KMSKeyID)
	}
}

// StaleAfter is the age after which a temporary object or multipart upload
// is taken for a killed run's leftover and removed. Younger ones may belong
// to a run exporting the same window right now (a backfill overlapping the
// schedule); a bucket lifecycle rule that aborts incomplete multipart
// uploads after a day cleans up whatever a crash leaves and no later run
// removes.
const StaleAfter = time.Hour

// cleanupIfDue cleans the temporary area when it was not cleaned within
// StaleAfter: once when a run opens its first window (a leftover is a
// killed process's, so it appears between runs), then at most once per
// StaleAfter in a long-running process, instead of listing for every window.
func (s *S3Sink) cleanupIfDue(ctx context.Context) error {
	s.cleanMu.Lock()
	defer s.cleanMu.Unlock()
	if !s.cleaned.IsZero() && time.Since(s.cleaned) < s.o.StaleAfter {
		return nil
	}
	if err := s.cleanup(ctx); err != nil {
		return err
	}
	s.cleaned = time.Now()
	return nil
}

// cleanup aborts the multipart uploads and removes the temporary objects
// under "<prefix>_tmp/" that are older than StaleAfter.
func (s *S3Sink) cleanup(ctx context.Context) error {
	prefix := aws.String(s.o.Prefix + "_tmp/")
	bucket := aws.String(s.o.Bucket)
	cutoff := time.Now().Add(-s.o.StaleAfter)
	ups := s3.NewListMultipartUploadsPaginator(s.client, &s3.ListMultipartUploadsInput{Bucket: bucket, Prefix: prefix})
	for ups.HasMorePages() {
		page, err := ups.NextPage(ctx)
		if err != nil {
			return s.classify("list multipart uploads", err)
		}
		for _, u := range page.Uploads {
			if u.Initiated == nil || u.Initiated.After(cutoff) {
				continue
			}
			if _, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: bucket, Key: u.Key, UploadId: u.UploadId}); err != nil && !isCode(err, "NoSuchUpload") {
				return s.classify("abort a stale multipart upload", err)
			}
		}
	}
	objs := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: bucket, Prefix: prefix})
	for objs.HasMorePages() {
		page, err := objs.NextPage(ctx)
		if err != nil {
			return s.classify("list temporary objects", err)
		}
		for _, o := range page.Contents {
			if o.LastModified == nil || o.LastModified.After(cutoff) {
				continue
			}
			if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bucket, Key: o.Key}); err != nil && !isCode(err, "NoSuchKey") {
				return s.classify("delete a stale temporary object", err)
			}
		}
	}
	return nil
}

// classify wraps an SDK error with the operation and a class: a missing
// bucket or refused access will not go away by retrying.
func (s *S3Sink) classify(op string, err error) error {
	return s3err.Classify(fmt.Sprintf("sink %s: %s", s.Name(), op), s.o.Bucket, "bucket, region and endpoint", err)
}

func isCode(err error, code string) bool { return s3err.Code(err) == code }

type s3Writer struct {
	encWriter
	sink     *S3Sink
	win      audit.Window
	f        *os.File // the staged object, unlinked
	bw       *bufio.Writer
	tmp      string
	uploaded bool // the temporary object exists
	dg       *digest
	// source is what the API said of the window, for the manifest.
	source Source
}

// SetSource implements SourceCounter.
func (w *s3Writer) SetSource(src Source) { w.source = src }

func (w *s3Writer) Commit(ctx context.Context) error {
	if w.closed {
		return errors.New("commit after commit or abort")
	}
	fail := func(err error) error {
		_ = w.Abort()
		return err
	}
	if w.err != nil {
		return fail(w.err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if err := w.enc.Close(); err != nil {
		return fail(fmt.Errorf("sink %s: finish encoding: %w", w.sink.Name(), err))
	}
	if err := w.bw.Flush(); err != nil {
		return fail(fmt.Errorf("sink %s: stage: %w", w.sink.Name(), err))
	}
	s := w.sink
	if w.dg.n > s.o.MaxObjectSize {
		// Known before uploading anything: the copy would refuse it, every
		// time, so retrying cannot help.
		return fail(errclass.Mark(errclass.Config, fmt.Errorf("sink %s: window %s encodes to %d bytes, more than the %d bytes one S3 object of this exporter can hold (the server-side copy's limit); choose a smaller export.window",
			s.Name(), w.win, w.dg.n, s.o.MaxObjectSize)))
	}
	if _, err := w.f.Seek(0, io.SeekStart); err != nil {
		return fail(fmt.Errorf("sink %s: stage: %w", w.sink.Name(), err))
	}
	up := &s3.PutObjectInput{Bucket: aws.String(s.o.Bucket), Key: aws.String(w.tmp), ContentType: aws.String(s.format.ContentType())}
	s.applySSE(&up.ServerSideEncryption, &up.SSEKMSKeyId)
	up.Body = ctxFile{ctx: ctx, f: w.f}
	w.uploaded = true // from here on, Abort removes it
	// The uploader's context outlives ctx so that it can still abort its
	// multipart upload; ctx stops the upload through the body.
	if _, err := s.up.Upload(context.WithoutCancel(ctx), up); err != nil {
		return fail(s.classify("upload "+w.tmp, err))
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	in := &s3.CopyObjectInput{
		Bucket:            aws.String(s.o.Bucket),
		Key:               aws.String(s.Key(w.win)),
		CopySource:        aws.String(copySource(s.o.Bucket, w.tmp)),
		MetadataDirective: types.MetadataDirectiveReplace,
		ContentType:       aws.String(s.format.ContentType()),
		Metadata: map[string]string{
			S3MetaAccount:     w.win.Account,
			S3MetaWindowStart: w.win.Start.UTC().Format(time.RFC3339),
			S3MetaWindowEnd:   w.win.End.UTC().Format(time.RFC3339),
			S3MetaRecords:     strconv.FormatInt(w.n, 10),
			S3MetaFormat:      s.format.Ext(),
		},
	}
	s.applySSE(&in.ServerSideEncryption, &in.SSEKMSKeyId)
	if s.o.StorageClass != "" {
		in.StorageClass = types.StorageClass(s.o.StorageClass)
	}
	if _, err := s.client.CopyObject(ctx, in); err != nil {
		return fail(s.classify("copy into "+s.Key(w.win), err))
	}
	w.closed = true
	w.f.Close()
	ctx = context.WithoutCancel(ctx)
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.o.Bucket), Key: aws.String(w.tmp)}); err != nil {
		return s.classify("delete temporary "+w.tmp, err)
	}
	m, err := manifestFor(w.win, s.format, w.n, w.source, w.dg, s.Version)
	if err != nil {
		return err
	}
	mi := &s3.PutObjectInput{Bucket: aws.String(s.o.Bucket), Key: aws.String(s.manifestKey(w.win)), Body: bytes.NewReader(m), ContentType: aws.String("application/json")}
	s.applySSE(&mi.ServerSideEncryption, &mi.SSEKMSKeyId)
	if _, err := s.client.PutObject(ctx, mi); err != nil {
		return s.classify("write manifest "+s.manifestKey(w.win), err)
	}
	return nil
}

func (s *S3Sink) manifestKey(w audit.Window) string {
	return s.o.Prefix + ManifestName(w, s.format.Ext())
}

// ReadManifest implements Verifier.
func (s *S3Sink) ReadManifest(ctx context.Context, w audit.Window) (Manifest, bool, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.o.Bucket), Key: aws.String(s.manifestKey(w))})
	if err != nil {
		if isCode(err, "NoSuchKey") {
			return Manifest{}, false, nil
		}
		return Manifest{}, false, s.classify("read manifest", err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, 1<<20))
	if err != nil {
		return Manifest{}, false, err
	}
	m, err := DecodeManifest(b, w, s.format.Ext())
	return m, err == nil, err
}

// Checksum implements Verifier: it reads the whole object.
func (s *S3Sink) Checksum(ctx context.Context, w audit.Window) (string, int64, bool, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.o.Bucket), Key: aws.String(s.Key(w))})
	if err != nil {
		if isCode(err, "NoSuchKey") {
			return "", 0, false, nil
		}
		return "", 0, false, s.classify("read "+s.Key(w), err)
	}
	defer out.Body.Close()
	sum, n, err := checksumOf(out.Body)
	return sum, n, err == nil, err
}

func (w *s3Writer) Abort() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.f.Close()
	if w.uploaded {
		_, err := w.sink.client.DeleteObject(context.WithoutCancel(w.ctx), &s3.DeleteObjectInput{Bucket: aws.String(w.sink.o.Bucket), Key: aws.String(w.tmp)})
		if err != nil && !isCode(err, "NoSuchKey") {
			return w.sink.classify("delete temporary "+w.tmp, err)
		}
	}
	return nil
}

// copySource renders bucket/key URL-encoded segment by segment.
func copySource(bucket, key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return bucket + "/" + strings.Join(segs, "/")
}

// Probe proves the permissions an export needs: it lists the temporary
// area and its multipart uploads, writes a small object there and deletes
// it; and that a staging file can be created.
func (s *S3Sink) Probe(ctx context.Context) error {
	f, err := stageFile(s.o.StageDir)
	if err != nil {
		return errclass.Mark(errclass.Config, fmt.Errorf("sink %s: %w", s.Name(), err))
	}
	f.Close()
	bucket := aws.String(s.o.Bucket)
	prefix := s.o.Prefix + "_tmp/"
	if _, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bucket, Prefix: aws.String(prefix), MaxKeys: aws.Int32(1)}); err != nil {
		return s.classify("list (s3:ListBucket)", err)
	}
	if _, err := s.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: bucket, Prefix: aws.String(prefix)}); err != nil {
		return s.classify("list multipart uploads (s3:ListBucketMultipartUploads)", err)
	}
	key := aws.String(prefix + "auditlog-exporter-check-" + randSuffix())
	in := &s3.PutObjectInput{Bucket: bucket, Key: key, Body: strings.NewReader("probe\n")}
	s.applySSE(&in.ServerSideEncryption, &in.SSEKMSKeyId)
	if _, err := s.client.PutObject(ctx, in); err != nil {
		return s.classify("write (s3:PutObject)", err)
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bucket, Key: key}); err != nil {
		return s.classify("delete (s3:DeleteObject)", err)
	}
	return nil
}
