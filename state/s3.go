package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/internal/s3err"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
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
		if s3err.Code(err) == "NoSuchKey" {
			return State{}, ErrNotFound
		}
		return State{}, s3err.Classify("read state "+s.where(account), s.bucket, "state.bucket, region and endpoint", err)
	}
	defer out.Body.Close()
	b, err := readAllCapped(out.Body)
	if errors.Is(err, errTooLarge) {
		return State{}, errclass.Mark(errclass.Config, fmt.Errorf("state object %s: %w; move it away to start over from export.start, or replace it with a valid one", s.where(account), err))
	}
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
		switch s3err.Code(err) {
		case "PreconditionFailed", "ConditionalRequestConflict":
			// A write whose answer was lost and that the SDK sent again
			// fails its own condition: the state it wrote stands.
			if etag, ok := s.holds(ctx, st.Account, b); ok {
				return etag, nil
			}
			return "", fmt.Errorf("save state %s: %w", s.where(st.Account), ErrConflict)
		}
		return "", s3err.Classify("save state "+s.where(st.Account), s.bucket, "state.bucket, region and endpoint", err)
	}
	if aws.ToString(out.ETag) == "" {
		return "", errclass.Mark(errclass.Permanent, fmt.Errorf("save state %s: the server sent no ETag", s.where(st.Account)))
	}
	return aws.ToString(out.ETag), nil
}

// holds reports whether account's state object is exactly b, and its ETag.
func (s *S3Store) holds(ctx context.Context, account string, b []byte) (string, bool) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.Key(account))})
	if err != nil {
		return "", false
	}
	defer out.Body.Close()
	got, err := readAllCapped(out.Body)
	if err != nil || !bytes.Equal(got, b) || aws.ToString(out.ETag) == "" {
		return "", false
	}
	return aws.ToString(out.ETag), true
}

// Close implements Store.
func (s *S3Store) Close() error { return nil }

// Probe proves the store can read and write: it writes a probe object next
// to the state objects and deletes it.
func (s *S3Store) Probe(ctx context.Context) error {
	key := s.prefix + ".auditlog-exporter-check"
	if s.key != "" {
		key = s.key + ".auditlog-exporter-check"
	}
	const keys = "state.bucket, region and endpoint"
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key), Body: strings.NewReader("probe\n")})
	if err != nil {
		return s3err.Classify("write state (s3:PutObject) s3://"+s.bucket+"/"+key, s.bucket, keys, err)
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}); err != nil {
		return s3err.Classify("delete state probe s3://"+s.bucket+"/"+key, s.bucket, keys, err)
	}
	return nil
}
