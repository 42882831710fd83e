// Package s3err sorts AWS SDK errors into the project's error classes, for
// every part that talks to S3 (sinks and the state store).
package s3err

import (
	"context"
	"errors"
	"fmt"

	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/aws/smithy-go"
)

// Code returns the S3 error code of err ("NoSuchKey", ...), or "".
func Code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// Classify wraps err with op and a class: a missing bucket or refused
// access is a configuration problem (exit 2) that retrying will not fix;
// anything else may be retried. keys names the configuration keys to check
// ("sinks[0]" style prefixes are the caller's; e.g. "bucket, region and endpoint").
func Classify(op, bucket, keys string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	switch Code(err) {
	case "NoSuchBucket":
		return errclass.Mark(errclass.Config, fmt.Errorf("%s: bucket %q does not exist (check %s): %w", op, bucket, keys, err))
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "AllAccessDisabled":
		return errclass.Mark(errclass.Config, fmt.Errorf("%s: access to bucket %q denied (check the credentials and IAM permissions in the README): %w", op, bucket, err))
	}
	return errclass.Mark(errclass.Retryable, fmt.Errorf("%s: %w", op, err))
}
