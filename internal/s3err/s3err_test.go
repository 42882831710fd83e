package s3err

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/aws/smithy-go"
)

func TestClassify(t *testing.T) {
	api := func(code string) error {
		return fmt.Errorf("op: %w", &smithy.GenericAPIError{Code: code, Message: "m"})
	}
	for _, tc := range []struct {
		err   error
		class errclass.Class
		msg   string
	}{
		{api("NoSuchBucket"), errclass.Config, `bucket "b" does not exist (check bucket, region and endpoint)`},
		{api("AccessDenied"), errclass.Config, "denied"},
		{api("SignatureDoesNotMatch"), errclass.Config, "denied"},
		{api("InternalError"), errclass.Retryable, "put x"},
		{errors.New("connection reset"), errclass.Retryable, "connection reset"},
		{context.Canceled, errclass.Retryable, "put x"},
	} {
		err := Classify("put x", "b", "bucket, region and endpoint", tc.err)
		if errclass.Classify(err) != tc.class || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%v: got %v (%v)", tc.err, err, errclass.Classify(err))
		}
	}
	if Classify("x", "b", "k", nil) != nil || Code(api("NoSuchKey")) != "NoSuchKey" || Code(errors.New("x")) != "" {
		t.Error("nil / Code")
	}
}

func TestPredicates(t *testing.T) {
	api := func(code string) error { return fmt.Errorf("op: %w", &smithy.GenericAPIError{Code: code}) }
	creds := errors.New("operation error S3: PutObject, get identity: get credentials: failed to refresh cached credentials, no EC2 IMDS role found")
	for _, tc := range []struct {
		err                     error
		noBucket, denied, creds bool
	}{
		{api("NoSuchBucket"), true, false, false},
		{api("AccessDenied"), false, true, false},
		{api("InvalidAccessKeyId"), false, true, false},
		{api("ExpiredToken"), false, true, false},
		{api("NoSuchKey"), false, false, false},
		{creds, false, false, true},
		{errors.New("credentials in the message"), false, false, false},
		{nil, false, false, false},
	} {
		if NoBucket(tc.err) != tc.noBucket || Denied(tc.err) != tc.denied || NoCredentials(tc.err) != tc.creds {
			t.Errorf("%v: NoBucket %v Denied %v NoCredentials %v", tc.err, NoBucket(tc.err), Denied(tc.err), NoCredentials(tc.err))
		}
	}
}
