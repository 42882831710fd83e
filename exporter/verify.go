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
	"github.com/auditlog-exporter/auditlog-exporter/evidence"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/source"
)

// VerifyRow is one window in one sink.
type VerifyRow struct {
	Account  string          `json:"account"`
	Start    time.Time       `json:"window_start"`
	End      time.Time       `json:"window_end"`
	Sink     string          `json:"sink"`
	Source   int64           `json:"source"`   // records in the window at the source now
	Exported int64           `json:"exported"` // records in the object, per its manifest; -1 if none
	Status   evidence.Status `json:"status"`
	Detail   string          `json:"detail,omitempty"`
	Repaired bool            `json:"repaired,omitempty"`
	// SHA256 is the object's, as its manifest records it.
	SHA256 string `json:"sha256,omitempty"`
	// SignedBy is the key ID that signed the manifest ("" unsigned).
	SignedBy string `json:"signed_by,omitempty"`
	// Sealed names the seal generation that lists the window.
	Sealed string `json:"sealed,omitempty"`
	// Version and Lock are what the destination says of the object
	// (S3: its current version and Object Lock retention).
	Version string `json:"version,omitempty"`
	Lock    string `json:"lock,omitempty"`
}

// DayRow is one UTC day of one account in one sink: its seal chain.
type DayRow struct {
	Account     string           `json:"account"`
	Date        string           `json:"date"`
	Sink        string           `json:"sink"`
	Status      evidence.Status  `json:"status"`
	Detail      string           `json:"detail,omitempty"`
	Generations int              `json:"seal_generations"`
	Seal        string           `json:"seal_sha256,omitempty"` // the newest generation's
	SignedBy    []string         `json:"signed_by,omitempty"`
	Reason      string           `json:"seal_reason,omitempty"` // the newest generation's
	Windows     int              `json:"windows"`
	Records     int64            `json:"records"`
	Categories  map[string]int64 `json:"categories,omitempty"`
}

// VerifyResult is what Verify found.
type VerifyResult struct {
	Windows []VerifyRow `json:"windows"`
	Days    []DayRow    `json:"days"`
	// NotVerifiable lists the sinks that keep nothing verify can read
	// back (a stream, a destination that receives records): none of
	// their windows is checked.
	NotVerifiable []NotVerifiable `json:"not_verifiable"`
}

// NotVerifiable is a sink verify cannot read back, and why.
type NotVerifiable struct {
	Sink   string `json:"sink"`
	Reason string `json:"reason"`
}

// notVerifiableReason says why a sink without an Archive is not checked.
const notVerifiableReason = "not verifiable: the destination keeps nothing to read back (no objects, manifests or seals), so none of its windows is checked"

// Problems counts the windows and days that are not as they should be.
func (r VerifyResult) Problems() (windows, days int) {
	for _, w := range r.Windows {
		if !w.Status.OK() {
			windows++
		}
	}
	for _, d := range r.Days {
		if !d.Status.OK() {
			days++
		}
	}
	return windows, days
}

// VerifyOptions shape a verify.
type VerifyOptions struct {
	// Repair appends what windows lack (a delta of only the records no
	// object of the window holds; nothing committed is replaced), seals
	// the days left unsealed or changed, and verifies them again.
	Repair bool
	// EvidenceOnly checks what the sinks hold (objects, manifests, seals,
	// signatures, locks) without asking the source: no credentials for
	// the API are needed, and no source count is compared.
	EvidenceOnly bool
	// Keys are the public keys manifests and seals must be signed with;
	// none: signatures are reported, not required.
	KeysGiven bool
	// Deep hashes every object's bytes. Without it, an object whose store
	// keeps a checksum of the whole object (S3) is proven by that
	// checksum, from a HEAD request, instead of being downloaded.
	Deep bool
}

// Verify compares every complete window in [from, to) of every account with
// what each verifiable sink holds: the object is there, its checksum is the
// one its manifest recorded at commit, the manifest is the one its day's
// seal lists, and the source holds no record the export lacks (see
// evidence.Judge); and every day the windows touch is sealed in an
// unbroken chain (see evidence.JudgeDay).
func (e *Exporter) Verify(ctx context.Context, from, to time.Time, o VerifyOptions) (VerifyResult, error) {
	first, last := e.completeRange(from, to)
	res := VerifyResult{NotVerifiable: []NotVerifiable{}}
	for _, s := range e.o.Sinks {
		if s.Archive() == nil {
			res.NotVerifiable = append(res.NotVerifiable, NotVerifiable{Sink: s.Name(), Reason: notVerifiableReason})
		}
	}
	var errs []error
	for _, a := range e.o.Accounts {
		if !o.EvidenceOnly {
			if err := a.Source.Token(ctx); err != nil {
				errs = append(errs, fmt.Errorf("account %s: %w", a.Name, err))
				continue
			}
		}
		windows, err := e.tiles(ctx, a.Name, first, last)
		if err != nil {
			errs = append(errs, fmt.Errorf("account %s: %w", a.Name, err))
			continue
		}
		r, days, err := e.verifyWindows(ctx, a, windows, o)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if o.Repair && !o.EvidenceOnly {
			var errs2 []error
			r, days, errs2 = e.repair(ctx, a, windows, r, days, o)
			errs = append(errs, errs2...)
		}
		for _, wr := range r {
			res.Windows = append(res.Windows, wr...)
		}
		res.Days = append(res.Days, days...)
	}
	sort.SliceStable(res.Windows, func(i, j int) bool {
		if !res.Windows[i].Start.Equal(res.Windows[j].Start) {
			return res.Windows[i].Start.Before(res.Windows[j].Start)
		}
		return res.Windows[i].Account < res.Windows[j].Account
	})
	sort.SliceStable(res.Days, func(i, j int) bool {
		if res.Days[i].Date != res.Days[j].Date {
			return res.Days[i].Date < res.Days[j].Date
		}
		return res.Days[i].Account < res.Days[j].Account
	})
	return res, errors.Join(errs...)
}

// repair appends to the windows whose rows r (per window) say records are
// missing (see evidence.Status.Appendable), seals the days again, verifies
// them again and returns the new rows, the repaired ones marked.
func (e *Exporter) repair(ctx context.Context, a Account, windows []audit.Window, r [][]VerifyRow, days []DayRow, o VerifyOptions) ([][]VerifyRow, []DayRow, []error) {
	var bad []int
	for i := range windows {
		if slices.ContainsFunc(r[i], func(row VerifyRow) bool { return row.Status.Appendable() }) {
			bad = append(bad, i)
		}
	}
	badDays := slices.ContainsFunc(days, func(d DayRow) bool { return !d.Status.OK() })
	if len(bad) == 0 && !badDays {
		return r, days, nil
	}
	ws := make([]audit.Window, len(bad))
	for j, i := range bad {
		ws[j] = windows[i]
	}
	log := e.o.Log.With().Str("account", a.Name).Logger()
	var errs []error
	if len(ws) > 0 {
		log.Info().Int("windows", len(ws)).Msg("repairing: appending what the windows lack")
		if err := e.exportWindows(ctx, a, ListOf(ws), log, func(int, int, source.Stats) error { return nil }); err != nil {
			errs = append(errs, err)
		}
	}
	if len(windows) > 0 {
		if err := e.sealDays(ctx, a.Name, windows[0].Start, windows[len(windows)-1].End, "verify --repair", log); err != nil {
			errs = append(errs, err)
		}
	}
	again, days, err := e.verifyWindows(ctx, a, windows, o)
	if err != nil {
		return r, days, append(errs, err)
	}
	for _, i := range bad {
		for k := range again[i] {
			again[i][k].Repaired = true
		}
	}
	return again, days, errs
}

// verifyWindows returns, per window, one row per verifiable sink, and one
// row per day and sink: day by day, it gathers the evidence (the day's
// manifests and seals and those of the days around it, each object's
// checksum, the source's counts, fetched only when needed and once for
// every sink) and lets evidence.Judge and evidence.JudgeDay decide.
func (e *Exporter) verifyWindows(ctx context.Context, a Account, windows []audit.Window, o VerifyOptions) ([][]VerifyRow, []DayRow, error) {
	out := make([][]VerifyRow, len(windows))
	var days []DayRow
	due := e.o.Grid.Due(e.o.Now(), e.o.Lag)
	seals := make([]sealCache, len(e.o.Sinks))
	// The sinks that write only some records, whose counts at the source
	// come from one listing of the window.
	var sels []selective
	selOf := make([]int, len(e.o.Sinks))
	for si, s := range e.o.Sinks {
		selOf[si] = -1
		if o, ok := s.(selective); ok && o.Selective() {
			selOf[si] = len(sels)
			sels = append(sels, o)
		}
	}
	for i := 0; i < len(windows); {
		d := evidence.DayOf(windows[i].Start)
		j := i
		for j < len(windows) && evidence.DayOf(windows[j].Start).Equal(d) {
			j++
		}
		all, err := e.tiles(ctx, a.Name, d, d.Add(day))
		if err != nil {
			return nil, nil, err
		}
		counts := make([]sourceCounts, j-i)
		for k := range counts {
			counts[k] = sourceCounts{src: a.Source, w: windows[i+k], padded: -1, exact: -1, asked: o.EvidenceOnly, evidenceOnly: o.EvidenceOnly, sels: sels}
		}
		for si, s := range e.o.Sinks {
			v := s.Archive()
			if v == nil {
				continue // listed in NotVerifiable
			}
			dev, reads, err := e.dayEvidence(ctx, v, &seals[si], a.Name, all, due, o)
			if err != nil {
				return nil, nil, fmt.Errorf("verify %s %s in %s: %w", a.Name, d.Format(time.DateOnly), s.Name(), err)
			}
			dev.InRange = j-i == len(all)
			dv := evidence.JudgeDay(dev)
			row := DayRow{Account: a.Name, Date: d.Format(time.DateOnly), Sink: s.Name(), Status: dv.Status, Detail: joinProblems(dv.Problems),
				Generations: dv.Generations, SignedBy: dv.SignedBy, Windows: dev.Windows, Categories: map[string]int64{}}
			var sealed map[time.Time]*evidence.SealedWindow
			var sealName string
			if n := len(dev.Seals); n > 0 && dev.Seals[n-1].Err == nil {
				newest := dev.Seals[n-1]
				row.Seal, row.Reason = newest.Stored.SHA256, newest.Reason
				sealName = fmt.Sprintf("the seal of %s (generation %d)", newest.Date, newest.Generation)
				sealed = map[time.Time]*evidence.SealedWindow{}
				for k := range newest.Windows {
					sealed[newest.Windows[k].Start] = &newest.Windows[k]
				}
			}
			for start, m := range dev.Manifests {
				for _, p := range append([]evidence.Manifest{m}, dev.Deltas[start]...) {
					row.Records += p.Records
					for c, n := range p.Categories {
						row.Categories[c] += n
					}
				}
			}
			days = append(days, row)
			first := slices.IndexFunc(all, func(w audit.Window) bool { return w.Start.Equal(windows[i].Start) }) // windows[i] in all
			if first < 0 || first+j-i > len(all) {
				return nil, nil, fmt.Errorf("verify %s %s: the windows changed while verify read them", a.Name, d.Format(time.DateOnly))
			}
			for k := i; k < j; k++ {
				w, r := windows[k], reads[first+k-i]
				ev := evidence.Window{Manifest: r.Manifest, HasManifest: r.Found || r.Err != nil, ManifestErr: r.Err, Padded: -1, Source: -1,
					Sealed: sealed[w.Start], SealName: sealName, KeysGiven: o.KeysGiven, Orphan: r.Orphan}
				for di, d := range r.Deltas {
					p := evidence.Part{Manifest: d}
					if s := sealed[w.Start]; s != nil && di < len(s.Deltas) {
						p.Sealed = &s.Deltas[di]
					}
					ev.Deltas = append(ev.Deltas, p)
				}
				row, err := e.verifyWindow(ctx, a, v, w, ev, counts[k-i].of(selOf[si]), o.Deep)
				if err != nil {
					return nil, nil, fmt.Errorf("verify %s in %s: %w", w, s.Name(), err)
				}
				row.Sink = s.Name()
				out[k] = append(out[k], row)
			}
		}
		i = j
	}
	return out, days, nil
}

// sealCache keeps one sink's seals by day while verify walks the days: a
// day's seals are read for it and for the days on either side.
type sealCache map[time.Time][]evidence.StoredSeal

func (c *sealCache) get(ctx context.Context, v sinks.Archive, account string, d time.Time) ([]evidence.StoredSeal, error) {
	if *c == nil {
		*c = sealCache{}
	}
	if s, ok := (*c)[d]; ok {
		return s, nil
	}
	s, err := v.ReadSeals(ctx, account, d)
	if err != nil {
		return nil, err
	}
	for k := range *c {
		if k.Before(d.Add(-2 * day)) {
			delete(*c, k) // the walk has passed it
		}
	}
	(*c)[d] = s
	return s, nil
}

// dayEvidence reads a day's manifests and seals, and the seals of the
// days before and after it; reads holds every window's manifest, in the
// day's order.
func (e *Exporter) dayEvidence(ctx context.Context, v sinks.Archive, seals *sealCache, account string, all []audit.Window, due time.Time, o VerifyOptions) (evidence.Day, []sinks.ManifestRead, error) {
	d := evidence.DayOf(all[0].Start)
	ev := evidence.Day{Date: d, Due: !d.Add(day).After(due), Windows: len(all), Manifests: map[time.Time]evidence.Manifest{}, Deltas: map[time.Time][]evidence.Manifest{},
		KeysGiven: o.KeysGiven}
	reads := sinks.ReadManifests(ctx, v, all)
	for i, w := range all {
		if reads[i].Found {
			ev.Manifests[w.Start] = reads[i].Manifest
			ev.Deltas[w.Start] = reads[i].Deltas
		}
	}
	var err error
	if ev.Seals, err = seals.get(ctx, v, account, d); err != nil {
		return ev, nil, err
	}
	if ev.Before, err = seals.get(ctx, v, account, d.Add(-day)); err != nil {
		return ev, nil, err
	}
	if ev.After, err = seals.get(ctx, v, account, d.Add(day)); err != nil {
		return ev, nil, err
	}
	return ev, reads, nil
}

// sourceCounts asks the source about one window at most once, whichever
// sinks need it: the padded query's count, and the window's own count
// (a fetch of the whole window).
type sourceCounts struct {
	src           source.Source
	w             audit.Window
	padded, exact int64 // -1: not known
	asked         bool  // padded was asked (or must not be: evidence only)
	evidenceOnly  bool
	// sels are the sinks that write only some records; bySel their
	// records' counts at the source (nil: not listed yet), all from one
	// listing.
	sels  []selective
	bySel []int64
	// sel is the selective sink a view (of) counts for, -1 for none.
	sel  int
	base *sourceCounts
}

// accepts reports whether the sink c counts for writes r.
func (c *sourceCounts) accepts(r *audit.Record) bool {
	return c.base == nil || c.base.sels[c.sel].Accepts(r)
}

// of is the view of c for the sink whose index in sels is sel (-1: a sink
// that writes every record).
func (c *sourceCounts) of(sel int) *sourceCounts {
	if sel < 0 {
		return c
	}
	return &sourceCounts{src: c.src, w: c.w, padded: -1, exact: -1, asked: true, evidenceOnly: c.evidenceOnly, sel: sel, base: c}
}

// Padded is the source's count of the window's padded query (-1: the API
// counts nothing, or the source is not asked).
func (c *sourceCounts) Padded(ctx context.Context) (int64, error) {
	if !c.asked {
		n, err := c.src.Count(ctx, c.w)
		if err != nil {
			return -1, err
		}
		c.padded, c.asked = n, true
	}
	return c.padded, nil
}

// Exact is how many records the window holds at the source now (-1 when
// the source is not asked).
func (c *sourceCounts) Exact(ctx context.Context) (int64, error) {
	if c.base != nil {
		// A selective sink: the API counts no selection, so its records
		// are counted in a listing of the window.
		b := c.base
		if b.bySel == nil && !b.evidenceOnly {
			n, err := countSelected(ctx, b.src, b.w, b.sels)
			if err != nil {
				return 0, err
			}
			b.bySel = n
		}
		if b.bySel == nil {
			return -1, nil
		}
		return b.bySel[c.sel], nil
	}
	if c.exact < 0 && !c.evidenceOnly {
		n, err := countRecords(ctx, c.src, c.w)
		if err != nil {
			return 0, err
		}
		c.exact = n
	}
	return c.exact, nil
}

// verifyWindow completes one window's evidence (the object's checksum and
// state, the source's counts when needed) and judges it.
func (e *Exporter) verifyWindow(ctx context.Context, a Account, v sinks.Archive, w audit.Window, ev evidence.Window, counts *sourceCounts, deep bool) (VerifyRow, error) {
	var err error
	var object sinks.ObjectInfo // what the destination says of the first object
	if ev.Padded, err = counts.Padded(ctx); err != nil {
		return VerifyRow{}, err
	}
	switch {
	case ev.HasManifest && ev.ManifestErr == nil:
		if ev.SHA256, ev.Bytes, ev.HasObject, object, err = objectSum(ctx, v, ev.Manifest.Object, deep); err != nil {
			return VerifyRow{}, err
		}
		ev.Version = object.Version
	case !ev.HasManifest && ev.Orphan != "":
		ev.HasObject = true // the first object, without its manifest
	}
	for i := range ev.Deltas {
		d := &ev.Deltas[i]
		var info sinks.ObjectInfo
		if d.SHA256, d.Bytes, d.HasObject, info, err = objectSum(ctx, v, d.Manifest.Object, deep); err != nil {
			return VerifyRow{}, err
		}
		d.Version = info.Version
	}
	if ev.Matches() && !counts.evidenceOnly {
		if ev.Padded >= 0 && ev.Padded == ev.NewestCount() {
			ev.Source = ev.Records() // unchanged since the newest part was written
		} else if ev.Source, err = counts.Exact(ctx); err != nil {
			return VerifyRow{}, err
		}
	}
	vd := evidence.Judge(ev)
	if vd.Source < 0 && vd.Status != evidence.StatusOK && ev.ManifestErr == nil {
		if n, err := counts.Exact(ctx); err == nil {
			vd.Source = n
		}
	}
	if vd.Status == evidence.StatusShort && ev.Padded < 0 && !counts.evidenceOnly {
		// No count to tell late arrivals from skipped records: name the
		// records the object lacks (the full comparison).
		if missing, err := missingFrom(ctx, a.Source, v, ev, w, counts.accepts); err == nil && len(missing) > 0 {
			vd.Detail += "; not in the object: " + strings.Join(missing, ", ")
		}
	}
	row := VerifyRow{Account: a.Name, Start: w.Start, End: w.End, Source: vd.Source, Exported: vd.Exported, Status: vd.Status, Detail: vd.Detail,
		Version: object.Version}
	if ev.HasManifest && ev.ManifestErr == nil {
		row.SHA256, row.SignedBy = ev.Manifest.SHA256, ev.Manifest.Stored.SignedBy()
	}
	if ev.Sealed != nil {
		row.Sealed = ev.SealName
	}
	if object.LockMode != "" {
		row.Lock = object.LockMode + " until " + object.LockUntil.UTC().Format(time.RFC3339)
	}
	return row, nil
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

// countSelected counts, in one listing of w, the records each of sels
// writes.
func countSelected(ctx context.Context, src source.Source, w audit.Window, sels []selective) ([]int64, error) {
	for attempt := 1; ; attempt++ {
		n := make([]int64, len(sels))
		_, err := src.Fetch(ctx, w, func(r *audit.Record) error {
			for i, s := range sels {
				if s.Accepts(r) {
					n[i]++
				}
			}
			return nil
		})
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
func missingFrom(ctx context.Context, src source.Source, v sinks.Archive, ev evidence.Window, w audit.Window, accepts func(*audit.Record) bool) ([]string, error) {
	have := sinks.NewHeld()
	parts := []evidence.Manifest{ev.Manifest}
	for _, d := range ev.Deltas {
		parts = append(parts, d.Manifest)
	}
	if err := v.Hold(ctx, parts, have); err != nil {
		return nil, err
	}
	var missing []string
	n := 0
	_, err := src.Fetch(ctx, w, func(r *audit.Record) error {
		if accepts(r) && !have.Has(r.UUID) {
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

// joinProblems renders a verdict's problems as one detail.
func joinProblems(p []string) string { return strings.Join(p, "; ") }

// shortID keeps a served Uuid short enough for a report line.
func shortID(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// objectSum is an object's SHA-256 and size, and what the destination says
// of it: from the checksum of the whole object the store keeps (one HEAD)
// unless deep or the store keeps none, else by reading every byte.
func objectSum(ctx context.Context, v sinks.Archive, object string, deep bool) (sum string, size int64, found bool, info sinks.ObjectInfo, err error) {
	if info, err = v.Inspect(ctx, object); err != nil {
		return "", 0, false, info, err
	}
	if !deep && info.SHA256 != "" {
		return info.SHA256, info.Size, true, info, nil
	}
	sum, size, found, err = v.Checksum(ctx, object)
	if !found {
		info = sinks.ObjectInfo{}
	}
	return sum, size, found, info, err
}
