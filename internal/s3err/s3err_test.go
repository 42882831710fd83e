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
