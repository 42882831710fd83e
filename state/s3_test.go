package state_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/auditlog-exporter/auditlog-exporter/internal/s3test"
	"github.com/auditlog-exporter/auditlog-exporter/state"
	"github.com/auditlog-exporter/auditlog-exporter/state/statetest"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestS3Store(t *testing.T) {
	srv := s3test.Start(t)
	statetest.Run(t, statetest.Harness{
		New: func(t *testing.T) state.Store {
			return state.NewS3(srv.Client(), srv.NewBucket(t), "states", "")
		},
		Corrupt: func(t *testing.T, s state.Store, account string, raw []byte) {
			st := s.(*state.S3Store)
			_, err := srv.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucketOf(st)), Key: aws.String(st.Key(account)), Body: bytes.NewReader(raw)})
			if err != nil {
				t.Fatal(err)
			}
		},
	})
}

func bucketOf(s *state.S3Store) string { return s.Bucket() }
