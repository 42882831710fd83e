package exporter

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/schollz/progressbar/v3"
)

// NewBarProgress draws a progress bar on a terminal: windows done of total,
// records, records/s, and the time left.
func NewBarProgress(w io.Writer) Progress {
	return &barProgress{w: w, start: time.Now(), bar: progressbar.NewOptions(0,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("windows"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetWidth(30),
		progressbar.OptionOnCompletion(func() { _, _ = fmt.Fprintln(w) }), // a display only
	)}
}

type barProgress struct {
	mu       sync.Mutex
	w        io.Writer
	bar      *progressbar.ProgressBar
	start    time.Time
	total    int
	done     int
	records  int
	requests int
}

func (p *barProgress) AddTotal(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total += n
	p.bar.ChangeMax(p.total)
}

func (p *barProgress) WindowDone(records, requests int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	p.records += records
	p.requests += requests
	secs := max(time.Since(p.start).Seconds(), 0.001)
	p.bar.Describe(fmt.Sprintf("windows, %d records, %.0f records/s, %.1f requests/s", p.records, float64(p.records)/secs, float64(p.requests)/secs))
	_ = p.bar.Add(1)
}

// Finish ends the bar where it is: full when every window was done, as it
// stands when the run was interrupted or failed (then on a line of its
// own, so that what follows is not glued to it).
func (p *barProgress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.total == 0:
	case p.done >= p.total:
		_ = p.bar.Finish()
	default:
		_ = p.bar.Exit()
		_, _ = fmt.Fprintln(p.w)
	}
}

// NewLogProgress logs a progress line every interval while windows are
// being exported, for runs whose stderr is not a terminal.
func NewLogProgress(log zerolog.Logger, interval time.Duration) Progress {
	return &logProgress{log: log, interval: interval, start: time.Now()}
}

type logProgress struct {
	log      zerolog.Logger
	interval time.Duration
	start    time.Time

	mu       sync.Mutex
	total    int
	done     int
	records  int
	requests int
	stop     chan struct{}
}

func (p *logProgress) AddTotal(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total += n
	if p.stop == nil && p.total > 0 {
		p.stop = make(chan struct{})
		go p.loop(p.stop)
	}
}

func (p *logProgress) WindowDone(records, requests int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	p.records += records
	p.requests += requests
}

func (p *logProgress) loop(stop chan struct{}) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			p.report()
		}
	}
}

func (p *logProgress) report() {
	p.mu.Lock()
	defer p.mu.Unlock()
	elapsed := time.Since(p.start)
	ev := p.log.Info().Int("windows_done", p.done).Int("windows_total", p.total).Int("records", p.records).
		Int64("records_per_s", int64(float64(p.records)/max(elapsed.Seconds(), 0.001))).
		Float64("requests_per_s", float64(int(float64(p.requests)/max(elapsed.Seconds(), 0.001)*10))/10)
	if p.done > 0 && p.done < p.total {
		eta := time.Duration(float64(elapsed) / float64(p.done) * float64(p.total-p.done))
		ev = ev.Str("eta", eta.Round(time.Second).String())
	}
	ev.Msg("progress")
}

func (p *logProgress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop != nil {
		close(p.stop)
		p.stop = nil
	}
}
