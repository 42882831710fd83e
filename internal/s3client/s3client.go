// Package s3client builds the S3 client that the S3 sink and the S3 state
// store share: the AWS SDK's default credential chain (environment, shared
// config, web identity for IRSA, instance roles), an optional endpoint for
// S3-compatible servers.
package s3client

import (
	"context"
	"errors"
	"fmt"

	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ErrNoRegion: neither the configuration nor the AWS environment names a region.
var ErrNoRegion = errors.New("required (or set AWS_REGION)")

// Options describe one client; Field is the configuration path it comes
// from ("sinks[0]", "state"), for messages.
type Options struct {
	Field     string
	Region    string
	Endpoint  string
	PathStyle bool
}

// New builds an S3 client. A missing region or an AWS configuration that
// cannot be loaded is a configuration error naming o.Field.
func New(ctx context.Context, o Options) (*s3.Client, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if o.Region != "" {
		opts = append(opts, awsconfig.WithRegion(o.Region))
	}
	opts = append(opts, awsconfig.WithRetryMaxAttempts(5))
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, errclass.Mark(errclass.Config, fmt.Errorf("%s: AWS configuration: %w", o.Field, err))
	}
	if cfg.Region == "" {
		return nil, errclass.Mark(errclass.Config, fmt.Errorf("%s.region: %w", o.Field, ErrNoRegion))
	}
	endpoint := o.Endpoint
	return s3.NewFromConfig(cfg, func(so *s3.Options) {
		if endpoint != "" {
			so.BaseEndpoint = &endpoint
		}
		so.UsePathStyle = o.PathStyle
	}), nil
}
