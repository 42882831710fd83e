package exporter

import (
	"context"
	"errors"
	"fmt"
	"sort"
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

// Verify compares every complete window in [from, to) of every account with
// what each verifiable sink holds: the object is there, its checksum is the
// one its manifest recorded at commit, and the source holds no record the
// export lacks. With repair, windows that do not match are exported again
// (deterministic names: replaced, never duplicated) and verified again.
func (e *Exporter) Verify(ctx context.Context, from, to time.Time, repair bool) ([]VerifyRow, error) {
	g := e.o.Grid
	first, last := e.completeRange(from, to)
	var rows []VerifyRow
	var errs []error
	for _, a := range e.o.Accounts {
		if err := a.Source.Token(ctx); err != nil {
			errs = append(errs, fmt.Errorf("account %s: %w", a.Name, err))
			continue
		}
		windows := g.Windows(a.Name, first, last)
		r, err := e.verifyWindows(ctx, a, windows)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if repair {
			var bad []audit.Window
			for i, w := range windows {
				for _, row := range r[i] {
					if row.Status != StatusOK {
						bad = append(bad, w)
						break
					}
				}
			}
			if len(bad) > 0 {
				log := e.o.Log.With().Str("account", a.Name).Logger()
				log.Info().Int("windows", len(bad)).Msg("repairing: exporting the windows that do not match again")
				if err := e.exportWindows(ctx, a, ListOf(bad), log, func(int, int, source.Stats) error { return nil }); err != nil {
					errs = append(errs, err)
				}
				again, err := e.verifyWindows(ctx, a, bad)
				if err != nil {
					errs = append(errs, err)
				} else {
					j := 0
					for i, w := range windows {
						if j < len(bad) && bad[j].Start.Equal(w.Start) {
							for k := range again[j] {
								again[j][k].Repaired = true
							}
							r[i] = again[j]
							j++
						}
					}
				}
			}
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

// verifyWindows returns, per window, one row per verifiable sink.
func (e *Exporter) verifyWindows(ctx context.Context, a Account, windows []audit.Window) ([][]VerifyRow, error) {
	out := make([][]VerifyRow, len(windows))
	for i, w := range windows {
		padded, err := a.Source.Count(ctx, w)
		if err != nil {
			return nil, err
		}
		exact := int64(-1) // the window's own count, fetched only when needed
		sourceNow := func(m sinks.Manifest) (int64, error) {
			if padded >= 0 && padded == m.SourceCount {
				return m.Records, nil // unchanged since the export
			}
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
			row := VerifyRow{Account: a.Name, Start: w.Start, End: w.End, Sink: s.Name(), Source: -1, Exported: -1}
			m, found, err := v.ReadManifest(ctx, w)
			if err != nil {
				row.Status, row.Detail = StatusChecksumMismatch, "manifest unreadable: "+err.Error()
				out[i] = append(out[i], row)
				continue
			}
			sum, size, present, err := v.Checksum(ctx, w)
			if err != nil {
				return nil, fmt.Errorf("verify %s in %s: %w", w, s.Name(), err)
			}
			switch {
			case !present:
				row.Status, row.Detail = StatusMissing, "no object"
			case !found:
				row.Status, row.Detail = StatusMissing, "object without manifest (a run stopped between the two)"
			case sum != m.SHA256 || size != m.Bytes:
				row.Exported = m.Records
				row.Status, row.Detail = StatusChecksumMismatch, fmt.Sprintf("object has %d bytes, sha256 %.12s; manifest says %d bytes, %.12s", size, sum, m.Bytes, m.SHA256)
			default:
				row.Exported = m.Records
				if row.Source, err = sourceNow(m); err != nil {
					return nil, err
				}
				switch {
				case row.Source > m.Records && padded > m.SourceCount:
					row.Status, row.Detail = StatusLateArrivals, fmt.Sprintf("%d records became visible after the export at %s", row.Source-m.Records, m.ExportedAt.Format(time.RFC3339))
				case row.Source > m.Records && padded < 0:
					row.Status, row.Detail = StatusShort, fmt.Sprintf("the source has %d records the export lacks (the API sends no count: late arrivals and skipped records look alike)", row.Source-m.Records)
				case row.Source > m.Records:
					row.Status, row.Detail = StatusShort, fmt.Sprintf("the source has %d records the export lacks", row.Source-m.Records)
				default:
					row.Status = StatusOK
					if row.Source < m.Records {
						row.Detail = fmt.Sprintf("the source now holds %d fewer records (retention?)", m.Records-row.Source)
					}
				}
			}
			if row.Source < 0 && row.Status != StatusOK {
				if n, err := sourceNow(sinks.Manifest{SourceCount: -2}); err == nil {
					row.Source = n
				}
			}
			out[i] = append(out[i], row)
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
