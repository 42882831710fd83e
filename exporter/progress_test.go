package exporter

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestBarProgress(t *testing.T) {
	var buf bytes.Buffer
	p := NewBarProgress(&buf)
	p.AddTotal(3)
	p.AddTotal(1)
	for i := 0; i < 4; i++ {
		p.WindowDone(250, 3)
	}
	p.Finish()
	out := buf.String()
	if !strings.Contains(out, "4/4") || !strings.Contains(out, "1000 records") || !strings.Contains(out, "records/s") {
		t.Fatalf("bar output %q", out)
	}
}

// An interrupted run's bar stays where it was (7 of 30 windows), ends its
// line, and does not claim 100%.
func TestBarProgressInterrupted(t *testing.T) {
	var buf bytes.Buffer
	p := NewBarProgress(&buf)
	p.AddTotal(30)
	for range 7 {
		p.WindowDone(10, 1)
	}
	p.Finish()
	out := buf.String()
	if strings.Contains(out, "30/30") || strings.Contains(out, "100%") || !strings.HasSuffix(out, "\n") {
		t.Fatalf("interrupted bar %q: want it at 7/30, on a line of its own", out)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func TestLogProgress(t *testing.T) {
	var buf lockedBuffer
	p := NewLogProgress(zerolog.New(&buf), 20*time.Millisecond)
	p.AddTotal(10)
	p.WindowDone(500, 2)
	p.WindowDone(500, 2)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(buf.String(), `"message":"progress"`) {
		if time.Now().After(deadline) {
			t.Fatal("no progress line")
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.Finish()
	line := buf.String()
	for _, want := range []string{`"windows_done":2`, `"windows_total":10`, `"records":1000`, `"records_per_s":`, `"eta":`} {
		if !strings.Contains(line, want) {
			t.Fatalf("progress line lacks %s: %s", want, line)
		}
	}
	n := strings.Count(buf.String(), "progress")
	time.Sleep(60 * time.Millisecond)
	if strings.Count(buf.String(), "progress") != n {
		t.Fatal("progress lines after Finish")
	}
}
