package sinks

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
)

// A day's windows are sealed once every window of the UTC day is
// committed: the seal lists each window's object and manifest by SHA-256,
// links to the seal of the day before by its SHA-256, and is written once,
// never replaced. The seals of one account and format thus form a hash
// chain, one link per day, in which the order of the windows is the grid's
// (windows committed out of order, by parallel workers or several
// processes, link the same way). Deleting, replacing or editing a sealed
// window's object or manifest, or a seal, breaks a hash that verify
// checks; with a signing key nobody without the key can forge new ones.
//
// A window that gains a delta after its day was sealed (late records
// appended by a run's look-back or verify --repair) is sealed again in a
// new generation that names the generation it supersedes (by hash) and
// the windows that changed. The older generations stay: history is added
// to, never rewritten.

// SealKind marks a seal document.
const SealKind = "auditlog-exporter day seal v1"

// Seal is one generation of a day's seal.
type Seal struct {
	Kind       string         `json:"kind"`
	Account    string         `json:"account"`
	Date       string         `json:"date"`   // YYYY-MM-DD (UTC)
	Format     string         `json:"format"` // extension: jsonl, jsonl.gz, parquet
	Generation int            `json:"generation"`
	Windows    []SealedWindow `json:"windows"`
	// Previous links to the newest seal of the day before as it was when
	// this one was written; nil when that day had none (the first day
	// exported, or a day before it exported later).
	Previous *SealLink `json:"previous"`
	// Supersedes links to the generation this one replaces; nil for the
	// first.
	Supersedes *SealLink `json:"supersedes"`
	// Reason says why this generation was written.
	Reason          string    `json:"reason"`
	SealedAt        time.Time `json:"sealed_at"`
	ExporterVersion string    `json:"exporter_version"`
	// KeyID names the key that signed the seal ("" unsigned): the
	// envelope's signature says the same, and a reader can see which key
	// to ask for without trusting the envelope.
	KeyID string `json:"key_id,omitempty"`
}

// SealedWindow is one window of a seal: its first object, and its deltas
// in order.
type SealedWindow struct {
	Start time.Time `json:"window_start"`
	End   time.Time `json:"window_end"`
	SealedPart
	Deltas []SealedPart `json:"deltas,omitempty"`
}

// SealedPart is one object of a sealed window.
type SealedPart struct {
	Object         string `json:"object"`
	ObjectSHA256   string `json:"object_sha256"`
	ObjectVersion  string `json:"object_version,omitempty"`
	Records        int64  `json:"records"`
	Manifest       string `json:"manifest"`
	ManifestSHA256 string `json:"manifest_sha256"`
}

// equal reports whether two sealed windows list the same objects.
func (w SealedWindow) equal(o SealedWindow) bool {
	return w.Start.Equal(o.Start) && w.End.Equal(o.End) && w.SealedPart == o.SealedPart && slices.Equal(w.Deltas, o.Deltas)
}

// sealedPart is how a seal lists the part m describes.
func sealedPart(m Manifest, ext string) SealedPart {
	return SealedPart{Object: m.Object, ObjectSHA256: m.SHA256, ObjectVersion: m.ObjectVersion, Records: m.Records,
		Manifest: PartManifestName(m.window(), ext, m.Part), ManifestSHA256: m.Stored.SHA256}
}

// SealLink points at one stored seal.
type SealLink struct {
	Date       string `json:"date"`
	Generation int    `json:"generation"`
	SHA256     string `json:"sha256"` // of the stored seal, envelope included
}

// StoredSeal is a seal as read back.
type StoredSeal struct {
	Seal
	Name   string
	Stored Stored
	// Err says why the stored document is not a valid seal of its day and
	// generation (it is outside input); the other fields are then unset.
	Err error
}

// Link returns the link to s.
func (s StoredSeal) Link() SealLink {
	return SealLink{Date: s.Date, Generation: s.Generation, SHA256: s.Stored.SHA256}
}

// SealOutcome is what SealDay did.
type SealOutcome struct {
	// Written is the generation written, 0 when the day was sealed as it
	// is already or cannot be sealed yet.
	Written int
	// Missing lists the windows of the day without a manifest: nothing
	// is sealed while one is missing.
	Missing []audit.Window
	Seal    StoredSeal
}

// maxSealGenerations bounds how many generations of one day are read: a
// day is sealed again only when a window of it is exported again.
const maxSealGenerations = 1000

// maxSealedWindows is the most windows a day can have (1-minute windows).
const maxSealedWindows = 24 * 60

// maxSealBytes caps a seal read back (a day of 1-minute windows is about
// 700 KB).
const maxSealBytes = 4 << 20

// SealName is the name of a seal generation relative to the destination:
//
//	_seals/account=<a>/<a>_<YYYY-MM-DD>.<ext>.seal-<generation>.json
func SealName(account string, date time.Time, ext string, gen int) string {
	return path.Join("_seals", "account="+account, fmt.Sprintf("%s_%s.%s.seal-%04d.json", account, date.UTC().Format(time.DateOnly), ext, gen))
}

// DayOf returns the start of the UTC day of t.
func DayOf(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Seal implements Archive.
func (v archive) Seal(ctx context.Context, day []audit.Window, reason string) (SealOutcome, error) {
	if len(day) == 0 {
		return SealOutcome{}, errors.New("seal: no windows")
	}
	account, date := day[0].Account, DayOf(day[0].Start)
	var out SealOutcome
	for _, w := range day {
		if w.Account != account || !DayOf(w.Start).Equal(date) || !DayOf(w.End.Add(-time.Nanosecond)).Equal(date) {
			return out, fmt.Errorf("seal: window %s is not of %s %s", w, account, date.Format(time.DateOnly))
		}
	}
	reads := ReadManifests(ctx, v, day)
	for i, r := range reads {
		if r.Err != nil {
			return out, fmt.Errorf("seal: manifest of %s: %w", day[i], r.Err)
		}
	}
	sealed := make([]SealedWindow, 0, len(day))
	for i, w := range day {
		if !reads[i].Found {
			out.Missing = append(out.Missing, w)
			continue
		}
		sw := SealedWindow{Start: w.Start.UTC(), End: w.End.UTC(), SealedPart: sealedPart(reads[i].Manifest, v.o.format.Ext())}
		for _, d := range reads[i].Deltas {
			sw.Deltas = append(sw.Deltas, sealedPart(d, v.o.format.Ext()))
		}
		sealed = append(sealed, sw)
	}
	if len(out.Missing) > 0 {
		return out, nil
	}
	// Another process may seal the same day at once: the generation is
	// created only if it does not exist, and the loser looks again.
	for range 5 {
		gens, err := v.ReadSeals(ctx, account, date)
		if err != nil {
			return out, err
		}
		s := Seal{Kind: SealKind, Account: account, Date: date.Format(time.DateOnly), Format: v.o.format.Ext(), Generation: 1, Windows: sealed,
			Reason: "every window of the day is committed", SealedAt: time.Now().UTC(), ExporterVersion: v.o.Version}
		if n := len(gens); n > 0 {
			last := gens[n-1]
			if last.Err == nil && slices.EqualFunc(last.Windows, sealed, SealedWindow.equal) {
				out.Seal = last
				return out, nil
			}
			s.Generation = last.Generation + 1
			if last.Err != nil {
				s.Generation = n + 1
			}
			link := SealLink{Date: s.Date, Generation: s.Generation - 1, SHA256: last.Stored.SHA256}
			s.Supersedes = &link
			s.Reason = reason + ": " + changedWindows(last, sealed)
		}
		prev, err := v.ReadSeals(ctx, account, date.AddDate(0, 0, -1))
		if err != nil {
			return out, err
		}
		if n := len(prev); n > 0 && prev[n-1].Err == nil {
			link := prev[n-1].Link()
			s.Previous = &link
		}
		if v.o.Signer != nil {
			s.KeyID = v.o.Signer.KeyID()
		}
		b, err := encodeDoc(s, v.o.Signer)
		if err != nil {
			return out, err
		}
		name := SealName(account, date, v.o.format.Ext(), s.Generation)
		created, err := v.k.Create(ctx, name, b)
		if err != nil {
			return out, fmt.Errorf("write seal %s: %w", name, err)
		}
		if created {
			_, st, _ := openDoc(b, nil)
			out.Written = s.Generation
			out.Seal = StoredSeal{Seal: s, Name: name, Stored: st}
			return out, nil
		}
	}
	return out, fmt.Errorf("seal %s %s: other processes kept sealing the same day", account, date.Format(time.DateOnly))
}

// manifestReaders is how many manifests ReadManifests reads at once: a
// day of hourly windows in S3 is 24 small GETs.
const manifestReaders = 8

// ManifestRead is one window's manifests as ReadManifests found them.
type ManifestRead struct {
	Manifest Manifest // of the first object
	Deltas   []Manifest
	Found    bool  // a valid manifest of the first object is there
	Err      error // a manifest cannot be read, or is not a valid manifest of its part
	// Orphan names an object published as the window's next part without
	// a manifest.
	Orphan string
}

// ReadManifests reads the manifests of windows' parts, several windows at once.
func ReadManifests(ctx context.Context, v Archive, windows []audit.Window) []ManifestRead {
	out := make([]ManifestRead, len(windows))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(manifestReaders, len(windows)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := &out[i]
				parts, orphan, err := v.ReadParts(ctx, windows[i])
				r.Orphan, r.Err = orphan, err
				if err == nil && len(parts) > 0 {
					r.Manifest, r.Deltas, r.Found = parts[0], parts[1:], true
				}
			}
		}()
	}
	for i := range windows {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// changedWindows names the windows whose sealed entry differs between a
// seal and the day as it is now.
func changedWindows(old StoredSeal, now []SealedWindow) string {
	before := map[time.Time]SealedWindow{}
	for _, w := range old.Windows {
		before[w.Start] = w
	}
	var names []string
	for _, w := range now {
		if b, ok := before[w.Start]; !ok || !b.equal(w) {
			names = append(names, w.Start.Format("15:04")+"-"+w.End.Format("15:04"))
		}
	}
	if len(names) == 0 {
		return "windows re-listed"
	}
	if len(names) > 20 {
		names = append(names[:20], fmt.Sprintf("and %d more", len(names)-20))
	}
	return "exported again: " + strings.Join(names, ", ")
}

// ReadSeals implements Archive.
func (v archive) ReadSeals(ctx context.Context, account string, date time.Time) ([]StoredSeal, error) {
	var out []StoredSeal
	for gen := 1; gen <= maxSealGenerations; gen++ {
		name := SealName(account, date, v.o.format.Ext(), gen)
		r, found, err := v.k.Get(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		if !found {
			break
		}
		b, err := io.ReadAll(io.LimitReader(r, maxSealBytes+1))
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		s := DecodeSeal(b, account, date, v.o.format.Ext(), gen, v.o.Keys)
		s.Name = name
		if n := len(out); n > 0 {
			// Only the newest generation's windows are compared with the
			// day; older ones are checked by their links and hashes, so
			// what a day's seals hold in memory stays one day's list.
			out[n-1].Windows = nil
		}
		out = append(out, s)
		if gen == maxSealGenerations {
			if _, more, err := v.k.Get(ctx, SealName(account, date, v.o.format.Ext(), gen+1)); err == nil && more {
				return nil, fmt.Errorf("%s %s has more than %d seal generations: not read", account, date.Format(time.DateOnly), maxSealGenerations)
			}
		}
	}
	return out, nil
}

// DecodeSeal parses a stored seal and checks that it is the seal of
// account, date, format ext and generation gen it is stored as, checking a
// signature with keys: a seal is outside input. A seal that fails has Err
// set and nothing else but Stored.
func DecodeSeal(b []byte, account string, date time.Time, ext string, gen int, keys map[string]ed25519.PublicKey) StoredSeal {
	var s StoredSeal
	if len(b) > maxSealBytes {
		s.Err = fmt.Errorf("larger than %d bytes", maxSealBytes)
		return s
	}
	doc, st, err := openDoc(b, keys)
	s.Stored = st
	if err != nil {
		s.Err = err
		return s
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	if err := dec.Decode(&s.Seal); err != nil {
		s.Err = err
		return s
	}
	var problems []string
	if s.Kind != SealKind {
		problems = append(problems, fmt.Sprintf("kind %q is not %q", shortText(s.Kind), SealKind))
	}
	if s.Account != account || s.Date != date.Format(time.DateOnly) || s.Format != ext || s.Generation != gen {
		problems = append(problems, fmt.Sprintf("it describes %s %s %s generation %d, not its name's", shortText(s.Account), shortText(s.Date), shortText(s.Format), s.Generation))
	}
	if n := len(s.Windows); n == 0 || !s.Windows[0].Start.Equal(date) || !s.Windows[n-1].End.Equal(date.AddDate(0, 0, 1)) {
		problems = append(problems, "its windows do not cover the day")
	}
	if len(s.Windows) > maxSealedWindows {
		problems = append(problems, fmt.Sprintf("%d windows, more than the %d one-minute windows of a day", len(s.Windows), maxSealedWindows))
		s.Windows = s.Windows[:0]
	}
	for i, w := range s.Windows {
		if !DayOf(w.Start).Equal(date) || w.End.Sub(w.Start) < time.Minute || (i > 0 && !w.Start.Equal(s.Windows[i-1].End)) {
			problems = append(problems, fmt.Sprintf("window %d (%s..%s) is not the next window of the day", i, w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339)))
			break
		}
	}
	if (s.Supersedes == nil) != (gen == 1) || (s.Supersedes != nil && s.Supersedes.Generation != gen-1) {
		problems = append(problems, "its supersedes link does not name the generation before it")
	}
	if len(problems) > 0 {
		s.Seal = Seal{}
		s.Err = errors.New(strings.Join(problems, "; "))
	}
	// Shown in reports as it is: bounded, without control characters.
	s.Reason = printable(s.Reason, 400)
	return s
}
