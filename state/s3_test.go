package state_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

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

// lostPutAnswer performs the first PUT of key, then loses its answer (the
// connection resets), so the SDK sends the write again.
type lostPutAnswer struct {
	key  string
	lost atomic.Bool
}

func (l *lostPutAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/"+l.key) && l.lost.CompareAndSwap(false, true) {
		resp.Body.Close()
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	}
	return resp, err
}

// A state write whose answer is lost, sent again by the SDK, meets its own
// write: that is a save, not "changed by another run". A state another run
// wrote in between is still a conflict.
func TestS3SaveWhoseAnswerWasLost(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	ctx := context.Background()
	for _, create := range []bool{true, false} {
		plain := state.NewS3(srv.Client(), bucket, "states", "")
		st := state.State{Account: "acct" + map[bool]string{true: "new", false: "old"}[create], Watermark: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), Window: time.Hour}
		if !create {
			rev, err := plain.Save(ctx, st)
			if err != nil {
				t.Fatal(err)
			}
			st.Rev = rev
			st.Watermark = st.Watermark.Add(time.Hour)
		}
		lp := &lostPutAnswer{key: "states/" + st.Account + ".json"}
		client := s3.New(srv.Client().Options(), func(o *s3.Options) { o.HTTPClient = &http.Client{Transport: lp} })
		rev, err := state.NewS3(client, bucket, "states", "").Save(ctx, st)
		if err != nil || !lp.lost.Load() {
			t.Fatalf("create %v: save: %v (answer lost: %v); want the save to stand", create, err, lp.lost.Load())
		}
		got, err := plain.Load(ctx, st.Account)
		if err != nil || !got.Watermark.Equal(st.Watermark) || got.Rev != rev {
			t.Fatalf("create %v: loaded %+v, %v; want watermark %v, rev %s", create, got, err, st.Watermark, rev)
		}
		// Another run's state in between: a conflict.
		other := got
		other.Watermark = other.Watermark.Add(time.Hour)
		if _, err := plain.Save(ctx, other); err != nil {
			t.Fatal(err)
		}
		st.Rev, st.Watermark = rev, st.Watermark.Add(2*time.Hour)
		if _, err := plain.Save(ctx, st); !errors.Is(err, state.ErrConflict) {
			t.Fatalf("create %v: save over another run's state: %v, want ErrConflict", create, err)
		}
	}
}
