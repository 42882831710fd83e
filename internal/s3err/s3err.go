// Package s3err sorts AWS SDK errors into the project's error classes, for
// every part that talks to S3 (sinks and the state store).
package s3err

import (
	"context"
	"errors"
	"fmt"
	"strings"

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
	switch {
	case NoBucket(err):
		return errclass.Mark(errclass.Config, fmt.Errorf("%s: bucket %q does not exist (check %s): %w", op, bucket, keys, err))
	case Denied(err):
		return errclass.Mark(errclass.Config, fmt.Errorf("%s: access to bucket %q denied (check the credentials and IAM permissions in the README): %w", op, bucket, err))
	}
	return errclass.Mark(errclass.Retryable, fmt.Errorf("%s: %w", op, err))
}

// NoBucket reports whether err says the bucket does not exist.
func NoBucket(err error) bool { return Code(err) == "NoSuchBucket" }

// Denied reports whether err is S3 refusing the credentials or the
// permission (wrong keys, a bad signature, an expired token, IAM).
func Denied(err error) bool {
	switch Code(err) {
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "AllAccessDisabled":
		return true
	}
	return false
}

// NoCredentials reports whether err is the SDK failing to find or refresh
// AWS credentials. The SDK has no error type for it, so this matches the
// text its credential adapter wraps every such error in; a transient
// failure (an STS hiccup) reads the same, so it only picks a hint and
// never decides a class.
func NoCredentials(err error) bool {
	return err != nil && strings.Contains(err.Error(), "get credentials: ")
}
