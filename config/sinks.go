package config

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"reflect"
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

// SinkType is one kind of sink (sinks[].type). Every kind is one entry
// of SinkTypes; nothing registers itself.
//
// A destination of objects (a directory, a bucket, a stream) is its
// configuration (sinks.DestConfig: its keys, their checks, its
// construction), found in the sink's SinkConfig; the commit layer
// (sinks.Output) gives it the format, the manifests, the seals and the
// signer. A destination that receives records instead of objects (a bulk
// API, a message queue) builds its whole Sink.
type SinkType struct {
	// Dest is the destination's configuration in s (one of SinkConfig's
	// inline fields).
	Dest func(s SinkConfig) sinks.DestConfig
	// Sink builds a sink that is not an Output on a destination; used
	// when Dest is nil.
	Sink func(ctx context.Context, s SinkConfig, env SinkEnv) (sinks.Sink, error)
}

// SinkEnv is what building a sink of records takes.
type SinkEnv struct {
	sinks.Env
	// Version goes into what the sink writes.
	Version string
	// Format is what the sink's format and schema would write.
	Format sinks.Format
}

// SinkTypes is the registry of sink kinds, by sinks[].type.
type SinkTypes map[string]SinkType

// DefaultSinkTypes returns the registry of the sinks this program
// writes: adding a destination is a package, its keys in SinkConfig and a
// line here.
func DefaultSinkTypes() SinkTypes {
	return SinkTypes{
		"file":   {Dest: func(s SinkConfig) sinks.DestConfig { return s.File }},
		"s3":     {Dest: func(s SinkConfig) sinks.DestConfig { return s.S3 }},
		"stdout": {Dest: func(s SinkConfig) sinks.DestConfig { return s.Stdout }},
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

// sinkTypes are the sink types of the registry c was parsed with.
func (c *Config) sinkTypes() SinkTypes {
	if c.registry.Sinks == nil {
		return DefaultSinkTypes()
	}
	return c.registry.Sinks
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
			classes, prefixes = []ocsf.Class{{}}, []string{s.S3.Prefix}
		}
		var group []sinks.Sink
		for k, class := range classes {
			format := s.format(version)
			if pq, ok := format.(sinks.Parquet); ok && s.Layout == LayoutSecurityLake {
				pq.SortByTime = true // Security Lake: events sorted by time
				format = pq
			}
			env := sinks.Env{Field: fmt.Sprintf("sinks[%d]", i), Prefix: prefixes[k], SpoolDir: c.Export.SpoolDir, Stdout: stdout, Now: now}
			if s.Layout == LayoutSecurityLake {
				env.MaxObjectSize, env.MaxObjectSizeWhy = sinks.MaxSecurityLakeObjectSize, "the largest object Security Lake wants from a custom source"
			}
			if typ.Dest == nil {
				if typ.Sink == nil {
					return nil, fmt.Errorf("sinks[%d]: sink type %q builds nothing", i, s.Type)
				}
				sk, err := typ.Sink(ctx, s, SinkEnv{Env: env, Version: version, Format: format})
				if err != nil {
					return nil, err
				}
				group = append(group, sk)
				continue
			}
			dest, err := typ.Dest(s).Build(ctx, env)
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
				o.Layout = sinks.SecurityLakeLayout(s.S3.Region, s.SecurityLakeAccountID)
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
	streams := map[string]int{}
	for i, s := range c.Sinks {
		p := fmt.Sprintf("sinks[%d]", i)
		s.validateCommon(p, errs)
		typ, ok := types[s.Type]
		if !ok {
			errs.add(p+".type", "%q is not one of: %s", s.Type, strings.Join(types.names(), ", "))
			continue
		}
		s.validateKeys(p, types, errs)
		dest := ""
		if typ.Dest != nil {
			dc := typ.Dest(s)
			for _, e := range dc.Validate(p, s.Format) {
				errs.add(e.Path, "%s", e.Msg)
			}
			dest = dc.Target()
		}
		if dest == "" {
			if streams[s.Type]++; streams[s.Type] > 1 {
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
// schema, layout; and every endpoint's form.
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
	if ep, ok := s.destKeys()["endpoint"]; ok {
		validateEndpoint(p+".endpoint", ep.String(), errs)
	}
}

// destKeys are the destination keys s sets (inline fields of SinkConfig,
// nested keys joined with "."), with their values.
func (s SinkConfig) destKeys() map[string]reflect.Value {
	out := map[string]reflect.Value{}
	v := reflect.ValueOf(s)
	for i := 0; i < v.NumField(); i++ {
		if strings.HasSuffix(v.Type().Field(i).Tag.Get("yaml"), ",inline") {
			setKeys(v.Field(i), "", out)
		}
	}
	return out
}

// setKeys adds the keys of struct value v that are set, under prefix.
func setKeys(v reflect.Value, prefix string, out map[string]reflect.Value) {
	for i := 0; i < v.NumField(); i++ {
		key := strings.Split(v.Type().Field(i).Tag.Get("yaml"), ",")[0]
		if key == "" || key == "-" {
			continue
		}
		f := v.Field(i)
		if f.Kind() == reflect.Struct {
			setKeys(f, prefix+key+".", out)
		} else if !f.IsZero() {
			out[prefix+key] = f
		}
	}
}

// keysOf are the keys a destination configuration has, nested keys joined
// with ".".
func keysOf(t reflect.Type, prefix string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		key := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if key == "" || key == "-" {
			continue
		}
		if t.Field(i).Type.Kind() == reflect.Struct {
			out = append(out, keysOf(t.Field(i).Type, prefix+key+".")...)
		} else {
			out = append(out, prefix+key)
		}
	}
	return out
}

// keys are the keys of sink type name.
func (t SinkTypes) keys(name string) []string {
	if typ := t[name]; typ.Dest != nil {
		return keysOf(reflect.TypeOf(typ.Dest(SinkConfig{})), "")
	}
	return nil
}

// validateKeys reports the destination keys s sets that belong to other
// sink types.
func (s SinkConfig) validateKeys(p string, types SinkTypes, errs *FieldErrors) {
	own := types.keys(s.Type)
	for k := range s.destKeys() {
		if slices.Contains(own, k) {
			continue
		}
		var owners []string
		for _, n := range types.names() {
			if slices.Contains(types.keys(n), k) {
				owners = append(owners, n)
			}
		}
		errs.add(p+"."+k, "only for sink type %s", strings.Join(owners, " or "))
	}
}
