package errclass

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestClassify(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		err  error
		want Class
	}{
		{nil, Unknown},
		{base, Unknown},
		{Mark(Retryable, base), Retryable},
		{fmt.Errorf("fetch page 3: %w", Mark(Auth, base)), Auth},
		{Mark(Config, fmt.Errorf("x: %w", Mark(Retryable, base))), Config},
		{context.Canceled, Retryable},
		{fmt.Errorf("wrapped: %w", context.DeadlineExceeded), Retryable},
		{Mark(Permanent, context.Canceled), Permanent},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	if Mark(Auth, nil) != nil {
		t.Error("Mark(nil) != nil")
	}
	if e := Mark(Auth, base); !errors.Is(e, base) || e.Error() != "boom" {
		t.Error("Mark must wrap transparently")
	}
}
