package evidence

import (
	"errors"
	"fmt"
	"time"
)

// Day is what verify found of one UTC day of one account in one
// sink.
type Day struct {
	Date time.Time
	// Due: every window of the day is due (a day still being exported
	// has no seal yet).
	Due bool
	// InRange: the whole day is in the range checked.
	InRange bool
	// Windows is the number of windows in the day; Manifests holds the
	// valid manifests found, by window start.
	Windows   int
	Manifests map[time.Time]Manifest
	// Deltas holds the valid manifests of each window's deltas, in order.
	Deltas map[time.Time][]Manifest
	// Seals are the day's seal generations, oldest first; Before and
	// After those of the days around it (for the links).
	Seals, Before, After []StoredSeal
	KeysGiven            bool
}

// DayVerdict is the status of one day in one sink.
//
// A day only partly in the range checked may lack windows on purpose: the
// first day of an export that starts after midnight is never complete, so
// never sealed.
type DayVerdict struct {
	Status      Status
	Problems    []string
	Generations int
	SignedBy    []string // key IDs of the seals, oldest first ("" unsigned)
}

// JudgeDay decides a day from the evidence alone: every seal generation
// is valid and (with keys) signed by a known key; each generation
// supersedes the one before it as it is stored; the newest links to the
// day before's seal as stored, and the day after's links to this day's as
// stored; and the newest covers every window's manifest as it is now.
func JudgeDay(ev Day) DayVerdict {
	v := DayVerdict{Generations: len(ev.Seals)}
	problem := func(f string, args ...any) { v.Problems = append(v.Problems, fmt.Sprintf(f, args...)) }
	// The day after may link to a seal of this day that is gone.
	for _, a := range ev.After {
		if a.Err != nil || a.Previous == nil || a.Previous.Date != ev.Date.Format(time.DateOnly) {
			continue
		}
		if g := a.Previous.Generation; g < 1 || g > len(ev.Seals) || ev.Seals[g-1].Stored.SHA256 != a.Previous.SHA256 {
			problem("the seal of %s (generation %d) links to generation %d of this day with sha256 %.12s, which is not stored: that seal was deleted or replaced",
				a.Date, a.Generation, g, a.Previous.SHA256)
		}
	}
	if len(ev.Seals) == 0 {
		switch {
		case len(v.Problems) > 0:
			v.Status = DayBroken
		case !ev.Due:
			v.Status = DayOpen
		case len(ev.Manifests) == ev.Windows:
			v.Status = DayUnsealed
			problem("every window of the day is committed but no seal covers them: the seal was deleted, or a run stopped before writing it (verify --repair seals the day)")
		case !ev.InRange:
			v.Status = DayPartial
		default:
			v.Status = DayIncomplete
			problem("%d of %d windows have no manifest and the day has no seal", ev.Windows-len(ev.Manifests), ev.Windows)
		}
		return v
	}
	for i, s := range ev.Seals {
		v.SignedBy = append(v.SignedBy, s.Stored.SignedBy())
		gen := i + 1
		switch st := s.Stored; {
		case s.Err != nil:
			problem("seal generation %d is not a valid seal of this day: %v", gen, s.Err)
			continue
		case st.SigErr != nil && (ev.KeysGiven || !errors.Is(st.SigErr, ErrUnknownKey)):
			problem("seal generation %d, signed by %s: %v", gen, st.SignedBy(), st.SigErr)
		case ev.KeysGiven && st.Signature == nil:
			problem("seal generation %d is not signed, but public keys were given", gen)
		case st.Signature != nil && s.KeyID != st.Signature.KeyID:
			problem("seal generation %d names key %s but is signed by %s", gen, shortID(s.KeyID), st.SignedBy())
		}
		if gen > 1 && s.Supersedes != nil && s.Supersedes.SHA256 != ev.Seals[i-1].Stored.SHA256 {
			problem("seal generation %d supersedes generation %d with sha256 %.12s, but the stored one has %.12s: generation %d was replaced",
				gen, gen-1, s.Supersedes.SHA256, ev.Seals[i-1].Stored.SHA256, gen-1)
		}
		if p := s.Previous; p != nil {
			want := ev.Date.Add(-24 * time.Hour).Format(time.DateOnly)
			if g := p.Generation; p.Date != want || g < 1 || g > len(ev.Before) || ev.Before[g-1].Stored.SHA256 != p.SHA256 {
				problem("seal generation %d links to the seal of %s (generation %d, sha256 %.12s), which is not stored: that seal was deleted or replaced",
					gen, shortID(p.Date), p.Generation, p.SHA256)
			}
		}
	}
	newest := ev.Seals[len(ev.Seals)-1]
	unsealed := 0 // windows with deltas newer than the newest seal
	if newest.Err == nil {
		differ := 0
		for _, w := range newest.Windows {
			m, ok := ev.Manifests[w.Start]
			deltas := ev.Deltas[w.Start]
			if !ok || m.Stored.SHA256 != w.ManifestSHA256 || len(deltas) < len(w.Deltas) {
				differ++
				continue
			}
			for i, d := range w.Deltas {
				if deltas[i].Stored.SHA256 != d.ManifestSHA256 {
					differ++
					break
				}
			}
			if len(deltas) > len(w.Deltas) {
				unsealed++
			}
		}
		if differ > 0 {
			problem("%d of the %d windows the newest seal lists are missing or differ from it (see the windows)", differ, len(newest.Windows))
		}
	}
	v.Status = DaySealed
	switch {
	case len(v.Problems) > 0:
		v.Status = DayBroken
	case unsealed > 0:
		v.Status = DayUnsealed
		problem("%d windows gained deltas (late records) after the newest seal: a run stopped before sealing the day again (verify --repair seals it)", unsealed)
	}
	return v
}
