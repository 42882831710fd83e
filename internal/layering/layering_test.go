// Package layering holds the test that keeps the packages' dependencies
// running one way: cmd -> {config, exporter} -> {sources, sinks, state} ->
// source, audit (config dispatches to each source package, which owns its
// keys; no source package imports config); evidence (the formats of manifests and seals, their
// chain, signatures, the judges and their statuses) stands on audit alone,
// and sinks, exporter and report stand on it; the schemas (what a record
// is written as) stand on audit alone, and sinks encode with them; each
// destination (sinks/file, sinks/s3, sinks/stream, sinks/memdest) stands
// on the commit layer alone, and only config knows them all.
package layering

import (
	"go/build"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/auditlog-exporter/auditlog-exporter/"

// forbidden lists, per package, the imports it must not have (prefixes,
// relative to the module; "aws" is the AWS SDK).
var forbidden = map[string][]string{
	"audit":            {"*"},
	"errclass":         {"*"},
	"source":           {"odata", "cfaudit", "sinks", "state", "exporter", "config", "metrics", "aws", "evidence"},
	"source/apiclient": {"odata", "cfaudit", "sinks", "state", "exporter", "config", "metrics", "aws", "evidence"},
	// The scriptable memory source stands where every source stands.
	"source/sourcetest": {"odata", "cfaudit", "sinks", "state", "exporter", "config", "metrics", "aws", "evidence"},
	"odata":             {"sinks", "state", "exporter", "config", "metrics", "aws", "cfaudit", "evidence"},
	"cfaudit":           {"sinks", "state", "exporter", "config", "metrics", "aws", "odata", "evidence"},
	// The commit layer knows the contract of a destination, not one.
	"sinks": {"source", "odata", "cfaudit", "state", "exporter", "config", "metrics", "aws", "internal/s3client", "internal/s3err",
		"sinks/file", "sinks/s3", "sinks/stream", "sinks/memdest", "sinks/sinktest"},
	// A destination only publishes: it knows the commit layer, no source,
	// no other destination, nothing of the evidence it stores.
	"sinks/memdest": {"source", "odata", "cfaudit", "state", "exporter", "config", "metrics", "aws", "evidence", "sinks/file", "sinks/s3", "sinks/stream"},
	"sinks/file":    {"source", "odata", "cfaudit", "state", "exporter", "config", "metrics", "aws", "evidence", "sinks/s3", "sinks/stream", "sinks/memdest"},
	"sinks/stream":  {"source", "odata", "cfaudit", "state", "exporter", "config", "metrics", "aws", "evidence", "sinks/file", "sinks/s3", "sinks/memdest"},
	"sinks/s3":      {"source", "odata", "cfaudit", "state", "exporter", "config", "metrics", "evidence", "sinks/file", "sinks/stream", "sinks/memdest"},
	// What destinations stage in stands on nothing of this module.
	"sinks/internal/stage": {"*"},
	// The conformance suite holds every destination to one contract and
	// knows none of them.
	"sinks/sinktest": {"source", "odata", "cfaudit", "state", "exporter", "config", "metrics", "aws", "sinks/file", "sinks/s3", "sinks/stream", "sinks/memdest"},
	"state":          {"source", "odata", "sinks", "exporter", "config", "metrics", "evidence"},
	// The run loop writes through the sink contract, to no destination
	// in particular.
	"exporter": {"odata", "cfaudit", "config", "metrics", "aws", "internal/s3client", "sinks/file", "sinks/s3", "sinks/stream", "sinks/memdest"},
	"metrics":  {"odata", "sinks", "state", "exporter", "config"},
	"config":   {"cmd", "metrics", "report"},
	"evidence": {"aws"},
	"report":   {"source", "odata", "cfaudit", "sinks", "state", "config", "metrics", "aws"},
}

// sourceSide are the packages (prefixes) of the sources: the contract
// and what every source shares (source), and each source's own package
// with its simulator. Each owns its configuration keys, their validation
// and its construction; config imports them and dispatches to them, so
// none of them may import config (nor what the run is built of).
var sourceSide = []string{"source", "odata", "cfaudit"}

// sourceSideForbidden are the imports no package of sourceSide may have.
var sourceSideForbidden = []string{"config", "cmd", "exporter", "sinks", "state", "metrics", "report"}

// standsOn lists, per package, the only packages of this module it may
// import.
var standsOn = map[string][]string{
	"evidence":   {"audit"},
	"schema":     {"audit"},
	"schema/sap": {"audit", "schema"},
}

// leaves are packages that stand on nothing of this module, only the
// standard library: every package may use them (the one capped reader of
// files, the one escaping path for outside text).
var leaves = map[string]bool{"internal/safefile": true, "internal/textsafe": true}

func TestLayering(t *testing.T) {
	root := filepath.Join("..", "..")
	seen := 0
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
			return filepath.SkipDir
		}
		pkg, err := build.ImportDir(path, 0)
		if err != nil {
			return nil // no Go files here
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		seen++
		for _, imp := range pkg.Imports {
			if imp == "html/template" || imp == "text/template" {
				// Executing a template reaches reflect's method lookup by
				// name, and the linker then keeps every exported method of
				// every type: +12 MB of binary, +3-4 MiB per export.
				t.Errorf("%s imports %s: write the output by hand (see report/page.go)", rel, imp)
			}
			if strings.HasPrefix(imp, module+"cmd") {
				t.Errorf("%s imports %s: nothing imports a command", rel, imp)
			}
			if allowed, ok := standsOn[rel]; ok && strings.HasPrefix(imp, module) && !leaves[strings.TrimPrefix(imp, module)] && !slices.Contains(allowed, strings.TrimPrefix(imp, module)) {
				t.Errorf("%s imports %s: it stands on %s alone", rel, imp, strings.Join(allowed, ", "))
			}
			for _, side := range sourceSide {
				if rel != side && !strings.HasPrefix(rel, side+"/") {
					continue
				}
				for _, bad := range sourceSideForbidden {
					if imp == module+bad || strings.HasPrefix(imp, module+bad+"/") {
						t.Errorf("%s imports %s: a source owns its configuration and is built by config, never the other way", rel, imp)
					}
				}
			}
			for _, bad := range forbidden[rel] {
				if bad == "*" && strings.HasPrefix(imp, module) && !leaves[strings.TrimPrefix(imp, module)] {
					t.Errorf("%s imports %s: it stands on nothing of this module", rel, imp)
				}
				if bad == "aws" && (strings.HasPrefix(imp, "github.com/aws/")) {
					t.Errorf("%s imports the AWS SDK (%s)", rel, imp)
				}
				if imp == module+bad || strings.HasPrefix(imp, module+bad+"/") {
					t.Errorf("%s imports %s: dependencies run the other way", rel, imp)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for pkg := range leaves {
		p, err := build.ImportDir(filepath.Join(root, pkg), 0)
		if err != nil {
			t.Errorf("leaf package %s: %v", pkg, err)
			continue
		}
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, module) {
				t.Errorf("%s imports %s: a leaf stands on nothing of this module", pkg, imp)
			}
		}
	}
	for _, rules := range []map[string][]string{forbidden, standsOn} {
		for pkg := range rules {
			if _, err := os.Stat(filepath.Join(root, pkg)); err != nil {
				t.Errorf("package %s of the rules is gone: update the rules", pkg)
			}
		}
	}
	if seen < 15 {
		t.Fatalf("only %d packages found: the walk is broken", seen)
	}
}
