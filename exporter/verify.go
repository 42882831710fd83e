package exporter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/source"
)

// Verify statuses.
const (
	StatusOK               = "ok"
	StatusMissing          = "missing"           // no object (or no manifest) for the window
	StatusChecksumMismatch = "checksum-mismatch" // the object is not what was committed
	StatusLateArrivals     = "late-arrivals"     // the source has records that became visible after the export
	StatusShort            = "short"             // the object holds fewer records than the source had at export time
)

// VerifyRow is one window in one sink.
type VerifyRow struct {
	Account  string    `json:"account"`
	Start    time.Time `json:"window_start"`
	End      time.Time `json:"window_end"`
	Sink     string    `json:"sink"`
	Source   int64     `json:"source"`   // records in the window at the source now
	Exported int64     `json:"exported"` // records in the object, per its manifest; -1 if none
	Status   string    `json:"status"`
	Detail   string    `json:"detail,omitempty"`
	Repaired bool      `json:"repaired,omitempty"`
}

// VerifyOptions shape a verify.
type VerifyOptions struct {
	// Repair exports the windows that do not match again (deterministic
	// names: replaced, never duplicated) and verifies them again.
	Repair bool
}

// Verify compares every complete window in [from, to) of every account with
// what each verifiable sink holds: the object is there, its checksum is the
// one its manifest recorded at commit, and the source holds no record the
// export lacks (see Judge).
func (e *Exporter) Verify(ctx context.Context, from, to time.Time, o VerifyOptions) ([]VerifyRow, error) {
	first, last := e.completeRange(from, to)
	var rows []VerifyRow
	var errs []error
	for _, a := range e.o.Accounts {
		if err := a.Source.Token(ctx); err != nil {
			errs = append(errs, fmt.Errorf("account %s: %w", a.Name, err))
			continue
		}
		windows := e.o.Grid.Windows(a.Name, first, last)
		r, err := e.verifyWindows(ctx, a, windows)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if o.Repair {
			errs = append(errs, e.repair(ctx, a, windows, r)...)
		}
		for _, wr := range r {
			rows = append(rows, wr...)
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if !rows[i].Start.Equal(rows[j].Start) {
			return rows[i].Start.Before(rows[j].Start)
		}
		return rows[i].Account < rows[j].Account
	})
	return rows, errors.Join(errs...)
}

// repair exports again the windows whose rows r (per window) are not all
// ok, verifies them again and puts the new rows, marked repaired, in r.
func (e *Exporter) repair(ctx context.Context, a Account, windows []audit.Window, r [][]VerifyRow) []error {
	var bad []int
	for i := range windows {
		if slices.ContainsFunc(r[i], func(row VerifyRow) bool { return row.Status != StatusOK }) {
			bad = append(bad, i)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	ws := make([]audit.Window, len(bad))
	for j, i := range bad {
		ws[j] = windows[i]
	}
	log := e.o.Log.With().Str("account", a.Name).Logger()
	log.Info().Int("windows", len(ws)).Msg("repairing: exporting the windows that do not match again")
	var errs []error
	if err := e.exportWindows(ctx, a, ListOf(ws), log, func(int, int, source.Stats) error { return nil }); err != nil {
		errs = append(errs, err)
	}
	again, err := e.verifyWindows(ctx, a, ws)
	if err != nil {
		return append(errs, err)
	}
	for j, i := range bad {
		for k := range again[j] {
			again[j][k].Repaired = true
		}
		r[i] = again[j]
	}
	return errs
}

// verifyWindows returns, per window, one row per verifiable sink: it
// gathers the evidence (the manifest, the object's checksum, the source's
// counts, fetched only when needed) and lets Judge decide.
func (e *Exporter) verifyWindows(ctx context.Context, a Account, windows []audit.Window) ([][]VerifyRow, error) {
	out := make([][]VerifyRow, len(windows))
	for i, w := range windows {
		padded, err := a.Source.Count(ctx, w)
		if err != nil {
			return nil, err
		}
		exact := int64(-1) // the window's own count, fetched once, when needed
		count := func() (int64, error) {
			if exact < 0 {
				n, err := countRecords(ctx, a.Source, w)
				if err != nil {
					return 0, err
				}
				exact = n
			}
			return exact, nil
		}
		for _, s := range e.o.Sinks {
			v := s.Verifier()
			if v == nil {
				continue // a stream cannot be read back
			}
			ev := Evidence{Padded: padded, Source: -1}
			ev.Manifest, ev.HasManifest, ev.ManifestErr = v.ReadManifest(ctx, w)
			if ev.ManifestErr == nil {
				if ev.SHA256, ev.Bytes, ev.HasObject, err = v.Checksum(ctx, w); err != nil {
					return nil, fmt.Errorf("verify %s in %s: %w", w, s.Name(), err)
				}
			}
			if ev.Matches() {
				if padded >= 0 && padded == ev.Manifest.SourceCount {
					ev.Source = ev.Manifest.Records // unchanged since the export
				} else if ev.Source, err = count(); err != nil {
					return nil, err
				}
			}
			vd := Judge(ev)
			if vd.Source < 0 && vd.Status != StatusOK && ev.ManifestErr == nil {
				if n, err := count(); err == nil {
					vd.Source = n
				}
			}
			if vd.Status == StatusShort && padded < 0 {
				// No count to tell late arrivals from skipped records: name
				// the records the object lacks (the full comparison).
				if missing, err := missingFrom(ctx, a.Source, v, w); err == nil && len(missing) > 0 {
					vd.Detail += "; not in the object: " + strings.Join(missing, ", ")
				}
			}
			out[i] = append(out[i], VerifyRow{Account: a.Name, Start: w.Start, End: w.End, Sink: s.Name(),
				Source: vd.Source, Exported: vd.Exported, Status: vd.Status, Detail: vd.Detail})
		}
	}
	return out, nil
}

// countRecords counts window w's records at the source, fetching it again
// (as an export does) while the listing shows records skipped.
func countRecords(ctx context.Context, src source.Source, w audit.Window) (int64, error) {
	for attempt := 1; ; attempt++ {
		var n int64
		_, err := src.Fetch(ctx, w, func(*audit.Record) error { n++; return nil })
		if err == nil || !errors.Is(err, source.ErrIncomplete) || attempt == windowAttempts {
			return n, err
		}
	}
}

// maxNamedMissing is how many missing records a verify row names.
const maxNamedMissing = 5

// missingFrom lists (up to maxNamedMissing, then a count) the Uuids the
// source holds for w that the object lacks: the source's window is read
// again and compared with the object's records.
func missingFrom(ctx context.Context, src source.Source, v sinks.Verifier, w audit.Window) ([]string, error) {
	have := map[string]struct{}{}
	if err := v.Records(ctx, w, func(r audit.Record) error { have[r.UUID] = struct{}{}; return nil }); err != nil {
		return nil, err
	}
	var missing []string
	n := 0
	_, err := src.Fetch(ctx, w, func(r *audit.Record) error {
		if _, ok := have[r.UUID]; !ok {
			if n++; n <= maxNamedMissing {
				missing = append(missing, strconv.Quote(src.Scrub(shortID(r.UUID))))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if n > maxNamedMissing {
		missing = append(missing, fmt.Sprintf("and %d more", n-maxNamedMissing))
	}
	return missing, nil
}

// shortID keeps a served Uuid short enough for a report line.
func shortID(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
