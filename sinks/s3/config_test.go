package s3_test

import (
	"strings"
	"testing"

	s3dest "github.com/auditlog-exporter/auditlog-exporter/sinks/s3"
)

// The S3 destination checks its own keys, every problem with its path;
// a valid configuration is broken one key at a time.
func TestConfigValidate(t *testing.T) {
	valid := func() s3dest.Config { return s3dest.Config{Bucket: "b", Prefix: "p/", Region: "eu-central-1"} }
	if errs := valid().Validate("sinks[0]", "parquet"); len(errs) != 0 {
		t.Fatalf("a valid configuration: %v", errs)
	}
	for _, c := range []struct {
		name       string
		mutate     func(*s3dest.Config)
		path, want string
	}{
		{"no bucket", func(c *s3dest.Config) { c.Bucket = "" }, "sinks[0].bucket", "required"},
		{"bad sse", func(c *s3dest.Config) { c.SSE = "rot13" }, "sinks[0].sse", "AES256, aws:kms"},
		{"kms key without kms", func(c *s3dest.Config) { c.KMSKeyID = "k" }, "sinks[0].kms_key_id", "only with sse: aws:kms"},
		{"bad storage class", func(c *s3dest.Config) { c.StorageClass = "CHEAP" }, "sinks[0].storage_class", "not an S3 storage class"},
		{"lock days without mode", func(c *s3dest.Config) { c.ObjectLock.RetentionDays = 3 }, "sinks[0].object_lock.mode", "required"},
		{"bad lock mode", func(c *s3dest.Config) { c.ObjectLock = s3dest.ObjectLock{Mode: "STRICT", RetentionDays: 3} }, "sinks[0].object_lock.mode", "GOVERNANCE, COMPLIANCE"},
		{"lock too long", func(c *s3dest.Config) {
			c.ObjectLock = s3dest.ObjectLock{Mode: s3dest.LockCompliance, RetentionDays: 36501}
		}, "sinks[0].object_lock.retention_days", "1 to 36500"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := valid()
			c.mutate(&cfg)
			errs := cfg.Validate("sinks[0]", "jsonl")
			if len(errs) != 1 || errs[0].Path != c.path || !strings.Contains(errs[0].Msg, c.want) {
				t.Fatalf("%v; want one problem at %s: ...%s...", errs, c.path, c.want)
			}
		})
	}
	if a, b := valid().Target(), (s3dest.Config{Bucket: "b", Prefix: "p"}).Target(); a != b {
		t.Fatalf("one bucket and prefix, two targets: %s, %s", a, b)
	}
}
