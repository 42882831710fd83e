package file_test

import (
	"testing"

	"github.com/auditlog-exporter/auditlog-exporter/sinks/file"
)

func TestConfigValidate(t *testing.T) {
	if errs := (file.Config{Path: "./out"}).Validate("sinks[0]", "jsonl"); len(errs) != 0 {
		t.Fatal(errs)
	}
	if errs := (file.Config{}).Validate("sinks[2]", "jsonl"); len(errs) != 1 || errs[0].Path != "sinks[2].path" {
		t.Fatalf("no path: %v", errs)
	}
	if a, b := (file.Config{Path: "./out/"}).Target(), (file.Config{Path: "out"}).Target(); a != b {
		t.Fatalf("one directory, two targets: %s, %s", a, b)
	}
}
