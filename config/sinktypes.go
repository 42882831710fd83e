package config

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/internal/s3client"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// fileSinkType writes objects under a local directory.
func fileSinkType() SinkType {
	return SinkType{
		Keys: []string{"path"},
		Validate: func(s SinkConfig, p string, errs *FieldErrors) string {
			if s.Path == "" {
				errs.add(p+".path", "required for sink type file")
			}
			return "file:" + filepath.Clean(s.Path)
		},
		Destination: func(_ context.Context, s SinkConfig, _ SinkEnv) (sinks.Destination, error) {
			return sinks.NewFileDest(s.Path), nil
		},
	}
}

// stdoutSinkType writes objects to standard output, one after another.
func stdoutSinkType() SinkType {
	return SinkType{
		Validate: func(s SinkConfig, p string, errs *FieldErrors) string {
			if s.Format != "jsonl" {
				errs.add(p+".format", "sink type stdout writes jsonl only")
			}
			return ""
		},
		Destination: func(_ context.Context, _ SinkConfig, env SinkEnv) (sinks.Destination, error) {
			return sinks.NewStreamDest("stdout", env.Stdout, env.SpoolDir), nil
		},
	}
}

// s3SinkType writes objects to an S3 bucket.
func s3SinkType() SinkType {
	return SinkType{
		Keys: []string{"bucket", "prefix", "region", "endpoint", "sse", "kms_key_id", "storage_class", "object_lock.mode"},
		Validate: func(s SinkConfig, p string, errs *FieldErrors) string {
			if s.Bucket == "" {
				errs.add(p+".bucket", "required for sink type s3")
			}
			switch s.SSE {
			case "", "AES256":
				if s.KMSKeyID != "" {
					errs.add(p+".kms_key_id", "only with sse: aws:kms")
				}
			case "aws:kms":
			default:
				errs.add(p+".sse", "%q is not one of: AES256, aws:kms", s.SSE)
			}
			if s.StorageClass != "" && !slices.Contains(types.StorageClass("").Values(), types.StorageClass(s.StorageClass)) {
				errs.add(p+".storage_class", "%q is not an S3 storage class (STANDARD, STANDARD_IA, INTELLIGENT_TIERING, GLACIER_IR, ...)", s.StorageClass)
			}
			validateEndpoint(p+".endpoint", s.Endpoint, errs)
			switch l := s.ObjectLock; {
			case l.Mode == "" && l.RetentionDays != 0:
				errs.add(p+".object_lock.mode", "required with object_lock.retention_days: GOVERNANCE or COMPLIANCE")
			case l.Mode == "":
			case l.Mode != sinks.LockGovernance && l.Mode != sinks.LockCompliance:
				errs.add(p+".object_lock.mode", "%q is not one of: GOVERNANCE, COMPLIANCE", l.Mode)
			case l.RetentionDays < 1 || l.RetentionDays > 36500:
				errs.add(p+".object_lock.retention_days", "%d: want 1 to 36500 days (e.g. 2557 for 7 years)", l.RetentionDays)
			}
			return "s3:" + s.Endpoint + "/" + s.Bucket + "/" + strings.TrimSuffix(s.Prefix, "/")
		},
		Destination: func(ctx context.Context, s SinkConfig, env SinkEnv) (sinks.Destination, error) {
			client, err := s3client.New(ctx, s3client.Options{Field: env.Field, Region: s.Region, Endpoint: s.Endpoint, PathStyle: s.PathStyle})
			if err != nil {
				return nil, err
			}
			o := sinks.S3Options{Bucket: s.Bucket, Prefix: env.Prefix, SSE: s.SSE, KMSKeyID: s.KMSKeyID, StorageClass: s.StorageClass, StageDir: env.SpoolDir,
				LockMode: s.ObjectLock.Mode, LockRetention: time.Duration(s.ObjectLock.RetentionDays) * 24 * time.Hour, Now: env.Now}
			if s.Layout == LayoutSecurityLake {
				o.MaxObjectSize, o.MaxObjectSizeWhy = sinks.MaxSecurityLakeObjectSize, "the largest object Security Lake wants from a custom source"
			}
			return sinks.NewS3Dest(client, o), nil
		},
	}
}
