package stream_test

import (
	"testing"

	"github.com/auditlog-exporter/auditlog-exporter/sinks/stream"
)

func TestConfigValidate(t *testing.T) {
	if errs := (stream.Config{}).Validate("sinks[0]", "jsonl"); len(errs) != 0 {
		t.Fatal(errs)
	}
	if errs := (stream.Config{}).Validate("sinks[1]", "parquet"); len(errs) != 1 || errs[0].Path != "sinks[1].format" {
		t.Fatalf("parquet on a stream: %v", errs)
	}
	if (stream.Config{}).Target() != "" {
		t.Fatal("a stream has a target: it would be taken for a destination of objects")
	}
}
