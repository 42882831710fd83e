package config

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/evidence"
	"github.com/auditlog-exporter/auditlog-exporter/schema/ocsf"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
)

// SinkType is one kind of sink (sinks[].type): the keys of its own, how
// they are checked and how the sink is built. Every kind is one entry of
// SinkTypes; nothing registers itself.
//
// A destination of objects (a directory, a bucket, a stream) builds only
// its Destination: the commit layer (sinks.Output) gives it the format,
// the manifests, the seals and the signer. A destination that receives
// records instead of objects (a bulk API, a message queue) builds its
// whole Sink.
type SinkType struct {
	// Keys are the type's own keys (beyond type, format, compression,
	// schema and layout): another type's sink may not set them.
	Keys []string
	// Validate checks what is particular to the type (p is the sink's
	// path, "sinks[0]") and returns what it writes to, for telling two
	// sinks that would write the same objects; "" for a stream (at most
	// one of them). nil: nothing to check, a stream.
	Validate func(s SinkConfig, p string, errs *FieldErrors) (dest string)
	// Destination builds where the sink publishes objects.
	Destination func(ctx context.Context, s SinkConfig, env SinkEnv) (sinks.Destination, error)
	// Sink builds a sink that is not an Output on a destination; used
	// when Destination is nil.
	Sink func(ctx context.Context, s SinkConfig, env SinkEnv) (sinks.Sink, error)
}

// SinkEnv is what building one sink takes beyond its own keys.
type SinkEnv struct {
	// Field is the sink's path in the file ("sinks[0]"), for messages.
	Field string
	// Prefix is where the sink writes in its bucket: its prefix, or, for
	// a sink per OCSF class, that class's.
	Prefix string
	// Version goes into every manifest and Parquet file.
	Version string
	// Now is the sinks' clock (nil: time.Now).
	Now func() time.Time
	// Stdout is where a stream writes.
	Stdout io.Writer
	// SpoolDir is export.spool_dir: where objects are staged.
	SpoolDir string
	// Format is what the sink writes.
	Format sinks.Format
}

// SinkTypes is the registry of sink kinds, by sinks[].type.
type SinkTypes map[string]SinkType

// DefaultSinkTypes returns the registry of the sinks this program
// writes: adding a destination is a package and a line here.
func DefaultSinkTypes() SinkTypes {
	return SinkTypes{
		"file":   fileSinkType(),
		"s3":     s3SinkType(),
		"stdout": stdoutSinkType(),
	}
}

// names lists the registered types, sorted.
func (t SinkTypes) names() []string {
	var out []string
	for n := range t {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// sinkTypes is the registry c was parsed with.
func (c *Config) sinkTypes() SinkTypes {
	if c.types == nil {
		return DefaultSinkTypes()
	}
	return c.types
}

// TrustOnly makes the sinks built from c check the signatures of the
// manifests and seals they read back with keys alone (verify
// --public-key: the configuration's own signing key is not evidence of
// who may sign).
func (c *Config) TrustOnly(keys ...ed25519.PublicKey) { c.trusted = keys }

// signer is the evidence signer of evidence.signing_key_file, nil
// without one; the file is read afresh.
func (c *Config) signer() (*evidence.Signer, error) {
	f := c.Evidence.SigningKeyFile
	if f == "" {
		return nil, nil
	}
	signer, err := evidence.LoadSigner(f)
	if err != nil {
		return nil, errclass.Mark(errclass.Config, fmt.Errorf("evidence.signing_key_file: %w", err))
	}
	return signer, nil
}

// BuildSinks creates the configured sinks; stdout is where a stdout sink
// writes, version goes into every manifest and Parquet file. A sink with
// {class} in its prefix is one sink per OCSF class. The sinks read the
// time from time.Now (Build gives them the exporter's clock).
func (c *Config) BuildSinks(ctx context.Context, version string, stdout io.Writer) ([]sinks.Sink, error) {
	return c.buildSinks(ctx, version, nil, stdout)
}

// buildSinks is BuildSinks with the sinks' clock (nil: time.Now).
func (c *Config) buildSinks(ctx context.Context, version string, now func() time.Time, stdout io.Writer) ([]sinks.Sink, error) {
	groups, err := c.buildSinkGroups(ctx, version, now, stdout)
	var out []sinks.Sink
	for _, g := range groups {
		out = append(out, g...)
	}
	return out, err
}

// buildSinkGroups creates, per configured sink, the sinks it stands for,
// reading the time from now (nil: time.Now).
func (c *Config) buildSinkGroups(ctx context.Context, version string, now func() time.Time, stdout io.Writer) ([][]sinks.Sink, error) {
	var out [][]sinks.Sink
	signer, err := c.signer()
	if err != nil {
		return nil, err
	}
	keys := evidence.Keys(c.trusted...)
	if signer != nil && c.trusted == nil {
		keys = evidence.Keys(signer.Public())
	}
	types := c.sinkTypes()
	for i, s := range c.Sinks {
		typ, ok := types[s.Type]
		if !ok {
			return nil, errclass.Mark(errclass.Config, fmt.Errorf("sinks[%d].type %q", i, s.Type))
		}
		classes, prefixes := s.SecurityLakeSources()
		if classes == nil {
			classes, prefixes = []ocsf.Class{{}}, []string{s.Prefix}
		}
		var group []sinks.Sink
		for k, class := range classes {
			format := s.format(version)
			if pq, ok := format.(sinks.Parquet); ok && s.Layout == LayoutSecurityLake {
				pq.SortByTime = true // Security Lake: events sorted by time
				format = pq
			}
			env := SinkEnv{Field: fmt.Sprintf("sinks[%d]", i), Prefix: prefixes[k], Version: version, Now: now, Stdout: stdout, SpoolDir: c.Export.SpoolDir, Format: format}
			if typ.Destination == nil {
				sk, err := typ.Sink(ctx, s, env)
				if err != nil {
					return nil, err
				}
				group = append(group, sk)
				continue
			}
			dest, err := typ.Destination(ctx, s, env)
			if err != nil {
				return nil, err
			}
			o := sinks.New(dest, format)
			o.Version, o.Now, o.Signer = version, now, signer
			if len(keys) > 0 {
				o.Keys = keys
			}
			if class.UID != 0 {
				o.Only = &sinks.Selection{Name: "ocsf_class=" + class.Name, Accepts: func(r *audit.Record) bool { return ocsf.ClassOf(r).UID == class.UID }}
			}
			if s.Layout == LayoutSecurityLake {
				o.Layout = sinks.SecurityLakeLayout(s.Region, s.SecurityLakeAccountID)
			}
			group = append(group, o)
		}
		out = append(out, group)
	}
	return out, nil
}

// validateSinks checks every sink, and that no two write the same objects.
func (c *Config) validateSinks(errs *FieldErrors) {
	if len(c.Sinks) == 0 {
		errs.add("sinks", "at least one sink is required")
	}
	types := c.sinkTypes()
	dests := map[string]string{}
	streams := 0
	for i, s := range c.Sinks {
		p := fmt.Sprintf("sinks[%d]", i)
		typ, ok := types[s.Type]
		if !ok {
			s.validateCommon(p, errs)
			errs.add(p+".type", "%q is not one of: %s", s.Type, strings.Join(types.names(), ", "))
			continue
		}
		s.validateCommon(p, errs)
		s.validateKeys(p, types, errs)
		dest := ""
		if typ.Validate != nil {
			dest = typ.Validate(s, p, errs)
		}
		if dest == "" {
			if streams++; streams > 1 {
				errs.add(p+".type", "only one %s sink is allowed", s.Type)
			}
			continue
		}
		key := dest + "|" + s.format("").Ext()
		if prev, dup := dests[key]; dup {
			errs.add(p, "writes the same objects as %s", prev)
		}
		dests[key] = p
	}
}

// validateCommon checks the keys every sink has: format, compression,
// schema, layout.
func (s SinkConfig) validateCommon(p string, errs *FieldErrors) {
	switch s.Format {
	case "jsonl":
		if s.Compression != "none" && s.Compression != "gzip" {
			errs.add(p+".compression", "%q is not one of: none, gzip (for jsonl)", s.Compression)
		}
	case "parquet":
		if _, err := sinks.ParquetCodec(s.Compression); err != nil {
			errs.add(p+".compression", "%q is not one of: zstd, snappy, none (for parquet)", s.Compression)
		}
	default:
		errs.add(p+".format", "%q is not one of: jsonl, parquet", s.Format)
	}
	if schemaOf(s.Schema) == nil {
		errs.add(p+".schema", "%q is not one of: %s", s.Schema, strings.Join(schemaNames(), ", "))
	}
	s.validateLayout(p, errs)
}

// typedKeys are the keys some sink types have and others not, with
// whether s sets them.
func (s SinkConfig) typedKeys() map[string]bool {
	return map[string]bool{"path": s.Path != "", "bucket": s.Bucket != "", "prefix": s.Prefix != "", "region": s.Region != "", "endpoint": s.Endpoint != "",
		"sse": s.SSE != "", "kms_key_id": s.KMSKeyID != "", "storage_class": s.StorageClass != "", "object_lock.mode": s.ObjectLock.Mode != ""}
}

// validateKeys reports the keys s sets that belong to other sink types.
func (s SinkConfig) validateKeys(p string, types SinkTypes, errs *FieldErrors) {
	own := types[s.Type].Keys
	for k, set := range s.typedKeys() {
		if !set || slices.Contains(own, k) {
			continue
		}
		var owners []string
		for _, n := range types.names() {
			if slices.Contains(types[n].Keys, k) {
				owners = append(owners, n)
			}
		}
		errs.add(p+"."+k, "only for sink type %s", strings.Join(owners, " or "))
	}
}

// ParseWith is Parse with the registry of sink types the file may name
// (Parse and Load take DefaultSinkTypes): a program that writes to more
// destinations passes its own.
func ParseWith(data []byte, lookupEnv func(string) (string, bool), types SinkTypes) (*Config, error) {
	cfg, errs, err := parseWith(data, "", lookupEnv, types)
	if err != nil {
		return nil, err
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}
