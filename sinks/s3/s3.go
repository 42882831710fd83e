// Package s3 is the destination that publishes objects to an S3 bucket.
// It keeps what it publishes (sinks.Keeper), says more of an object than
// its bytes (sinks.Inspector: versions, Object Lock, S3's checksum) and
// gives each published object a version (sinks.Versioned).
package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/internal/atomicfile"
	"github.com/auditlog-exporter/auditlog-exporter/internal/s3client"
	"github.com/auditlog-exporter/auditlog-exporter/internal/s3err"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/internal/stage"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	s3api "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Options configures an S3 destination.
type Options struct {
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
	// MaxObjectSize overrides MaxObjectSize, for the reason
	// MaxObjectSizeWhy gives (Security Lake's 256 MB; tests).
	MaxObjectSize    int64
	MaxObjectSizeWhy string
	// LockMode ("GOVERNANCE" or "COMPLIANCE") and LockRetention put an
	// S3 Object Lock retention on every data object, manifest and seal
	// (never on temporaries). The bucket must be versioned with Object
	// Lock enabled.
	LockMode      string
	LockRetention time.Duration
	// Now is the clock that ages temporaries and uploads for cleanup and
	// starts Object Lock retentions; nil: time.Now. The exporter's clock,
	// so that tests can fix time.
	Now func() time.Time
}

// Object Lock retention modes.
const (
	LockGovernance = "GOVERNANCE"
	LockCompliance = "COMPLIANCE"
)

// MaxObjectSize is the largest object one window can have: the limit of
// the server-side copy that publishes it (CopyObject, 5 GiB).
const MaxObjectSize = 5 << 30

// Multipart upload defaults: 16 MiB parts (AWS's recommended 8-16 MiB;
// fewer requests than the 5 MiB minimum), four in flight.
const (
	DefaultPartSize    = 16 << 20
	DefaultConcurrency = 4
)

// Dest publishes each window as one object. The encoded object is
// staged in an unlinked local file while the window is written (memory
// does not depend on the object's size or the upload's part size),
// uploaded at Publish from that file to a temporary key under
// "<prefix>_tmp/" (never read by Hive-style readers, which also skip its
// extension), then copied server-side to the window's deterministic key
// with its metadata (account, window, record count) and deleted. The final
// object appears at once, complete, or not at all. A failed or cancelled
// upload aborts its multipart upload; the first window a destination
// stages (and then one an hour) removes temporaries and uploads a killed
// run left behind once they are older than StaleAfter. Windows up to 5 GiB
// (the CopyObject limit) per object.
type Dest struct {
	client *s3api.Client
	// up is feature/s3/manager's Uploader, deprecated in favour of
	// feature/s3/transfermanager, kept on purpose: it reads the parts of a
	// seekable io.ReaderAt body as sections of it, while transfermanager
	// (v0.5.9) reads the first part into memory and copies every other
	// part into PartSize x (Concurrency + 1) buffers it allocates for each
	// upload, which is the memory the staging file exists to avoid (one
	// 64 MiB object at the default 16 MiB x 4: 0 MiB allocated by the
	// Uploader, 115 MiB by transfermanager).
	//lint:ignore SA1019 transfermanager buffers every part in memory; see above
	up *manager.Uploader
	o  Options
	// cleanMu guards cleaned, when the temporary area was last cleaned.
	cleanMu sync.Mutex
	cleaned time.Time
}

// What a bucket can do: keep what it publishes and read it back, say
// more of an object than its bytes, and version what it publishes.
var (
	_ sinks.Destination = (*Dest)(nil)
	_ sinks.Keeper      = (*Dest)(nil)
	_ sinks.Inspector   = (*Dest)(nil)
	_ sinks.Versioned   = (*staged)(nil)
)

// New returns the destination writing to S3 with client.
func New(client *s3api.Client, o Options) *Dest {
	if o.Prefix != "" && !strings.HasSuffix(o.Prefix, "/") {
		o.Prefix += "/"
	}
	if o.PartSize <= 0 {
		o.PartSize = DefaultPartSize
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = StaleAfter
	}
	if o.MaxObjectSize <= 0 {
		o.MaxObjectSize = MaxObjectSize
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	//lint:ignore SA1019 the Uploader reads parts from the staged file; see Dest.up
	up := manager.NewUploader(client, func(u *manager.Uploader) {
		u.PartSize = o.PartSize
		u.Concurrency = o.Concurrency
		u.LeavePartsOnError = false
	})
	return &Dest{client: client, up: up, o: o}
}

// NewSink returns the sink writing format to S3 with client.
func NewSink(client *s3api.Client, o Options, format sinks.Format) *sinks.Output {
	return sinks.New(New(client, o), format)
}

// Name implements sinks.Destination.
func (d *Dest) Name() string { return "s3://" + d.o.Bucket + "/" + d.o.Prefix }

// Key is the object key of the object name.
func (d *Dest) Key(name string) string { return d.o.Prefix + name }

// MaxObjectSize implements sinks.Destination.
func (d *Dest) MaxObjectSize() (int64, string) {
	if d.o.MaxObjectSizeWhy != "" {
		return d.o.MaxObjectSize, d.o.MaxObjectSizeWhy
	}
	return d.o.MaxObjectSize, "the limit of the server-side copy that publishes an S3 object"
}

// tmpPrefix is where the temporaries of an object live: flat under _tmp/
// (the object's base name already holds account and window), so that
// S3-compatible servers on a POSIX file system, which create and remove
// directories for key prefixes, have one shared directory to race on
// instead of one per account and day.
func (d *Dest) tmpPrefix(name string) string {
	return d.o.Prefix + "_tmp/" + path.Base(name) + "."
}

// Object metadata (x-amz-meta-*) of every committed object.
const (
	MetaAccount     = "account"
	MetaWindowStart = "window-start"
	MetaWindowEnd   = "window-end"
	MetaRecords     = "records"
	MetaFormat      = "format"
)

// Stage implements sinks.Destination.
func (d *Dest) Stage(ctx context.Context, name string) (sinks.Staged, error) {
	if err := d.cleanupIfDue(ctx); err != nil {
		return nil, err
	}
	f, err := stage.File(d.o.StageDir)
	if err != nil {
		return nil, err
	}
	return &staged{d: d, f: f, key: d.Key(name), tmp: d.tmpPrefix(name) + atomicfile.RandSuffix()}, nil
}

func (d *Dest) applySSE(sse *types.ServerSideEncryption, kms **string) {
	if d.o.SSE != "" {
		*sse = types.ServerSideEncryption(d.o.SSE)
	}
	if d.o.KMSKeyID != "" {
		*kms = aws.String(d.o.KMSKeyID)
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
func (d *Dest) cleanupIfDue(ctx context.Context) error {
	d.cleanMu.Lock()
	defer d.cleanMu.Unlock()
	if !d.cleaned.IsZero() && d.o.Now().Sub(d.cleaned) < d.o.StaleAfter {
		return nil
	}
	if err := d.cleanup(ctx); err != nil {
		return err
	}
	d.cleaned = d.o.Now()
	return nil
}

// cleanup aborts the multipart uploads and removes the temporary objects
// under "<prefix>_tmp/" that are older than StaleAfter.
func (d *Dest) cleanup(ctx context.Context) error {
	prefix := aws.String(d.o.Prefix + "_tmp/")
	bucket := aws.String(d.o.Bucket)
	cutoff := d.o.Now().Add(-d.o.StaleAfter)
	ups := s3api.NewListMultipartUploadsPaginator(d.client, &s3api.ListMultipartUploadsInput{Bucket: bucket, Prefix: prefix})
	for ups.HasMorePages() {
		page, err := ups.NextPage(ctx)
		if err != nil {
			return d.classify("list multipart uploads", err)
		}
		for _, u := range page.Uploads {
			if u.Initiated == nil || u.Initiated.After(cutoff) {
				continue
			}
			if _, err := d.client.AbortMultipartUpload(ctx, &s3api.AbortMultipartUploadInput{Bucket: bucket, Key: u.Key, UploadId: u.UploadId}); err != nil && !isCode(err, "NoSuchUpload") {
				return d.classify("abort a stale multipart upload", err)
			}
		}
	}
	objs := s3api.NewListObjectsV2Paginator(d.client, &s3api.ListObjectsV2Input{Bucket: bucket, Prefix: prefix})
	for objs.HasMorePages() {
		page, err := objs.NextPage(ctx)
		if err != nil {
			return d.classify("list temporary objects", err)
		}
		for _, o := range page.Contents {
			if o.LastModified == nil || o.LastModified.After(cutoff) {
				continue
			}
			if _, err := d.client.DeleteObject(ctx, &s3api.DeleteObjectInput{Bucket: bucket, Key: o.Key}); err != nil && !isCode(err, "NoSuchKey") {
				return d.classify("delete a stale temporary object", err)
			}
		}
	}
	return nil
}

// classify wraps an SDK error with the operation and a class: a missing
// bucket or refused access will not go away by retrying.
func (d *Dest) classify(op string, err error) error {
	return s3err.Classify(op, d.o.Bucket, "bucket, region and endpoint", err)
}

func isCode(err error, code string) bool { return s3err.Code(err) == code }

// lock returns the retention to put on an object written now.
func (d *Dest) lock() (types.ObjectLockMode, *time.Time) {
	if d.o.LockMode == "" {
		return "", nil
	}
	until := d.o.Now().Add(d.o.LockRetention).UTC()
	return types.ObjectLockMode(d.o.LockMode), &until
}

type staged struct {
	d          *Dest
	f          *os.File // the staged object, unlinked
	key, tmp   string
	tmpVersion *string // the temporary object's version (versioned buckets)
	version    string  // the published object's version
	uploaded   bool    // the temporary object exists
	done       bool    // published or discarded
}

// VersionID implements sinks.Versioned.
func (s *staged) VersionID() string { return s.version }

// deleteTmp removes the temporary object: on a versioned bucket its
// version itself, so that no delete marker or old version is left.
func (s *staged) deleteTmp(ctx context.Context) error {
	_, err := s.d.client.DeleteObject(ctx, &s3api.DeleteObjectInput{Bucket: aws.String(s.d.o.Bucket), Key: aws.String(s.tmp), VersionId: s.tmpVersion})
	if err != nil && !isCode(err, "NoSuchKey") && !isCode(err, "NoSuchVersion") {
		return s.d.classify("delete temporary "+s.tmp, err)
	}
	return nil
}

func (s *staged) Write(p []byte) (int, error) { return s.f.Write(p) }

func (s *staged) Publish(ctx context.Context, meta sinks.ObjectMeta) error {
	d := s.d
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("stage: %w", err)
	}
	up := &s3api.PutObjectInput{Bucket: aws.String(d.o.Bucket), Key: aws.String(s.tmp), ContentType: aws.String(meta.ContentType)}
	d.applySSE(&up.ServerSideEncryption, &up.SSEKMSKeyId)
	up.Body = stage.CtxFile{Ctx: ctx, F: s.f}
	s.uploaded = true // from here on, Discard removes it
	// The uploader's context outlives ctx so that it can still abort its
	// multipart upload; ctx stops the upload through the body.
	//lint:ignore SA1019 the Uploader reads parts from the staged file; see Dest.up
	res, err := d.up.Upload(context.WithoutCancel(ctx), up)
	if err != nil {
		return d.classify("upload "+s.tmp, err)
	}
	s.tmpVersion = res.VersionID
	if err := ctx.Err(); err != nil {
		return err
	}
	in := &s3api.CopyObjectInput{
		Bucket:            aws.String(d.o.Bucket),
		Key:               aws.String(s.key),
		CopySource:        aws.String(copySource(d.o.Bucket, s.tmp)),
		MetadataDirective: types.MetadataDirectiveReplace,
		// S3 computes and keeps the full object's SHA-256 (HEAD returns
		// it): verify proves the object against its manifest without
		// downloading it.
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ContentType:       aws.String(meta.ContentType),
		Metadata: map[string]string{
			MetaAccount:     meta.Window.Account,
			MetaWindowStart: meta.Window.Start.UTC().Format(time.RFC3339),
			MetaWindowEnd:   meta.Window.End.UTC().Format(time.RFC3339),
			MetaRecords:     strconv.FormatInt(meta.Records, 10),
			MetaFormat:      meta.Format,
		},
	}
	d.applySSE(&in.ServerSideEncryption, &in.SSEKMSKeyId)
	if d.o.StorageClass != "" {
		in.StorageClass = types.StorageClass(d.o.StorageClass)
	}
	in.ObjectLockMode, in.ObjectLockRetainUntilDate = d.lock()
	// A committed object is never replaced: the copy is conditional, and,
	// for servers that ignore the condition on a copy, the name is looked
	// up first (two processes racing on one window remain for the
	// condition alone to keep apart).
	in.IfNoneMatch = aws.String("*")
	if _, found, err := d.Inspect(ctx, strings.TrimPrefix(s.key, d.o.Prefix)); err != nil {
		return err
	} else if found {
		return fmt.Errorf("publish %s: %w", s.key, sinks.ErrExists)
	}
	// Not retried by the SDK: a copy whose answer was lost may have
	// happened, and a server that ignores the condition would copy again
	// (a second version, ingested again by consumers). The window is
	// retried instead, which finds the object and adopts it.
	out, err := d.client.CopyObject(ctx, in, func(o *s3api.Options) { o.RetryMaxAttempts = 1 })
	if err != nil {
		if isCode(err, "PreconditionFailed") {
			return fmt.Errorf("publish %s: %w", s.key, sinks.ErrExists)
		}
		return d.classify("copy into "+s.key, err)
	}
	s.version = aws.ToString(out.VersionId)
	s.done = true
	_ = s.f.Close()
	return s.deleteTmp(context.WithoutCancel(ctx))
}

func (s *staged) Discard() error {
	if s.done {
		return nil
	}
	s.done = true
	_ = s.f.Close()
	if s.uploaded {
		return s.deleteTmp(context.Background())
	}
	return nil
}

// Create implements sinks.Keeper: a conditional write (If-None-Match: *).
func (d *Dest) Create(ctx context.Context, name string, b []byte) (bool, error) {
	in := &s3api.PutObjectInput{Bucket: aws.String(d.o.Bucket), Key: aws.String(d.Key(name)), Body: bytes.NewReader(b), ContentType: aws.String("application/json"),
		IfNoneMatch: aws.String("*")}
	d.applySSE(&in.ServerSideEncryption, &in.SSEKMSKeyId)
	in.ObjectLockMode, in.ObjectLockRetainUntilDate = d.lock()
	if d.o.LockMode != "" {
		// Object Lock requires an integrity checksum on the request.
		in.ChecksumAlgorithm = types.ChecksumAlgorithmSha256
	}
	if _, err := d.client.PutObject(ctx, in); err != nil {
		if !isCode(err, "PreconditionFailed") && !isCode(err, "ConditionalRequestConflict") {
			return false, d.classify("write "+d.Key(name), err)
		}
		// Some servers refuse the condition while the key only has older
		// versions under a delete marker (nothing to read): write it then.
		r, found, err := d.Get(ctx, name)
		if found {
			r.Close()
		}
		if err != nil || found {
			return false, err
		}
		in.IfNoneMatch = nil
		in.Body = bytes.NewReader(b)
		if _, err := d.client.PutObject(ctx, in); err != nil {
			return false, d.classify("write "+d.Key(name), err)
		}
	}
	return true, nil
}

// Inspect implements sinks.Inspector: the object's current version and
// retention, from one HEAD request.
func (d *Dest) Inspect(ctx context.Context, name string) (sinks.ObjectInfo, bool, error) {
	out, err := d.client.HeadObject(ctx, &s3api.HeadObjectInput{Bucket: aws.String(d.o.Bucket), Key: aws.String(d.Key(name)), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		if isCode(err, "NotFound") || isCode(err, "NoSuchKey") {
			return sinks.ObjectInfo{}, false, nil
		}
		return sinks.ObjectInfo{}, false, d.classify("inspect "+d.Key(name), err)
	}
	info := sinks.ObjectInfo{Version: aws.ToString(out.VersionId), LockMode: string(out.ObjectLockMode), LockUntil: aws.ToTime(out.ObjectLockRetainUntilDate),
		Size: aws.ToInt64(out.ContentLength)}
	info.SHA256 = fullObjectSHA256(aws.ToString(out.ChecksumSHA256), out.ChecksumType)
	return info, true, nil
}

// fullObjectSHA256 is the hex SHA-256 of a whole object from S3's stored
// checksum (base64), or "" when the checksum is not of the whole object
// (a multipart upload's composite checksum, "<base64>-<parts>").
func fullObjectSHA256(b64 string, typ types.ChecksumType) string {
	if b64 == "" || strings.Contains(b64, "-") || (typ != "" && typ != types.ChecksumTypeFullObject) {
		return ""
	}
	sum, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(sum) != sha256.Size {
		return ""
	}
	return hex.EncodeToString(sum)
}

// List implements sinks.Keeper.
func (d *Dest) List(ctx context.Context, dir string) ([]string, error) {
	prefix := d.Key(dir) + "/"
	var names []string
	p := s3api.NewListObjectsV2Paginator(d.client, &s3api.ListObjectsV2Input{Bucket: aws.String(d.o.Bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/")})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, d.classify("list "+prefix, err)
		}
		for _, o := range out.Contents {
			if len(names) == sinks.MaxListed {
				return nil, fmt.Errorf("more than %d objects under %s", sinks.MaxListed, prefix)
			}
			names = append(names, strings.TrimPrefix(aws.ToString(o.Key), d.o.Prefix))
		}
	}
	return names, nil
}

// Get implements sinks.Keeper.
func (d *Dest) Get(ctx context.Context, name string) (io.ReadCloser, bool, error) {
	// The SDK does not check the bytes against S3's stored checksum: the
	// reader hashes them and compares with the manifest, so that bytes
	// changed behind S3's back are a checksum mismatch verify reports,
	// not a read error.
	out, err := d.client.GetObject(ctx, &s3api.GetObjectInput{Bucket: aws.String(d.o.Bucket), Key: aws.String(d.Key(name))},
		func(o *s3api.Options) { o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired })
	if err != nil {
		if isCode(err, "NoSuchKey") {
			return nil, false, nil
		}
		return nil, false, d.classify("read "+d.Key(name), err)
	}
	return out.Body, true, nil
}

// copySource renders bucket/key URL-encoded segment by segment.
func copySource(bucket, key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return bucket + "/" + strings.Join(segs, "/")
}

// Probe implements sinks.Destination: it proves the permissions an export needs
// (it lists the temporary area and its multipart uploads, writes a small
// object there and deletes it) and that a staging file can be created.
func (d *Dest) Probe(ctx context.Context) error {
	f, err := stage.File(d.o.StageDir)
	if err != nil {
		return errclass.Mark(errclass.Config, err)
	}
	_ = f.Close()
	bucket := aws.String(d.o.Bucket)
	prefix := d.o.Prefix + "_tmp/"
	if _, err := d.client.ListObjectsV2(ctx, &s3api.ListObjectsV2Input{Bucket: bucket, Prefix: aws.String(prefix), MaxKeys: aws.Int32(1)}); err != nil {
		return d.classify("list (s3:ListBucket)", err)
	}
	if _, err := d.client.ListMultipartUploads(ctx, &s3api.ListMultipartUploadsInput{Bucket: bucket, Prefix: aws.String(prefix)}); err != nil {
		return d.classify("list multipart uploads (s3:ListBucketMultipartUploads)", err)
	}
	if d.o.LockMode != "" {
		if err := d.probeLock(ctx); err != nil {
			return err
		}
	}
	key := aws.String(prefix + "auditlog-exporter-check-" + atomicfile.RandSuffix())
	in := &s3api.PutObjectInput{Bucket: bucket, Key: key, Body: strings.NewReader("probe\n")}
	d.applySSE(&in.ServerSideEncryption, &in.SSEKMSKeyId)
	out, err := d.client.PutObject(ctx, in)
	if err != nil {
		return d.classify("write (s3:PutObject)", err)
	}
	if _, err := d.client.DeleteObject(ctx, &s3api.DeleteObjectInput{Bucket: bucket, Key: key, VersionId: out.VersionId}); err != nil {
		return d.classify("delete (s3:DeleteObject)", err)
	}
	return nil
}

// probeLock proves that the bucket has Object Lock enabled (which also
// means versioning) and that a default retention will not lock the
// temporaries.
func (d *Dest) probeLock(ctx context.Context) error {
	out, err := d.client.GetObjectLockConfiguration(ctx, &s3api.GetObjectLockConfigurationInput{Bucket: aws.String(d.o.Bucket)})
	if err != nil {
		if isCode(err, "ObjectLockConfigurationNotFoundError") {
			return errclass.Mark(errclass.Config, fmt.Errorf("bucket %s has no Object Lock configuration, but object_lock is set: create the bucket with Object Lock enabled (it cannot be added to a bucket without versioning), or remove object_lock", d.o.Bucket))
		}
		return d.classify("read the Object Lock configuration (s3:GetBucketObjectLockConfiguration)", err)
	}
	c := out.ObjectLockConfiguration
	if c == nil || c.ObjectLockEnabled != types.ObjectLockEnabledEnabled {
		return errclass.Mark(errclass.Config, fmt.Errorf("bucket %s does not have Object Lock enabled, but object_lock is set: create the bucket with Object Lock enabled, or remove object_lock", d.o.Bucket))
	}
	return nil
}

// Config is an S3 sink's own configuration.
type Config struct {
	Bucket string `yaml:"bucket"`
	// Prefix may hold {class}: one prefix per OCSF class (Security Lake).
	Prefix       string `yaml:"prefix"`
	Region       string `yaml:"region"`
	Endpoint     string `yaml:"endpoint"`
	PathStyle    bool   `yaml:"path_style"`
	SSE          string `yaml:"sse"`
	KMSKeyID     string `yaml:"kms_key_id"`
	StorageClass string `yaml:"storage_class"`
	// ObjectLock puts an S3 Object Lock retention on every object,
	// manifest and seal.
	ObjectLock ObjectLock `yaml:"object_lock"`
}

// ObjectLock is an S3 sink's Object Lock retention.
type ObjectLock struct {
	Mode          string `yaml:"mode"` // GOVERNANCE | COMPLIANCE; empty: none
	RetentionDays int    `yaml:"retention_days"`
}

var _ sinks.DestConfig = Config{}

// MaxLockRetentionDays bounds object_lock.retention_days (100 years).
const MaxLockRetentionDays = 36500

// Validate implements sinks.DestConfig. The endpoint's form is checked by
// the caller, as every endpoint of the configuration is.
func (c Config) Validate(p, _ string) []sinks.ConfigError {
	var errs []sinks.ConfigError
	add := func(key, format string, args ...any) {
		errs = append(errs, sinks.ConfigError{Path: p + "." + key, Msg: fmt.Sprintf(format, args...)})
	}
	if c.Bucket == "" {
		add("bucket", "required for sink type s3")
	}
	switch c.SSE {
	case "", "AES256":
		if c.KMSKeyID != "" {
			add("kms_key_id", "only with sse: aws:kms")
		}
	case "aws:kms":
	default:
		add("sse", "%q is not one of: AES256, aws:kms", c.SSE)
	}
	if c.StorageClass != "" && !slices.Contains(types.StorageClass("").Values(), types.StorageClass(c.StorageClass)) {
		add("storage_class", "%q is not an S3 storage class (STANDARD, STANDARD_IA, INTELLIGENT_TIERING, GLACIER_IR, ...)", c.StorageClass)
	}
	switch l := c.ObjectLock; {
	case l.Mode == "" && l.RetentionDays != 0:
		add("object_lock.mode", "required with object_lock.retention_days: GOVERNANCE or COMPLIANCE")
	case l.Mode == "":
	case l.Mode != LockGovernance && l.Mode != LockCompliance:
		add("object_lock.mode", "%q is not one of: GOVERNANCE, COMPLIANCE", l.Mode)
	case l.RetentionDays < 1 || l.RetentionDays > MaxLockRetentionDays:
		add("object_lock.retention_days", "%d: want 1 to %d days (e.g. 2557 for 7 years)", l.RetentionDays, MaxLockRetentionDays)
	}
	return errs
}

// Target implements sinks.DestConfig.
func (c Config) Target() string {
	return "s3:" + c.Endpoint + "/" + c.Bucket + "/" + strings.TrimSuffix(c.Prefix, "/")
}

// Options are the destination's options for c in env.
func (c Config) Options(env sinks.Env) Options {
	return Options{Bucket: c.Bucket, Prefix: env.Prefix, SSE: c.SSE, KMSKeyID: c.KMSKeyID, StorageClass: c.StorageClass, StageDir: env.SpoolDir,
		LockMode: c.ObjectLock.Mode, LockRetention: time.Duration(c.ObjectLock.RetentionDays) * 24 * time.Hour, Now: env.Now,
		MaxObjectSize: env.MaxObjectSize, MaxObjectSizeWhy: env.MaxObjectSizeWhy}
}

// Build implements sinks.DestConfig: a client of c's region and endpoint.
func (c Config) Build(ctx context.Context, env sinks.Env) (sinks.Destination, error) {
	client, err := s3client.New(ctx, s3client.Options{Field: env.Field, Region: c.Region, Endpoint: c.Endpoint, PathStyle: c.PathStyle})
	if err != nil {
		return nil, err
	}
	return New(client, c.Options(env)), nil
}
