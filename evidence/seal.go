package evidence

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
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

// maxSealedWindows is the most windows a day can have (1-minute windows).
const maxSealedWindows = 24 * 60

// MaxSealBytes caps a seal read back (a day of 1-minute windows is about
// 700 KB).
const MaxSealBytes = 4 << 20

// DayOf returns the start of the UTC day of t.
func DayOf(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// NextSeal returns the generation of account's seal of the UTC day date
// in format ext to write now that the day's windows are sealed as
// windows, given the day's stored generations (oldest first): the first,
// or one that supersedes the newest and says why (reason, and the windows
// that changed). same reports that the newest generation lists the
// windows as they are already: nothing is to be written. The caller links
// the seal to the day before (Previous, see NewestLink) and stamps it
// (SealedAt, ExporterVersion, KeyID).
func NextSeal(account string, date time.Time, ext string, windows []SealedWindow, gens []StoredSeal, reason string) (s Seal, same bool) {
	s = Seal{Kind: SealKind, Account: account, Date: date.Format(time.DateOnly), Format: ext, Generation: 1, Windows: windows,
		Reason: "every window of the day is committed"}
	n := len(gens)
	if n == 0 {
		return s, false
	}
	last := gens[n-1]
	if last.Err == nil && slices.EqualFunc(last.Windows, windows, SealedWindow.equal) {
		return s, true
	}
	s.Generation = last.Generation + 1
	if last.Err != nil {
		s.Generation = n + 1
	}
	link := SealLink{Date: s.Date, Generation: s.Generation - 1, SHA256: last.Stored.SHA256}
	s.Supersedes = &link
	s.Reason = reason + ": " + changedWindows(last, windows)
	return s, false
}

// NewestLink links to the newest of a day's seal generations (oldest
// first); nil when the day has none, or the newest is not a valid seal.
func NewestLink(gens []StoredSeal) *SealLink {
	if n := len(gens); n > 0 && gens[n-1].Err == nil {
		link := gens[n-1].Link()
		return &link
	}
	return nil
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

// DecodeSeal parses a stored seal and checks that it is the seal of
// account, date, format ext and generation gen it is stored as, checking a
// signature with keys: a seal is outside input. A seal that fails has Err
// set and nothing else but Stored.
func DecodeSeal(b []byte, account string, date time.Time, ext string, gen int, keys map[string]ed25519.PublicKey) StoredSeal {
	var s StoredSeal
	if len(b) > MaxSealBytes {
		s.Err = fmt.Errorf("larger than %d bytes", MaxSealBytes)
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
