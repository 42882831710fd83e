package config

import (
	"context"

	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/file"
	s3dest "github.com/auditlog-exporter/auditlog-exporter/sinks/s3"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/stream"
)

// The sink types of DefaultSinkTypes: each maps the keys of a sinks[]
// entry to its destination package's Config, which validates and builds.

// addAll adds a destination's problems to errs.
func addAll(errs *FieldErrors, list []sinks.ConfigError) {
	for _, e := range list {
		errs.add(e.Path, "%s", e.Msg)
	}
}

// fileConfig is s's configuration of a file destination.
func (s SinkConfig) fileConfig() file.Config { return file.Config{Path: s.Path} }

// s3Config is s's configuration of an S3 destination.
func (s SinkConfig) s3Config() s3dest.Config {
	return s3dest.Config{Bucket: s.Bucket, Prefix: s.Prefix, Region: s.Region, Endpoint: s.Endpoint, PathStyle: s.PathStyle, SSE: s.SSE, KMSKeyID: s.KMSKeyID,
		StorageClass: s.StorageClass, LockMode: s.ObjectLock.Mode, LockRetentionDays: s.ObjectLock.RetentionDays}
}

// fileSinkType writes objects under a local directory.
func fileSinkType() SinkType {
	return SinkType{
		Keys: []string{"path"},
		Validate: func(s SinkConfig, p string, errs *FieldErrors) string {
			c := s.fileConfig()
			addAll(errs, c.Validate(p))
			return c.Target()
		},
		Destination: func(_ context.Context, s SinkConfig, _ SinkEnv) (sinks.Destination, error) {
			return s.fileConfig().New(), nil
		},
	}
}

// stdoutSinkType writes objects to standard output, one after another.
func stdoutSinkType() SinkType {
	return SinkType{
		Validate: func(s SinkConfig, p string, errs *FieldErrors) string {
			addAll(errs, stream.Config{}.Validate(p, s.Format))
			return ""
		},
		Destination: func(_ context.Context, _ SinkConfig, env SinkEnv) (sinks.Destination, error) {
			return stream.Config{Name: "stdout", Out: env.Stdout, SpoolDir: env.SpoolDir}.New(), nil
		},
	}
}

// s3SinkType writes objects to an S3 bucket.
func s3SinkType() SinkType {
	return SinkType{
		Keys: []string{"bucket", "prefix", "region", "endpoint", "sse", "kms_key_id", "storage_class", "object_lock.mode"},
		Validate: func(s SinkConfig, p string, errs *FieldErrors) string {
			c := s.s3Config()
			addAll(errs, c.Validate(p))
			validateEndpoint(p+".endpoint", s.Endpoint, errs)
			return c.Target()
		},
		Destination: func(ctx context.Context, s SinkConfig, env SinkEnv) (sinks.Destination, error) {
			c := s.s3Config()
			client, err := c.NewClient(ctx, env.Field)
			if err != nil {
				return nil, err
			}
			o := c.Options(env.Prefix, env.SpoolDir, env.Now)
			if s.Layout == LayoutSecurityLake {
				o.MaxObjectSize, o.MaxObjectSizeWhy = sinks.MaxSecurityLakeObjectSize, "the largest object Security Lake wants from a custom source"
			}
			return s3dest.New(client, o), nil
		},
	}
}
