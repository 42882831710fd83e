package evidence

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestJudge(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	m := Manifest{Records: 100, SourceCount: 120, SHA256: sum, Bytes: 5000, ExportedAt: time.Date(2026, 11, 24, 11, 0, 0, 0, time.UTC)}
	uncounted := m
	uncounted.SourceCount = -1
	matching := func(m Manifest, padded, source int64) Window {
		return Window{Manifest: m, HasManifest: true, HasObject: true, SHA256: m.SHA256, Bytes: m.Bytes, Padded: padded, Source: source}
	}
	delta := Manifest{Part: 1, Object: "d1", Records: 4, SourceCount: 125, SHA256: strings.Repeat("cd", 32), Bytes: 200, ExportedAt: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	withDelta := func(ev Window, d Manifest, f func(*Part)) Window {
		p := Part{Manifest: d, HasObject: true, SHA256: d.SHA256, Bytes: d.Bytes}
		if f != nil {
			f(&p)
		}
		ev.Deltas = append(ev.Deltas, p)
		return ev
	}
	edit := func(f func(*Window)) Window {
		ev := matching(m, 120, 100)
		f(&ev)
		return ev
	}
	for _, tc := range []struct {
		name     string
		ev       Window
		status   Status
		exported int64
		source   int64
		detail   string
	}{
		{"the object as committed, source unchanged", matching(m, 120, 100), StatusOK, 100, 100, ""},
		{"fewer records at the source now", matching(m, 110, 90), StatusOK, 100, 90, "10 fewer records (retention?)"},
		{"the count grew: late arrivals", matching(m, 125, 104), StatusLateArrivals, 100, 104, "4 records became visible after the export at 2026-11-24T11:00:00Z"},
		{"same count, more records: short", matching(m, 120, 103), StatusShort, 100, 103, "the source has 3 records the export lacks"},
		{"a count that shrank, more records: short", matching(m, 119, 101), StatusShort, 100, 101, "the source has 1 records the export lacks"},
		{"no count at all: short, and said why", matching(uncounted, -1, 101), StatusShort, 100, 101, "late arrivals and skipped records look alike"},
		{"no count, nothing more: ok", matching(uncounted, -1, 100), StatusOK, 100, 100, ""},
		{"the committed object deleted", edit(func(ev *Window) { ev.HasObject, ev.SHA256, ev.Bytes = false, "", 0 }), StatusDeleted, -1, 100, "deleted outside the exporter"},
		{"no object, no manifest", Window{Padded: 120, Source: -1}, StatusMissing, -1, -1, "no object"},
		{"object without manifest", edit(func(ev *Window) { ev.HasManifest, ev.Manifest = false, Manifest{} }), StatusMissing, -1, 100, "object without manifest"},
		{"an edited object (same size)", edit(func(ev *Window) { ev.SHA256 = strings.Repeat("cd", 32) }), StatusChecksumMismatch, 100, 100, "manifest says 5000 bytes"},
		{"a truncated object", edit(func(ev *Window) { ev.Bytes = 4000 }), StatusChecksumMismatch, 100, 100, "object has 4000 bytes"},
		{"signed by a key given", edit(func(ev *Window) {
			ev.KeysGiven, ev.Manifest.Stored.Signature = true, &Signature{KeyID: "ed25519:k"}
		}), StatusOK, 100, 100, ""},
		{"signed by a key not given, none given", edit(func(ev *Window) {
			ev.Manifest.Stored.Signature, ev.Manifest.Stored.SigErr = &Signature{KeyID: "ed25519:k"}, ErrUnknownKey
		}), StatusOK, 100, 100, ""},
		{"signed by a key not given", edit(func(ev *Window) {
			ev.KeysGiven, ev.Manifest.Stored.Signature, ev.Manifest.Stored.SigErr = true, &Signature{KeyID: "ed25519:other"}, ErrUnknownKey
		}), StatusBadSignature, 100, 100, "manifest signed by ed25519:other"},
		{"a signature that does not verify, no keys given", edit(func(ev *Window) {
			ev.Manifest.Stored.Signature, ev.Manifest.Stored.SigErr = &Signature{KeyID: "ed25519:k"}, errors.New("the signature does not verify")
		}), StatusBadSignature, 100, 100, "does not verify"},
		{"unsigned while keys were given", edit(func(ev *Window) { ev.KeysGiven = true }), StatusBadSignature, 100, 100, "not signed"},
		{"as sealed", edit(func(ev *Window) {
			ev.Manifest.Stored.SHA256 = "m1"
			ev.Sealed, ev.SealName = &SealedWindow{SealedPart: SealedPart{ManifestSHA256: "m1", ObjectSHA256: sum}}, "the seal of 2026-11-24 (generation 1)"
		}), StatusOK, 100, 100, ""},
		{"manifest changed after sealing", edit(func(ev *Window) {
			ev.Manifest.Stored.SHA256 = "m2"
			ev.Sealed, ev.SealName = &SealedWindow{SealedPart: SealedPart{ManifestSHA256: "m1", ObjectSHA256: sum}}, "the seal of 2026-11-24 (generation 1)"
		}), StatusNotAsSealed, 100, 100, "not the one the seal of 2026-11-24 (generation 1) lists"},
		{"object and manifest edited together after sealing", edit(func(ev *Window) {
			ev.SHA256, ev.Manifest.SHA256, ev.Manifest.Stored.SHA256 = "x", "x", "m1"
			ev.Sealed, ev.SealName = &SealedWindow{SealedPart: SealedPart{ManifestSHA256: "m1", ObjectSHA256: sum}}, "the seal"
		}), StatusNotAsSealed, 100, 100, "the object is not the one the seal lists"},
		{"the committed version hidden by a newer one", edit(func(ev *Window) { ev.Manifest.ObjectVersion, ev.Version = "v1", "v2" }), StatusOverwritten, 100, 100, "current version v2 is not the committed version v1"},
		{"the committed version hidden by other bytes", edit(func(ev *Window) { ev.Manifest.ObjectVersion, ev.Version, ev.SHA256 = "v1", "v2", "ff" }), StatusChecksumMismatch, 100, 100, "committed version v1, which is still stored"},
		{"the committed version current", edit(func(ev *Window) { ev.Manifest.ObjectVersion, ev.Version = "v1", "v1" }), StatusOK, 100, 100, ""},
		{"a manifest that cannot be trusted", edit(func(ev *Window) { ev.ManifestErr = errors.New("manifest: it describes another window") }), StatusChecksumMismatch, -1, -1, "manifest unreadable: manifest: it describes another window"},
		{"a delta as committed: both parts count", withDelta(matching(m, 125, 104), delta, nil), StatusOK, 104, 104, ""},
		{"late records after the delta: compared with its count", withDelta(matching(m, 126, 105), delta, nil), StatusLateArrivals, 104, 105, "1 records became visible after the export at 2026-11-24T12:00:00Z"},
		{"a delta edited", withDelta(matching(m, 125, 104), delta, func(p *Part) { p.SHA256 = strings.Repeat("ee", 32) }), StatusChecksumMismatch, 104, 104, "delta 1 (d1): object has"},
		{"a delta deleted", withDelta(matching(m, 125, 104), delta, func(p *Part) { p.HasObject = false }), StatusDeleted, 104, 104, "delta 1 (d1): gone though its manifest is there"},
		{"a delta the seal lists is gone", edit(func(ev *Window) {
			ev.Sealed, ev.SealName = &SealedWindow{SealedPart: SealedPart{ObjectSHA256: sum}, Deltas: []SealedPart{{}}}, "the seal"
			ev.Sealed.ManifestSHA256 = ev.Manifest.Stored.SHA256
		}), StatusNotAsSealed, 100, 100, "lists 1 deltas of the window, 0 are stored"},
		{"a delta's manifest changed after sealing", withDelta(matching(m, 125, 104), delta, func(p *Part) { p.Sealed = &SealedPart{ManifestSHA256: "other", ObjectSHA256: p.SHA256} }), StatusNotAsSealed, 104, 104, "delta 1 (d1): the manifest is not the one"},
		{"a delta object without manifest", edit(func(ev *Window) { ev.Orphan = "d2" }), StatusMissing, 100, 100, "d2 has no manifest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Judge(tc.ev)
			if v.Status != tc.status || v.Exported != tc.exported || v.Source != tc.source || !strings.Contains(v.Detail, tc.detail) || (tc.detail == "" && v.Detail != "") {
				t.Fatalf("Judge = %+v, want %s, exported %d, source %d, detail containing %q", v, tc.status, tc.exported, tc.source, tc.detail)
			}
		})
	}
}

func TestJudgeDay(t *testing.T) {
	d := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	windows := func(sha string) (map[time.Time]Manifest, []SealedWindow) {
		ms := map[time.Time]Manifest{}
		var sw []SealedWindow
		for i := range 4 {
			st := d.Add(time.Duration(i) * 6 * time.Hour)
			m := Manifest{Records: 2}
			m.Stored.SHA256 = fmt.Sprint(sha, i)
			ms[st] = m
			sw = append(sw, SealedWindow{Start: st, End: st.Add(6 * time.Hour), SealedPart: SealedPart{ManifestSHA256: m.Stored.SHA256}})
		}
		return ms, sw
	}
	manifests, sealed := windows("m")
	seal := func(date string, gen int, sha string, prev, sup *SealLink) StoredSeal {
		s := StoredSeal{Seal: Seal{Date: date, Generation: gen, Windows: sealed, Previous: prev, Supersedes: sup}}
		s.Stored.SHA256 = sha
		return s
	}
	before := []StoredSeal{seal("2026-11-23", 1, "b1", nil, nil)}
	g1 := seal("2026-11-24", 1, "s1", &SealLink{Date: "2026-11-23", Generation: 1, SHA256: "b1"}, nil)
	g2 := seal("2026-11-24", 2, "s2", &SealLink{Date: "2026-11-23", Generation: 1, SHA256: "b1"}, &SealLink{Date: "2026-11-24", Generation: 1, SHA256: "s1"})
	after := []StoredSeal{seal("2026-11-25", 1, "a1", &SealLink{Date: "2026-11-24", Generation: 1, SHA256: "s1"}, nil)}
	base := Day{Date: d, Due: true, InRange: true, Windows: 4, Manifests: manifests, Seals: []StoredSeal{g1}, Before: before, After: after}
	edit := func(f func(ev *Day)) Day {
		ev := base
		ev.Manifests = maps.Clone(manifests)
		ev.Seals = slices.Clone(base.Seals)
		ev.Before, ev.After = slices.Clone(before), slices.Clone(after)
		f(&ev)
		return ev
	}
	signed := func(s StoredSeal, id string, err error) StoredSeal {
		s.KeyID = id
		s.Stored.Signature, s.Stored.SigErr = &Signature{KeyID: id}, err
		return s
	}
	for _, tc := range []struct {
		name   string
		ev     Day
		status Status
		detail string
	}{
		{"sealed, linked both ways", base, DaySealed, ""},
		{"the first day: no link back", edit(func(ev *Day) { ev.Before, ev.Seals[0].Previous = nil, nil }), DaySealed, ""},
		{"the newest day: nothing links to it", edit(func(ev *Day) { ev.After = nil }), DaySealed, ""},
		{"sealed again after a repair", edit(func(ev *Day) { ev.Seals = append(ev.Seals, g2) }), DaySealed, ""},
		{"not over yet", edit(func(ev *Day) { ev.Seals, ev.After, ev.Due = nil, nil, false }), DayOpen, ""},
		{"complete, never sealed", edit(func(ev *Day) { ev.Seals, ev.After = nil, nil }), DayUnsealed, "no seal covers them"},
		{"windows missing, never sealed", edit(func(ev *Day) { ev.Seals, ev.After = nil, nil; delete(ev.Manifests, d) }), DayIncomplete, "1 of 4 windows have no manifest"},
		{"windows missing outside the range, never sealed", edit(func(ev *Day) { ev.Seals, ev.After, ev.InRange = nil, nil, false; delete(ev.Manifests, d) }), DayPartial, ""},
		{"complete, never sealed, partly in the range", edit(func(ev *Day) { ev.Seals, ev.After, ev.InRange = nil, nil, false }), DayUnsealed, "no seal covers them"},
		{"seal deleted: the next day links to it", edit(func(ev *Day) { ev.Seals = nil }), DayBroken, "links to generation 1 of this day with sha256 s1, which is not stored"},
		{"seal replaced: the next day links to the old one", edit(func(ev *Day) { ev.Seals[0].Stored.SHA256 = "forged" }), DayBroken, "which is not stored"},
		{"the day before's seal replaced", edit(func(ev *Day) { ev.Before[0].Stored.SHA256 = "forged" }), DayBroken, "links to the seal of 2026-11-23 (generation 1, sha256 b1), which is not stored"},
		{"the day before's seal deleted", edit(func(ev *Day) { ev.Before = nil }), DayBroken, "which is not stored"},
		{"generation 1 replaced under generation 2", edit(func(ev *Day) {
			ev.Seals = append(ev.Seals, g2)
			ev.Seals[0].Stored.SHA256 = "forged"
			ev.After = nil
		}), DayBroken, "generation 1 was replaced"},
		{"an invalid seal", edit(func(ev *Day) { ev.Seals[0].Err = errors.New("kind \"x\"") }), DayBroken, "not a valid seal"},
		{"a manifest changed after sealing", edit(func(ev *Day) {
			m := ev.Manifests[d]
			m.Stored.SHA256 = "changed"
			ev.Manifests[d] = m
		}), DayBroken, "1 of the 4 windows the newest seal lists are missing or differ"},
		{"a window deleted after sealing", edit(func(ev *Day) { delete(ev.Manifests, d.Add(6*time.Hour)) }), DayBroken, "1 of the 4 windows"},
		{"a delta written after the seal", edit(func(ev *Day) { ev.Deltas = map[time.Time][]Manifest{d: {{Part: 1}}} }), DayUnsealed, "1 windows gained deltas"},
		{"a sealed delta deleted", edit(func(ev *Day) {
			ws := slices.Clone(ev.Seals[0].Windows)
			ws[1].Deltas = []SealedPart{{ManifestSHA256: "x"}}
			ev.Seals[0].Windows = ws
		}), DayBroken, "1 of the 4 windows"},
		{"signed by a key given", edit(func(ev *Day) { ev.KeysGiven, ev.Seals[0] = true, signed(ev.Seals[0], "ed25519:k", nil) }), DaySealed, ""},
		{"signed by another key", edit(func(ev *Day) {
			ev.KeysGiven, ev.Seals[0] = true, signed(ev.Seals[0], "ed25519:other", ErrUnknownKey)
		}), DayBroken, "signed by ed25519:other"},
		{"unsigned while keys were given", edit(func(ev *Day) { ev.KeysGiven = true }), DayBroken, "not signed"},
		{"names one key, signed by another", edit(func(ev *Day) {
			ev.Seals[0] = signed(ev.Seals[0], "ed25519:k", nil)
			ev.Seals[0].KeyID = "ed25519:claimed"
		}), DayBroken, "names key ed25519:claimed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := JudgeDay(tc.ev)
			detail := strings.Join(v.Problems, "; ")
			if v.Status != tc.status || !strings.Contains(detail, tc.detail) || (tc.detail == "" && detail != "") {
				t.Fatalf("JudgeDay = %s: %q; want %s with %q", v.Status, detail, tc.status, tc.detail)
			}
		})
	}
}
