package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// S3Store keeps one JSON object per account in a bucket. It takes no lock:
// writes are conditional (If-None-Match: * to create, If-Match: <etag> to
// replace), so of two runs racing on one account exactly one advances the
// watermark and the other gets ErrConflict.
type S3Store struct {
	client *s3.Client
	bucket string
	prefix string
	key    string
}

var _ Store = (*S3Store)(nil)

// NewS3 returns a store writing <prefix><account>.json in bucket, or, when
// key is set, exactly that object (for a single account).
func NewS3(client *s3.Client, bucket, prefix, key string) *S3Store {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &S3Store{client: client, bucket: bucket, prefix: prefix, key: key}
}

// Bucket returns the store's bucket.
func (s *S3Store) Bucket() string { return s.bucket }

// Key returns the object holding account's state.
func (s *S3Store) Key(account string) string {
	if s.key != "" {
		return s.key
	}
	return s.prefix + account + ".json"
}

func (s *S3Store) where(account string) string { return "s3://" + s.bucket + "/" + s.Key(account) }

// Load implements Store.
func (s *S3Store) Load(ctx context.Context, account string) (State, error) {
	if !accountName.MatchString(account) {
		return State{}, errclass.Mark(errclass.Config, fmt.Errorf("account %q is not a valid technical name", account))
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.Key(account))})
	if err != nil {
		if code(err) == "NoSuchKey" {
			return State{}, ErrNotFound
		}
		return State{}, classifyS3("read state "+s.where(account), s.bucket, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, 1<<20))
	if err != nil {
		return State{}, errclass.Mark(errclass.Retryable, fmt.Errorf("read state %s: %w", s.where(account), err))
	}
	st, err := Decode(b, account)
	if err != nil {
		return State{}, errclass.Mark(errclass.Config, fmt.Errorf("state object %s: %w; move it away to start over from export.start, or replace it with a valid one", s.where(account), err))
	}
	st.Rev = aws.ToString(out.ETag)
	if st.Rev == "" {
		return State{}, errclass.Mark(errclass.Permanent, fmt.Errorf("state object %s: the server sent no ETag; conditional writes are impossible", s.where(account)))
	}
	return st, nil
}

// Save implements Store.
func (s *S3Store) Save(ctx context.Context, st State) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if !accountName.MatchString(st.Account) {
		return "", errclass.Mark(errclass.Config, fmt.Errorf("account %q is not a valid technical name", st.Account))
	}
	if st.UpdatedAt.IsZero() {
		st.UpdatedAt = time.Now().UTC()
	}
	b, err := Encode(st)
	if err != nil {
		return "", err
	}
	in := &s3.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.Key(st.Account)), Body: bytes.NewReader(b),
		ContentType: aws.String("application/json")}
	if st.Rev == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(st.Rev)
	}
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		switch code(err) {
		case "PreconditionFailed", "ConditionalRequestConflict":
			return "", fmt.Errorf("save state %s: %w", s.where(st.Account), ErrConflict)
		}
		return "", classifyS3("save state "+s.where(st.Account), s.bucket, err)
	}
	if aws.ToString(out.ETag) == "" {
		return "", errclass.Mark(errclass.Permanent, fmt.Errorf("save state %s: the server sent no ETag", s.where(st.Account)))
	}
	return aws.ToString(out.ETag), nil
}

// Close implements Store.
func (s *S3Store) Close() error { return nil }

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func classifyS3(op, bucket string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	switch code(err) {
	case "NoSuchBucket":
		return errclass.Mark(errclass.Config, fmt.Errorf("%s: bucket %q does not exist (check state.bucket, region and endpoint): %w", op, bucket, err))
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken":
		return errclass.Mark(errclass.Config, fmt.Errorf("%s: access to bucket %q denied (check the credentials and IAM permissions in the README): %w", op, bucket, err))
	}
	return errclass.Mark(errclass.Retryable, fmt.Errorf("%s: %w", op, err))
}

// Probe proves the store can read and write: it writes a probe object next
// to the state objects and deletes it.
func (s *S3Store) Probe(ctx context.Context) error {
	key := s.prefix + ".auditlog-exporter-check"
	if s.key != "" {
		key = s.key + ".auditlog-exporter-check"
	}
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key), Body: strings.NewReader("probe\n")})
	if err != nil {
		return classifyS3("write state (s3:PutObject) s3://"+s.bucket+"/"+key, s.bucket, err)
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}); err != nil {
		return classifyS3("delete state probe s3://"+s.bucket+"/"+key, s.bucket, err)
	}
	return nil
}
