package sinks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sync"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/evidence"
)

// sealedPart is how a seal lists the part m describes.
func sealedPart(m evidence.Manifest, ext string) evidence.SealedPart {
	return evidence.SealedPart{Object: m.Object, ObjectSHA256: m.SHA256, ObjectVersion: m.ObjectVersion, Records: m.Records,
		Manifest: PartManifestName(m.Window(), ext, m.Part), ManifestSHA256: m.Stored.SHA256}
}

// SealOutcome is what Archive.Seal did.
type SealOutcome struct {
	// Written is the generation written, 0 when the day was sealed as it
	// is already or cannot be sealed yet.
	Written int
	// Missing lists the windows of the day without a manifest: nothing
	// is sealed while one is missing.
	Missing []audit.Window
	Seal    evidence.StoredSeal
}

// maxSealGenerations bounds how many generations of one day are read: a
// day is sealed again only when a window of it is exported again.
const maxSealGenerations = 1000

// SealName is the name of a seal generation relative to the destination:
//
//	_seals/account=<a>/<a>_<YYYY-MM-DD>.<ext>.seal-<generation>.json
func SealName(account string, date time.Time, ext string, gen int) string {
	return path.Join("_seals", "account="+account, fmt.Sprintf("%s_%s.%s.seal-%04d.json", account, date.UTC().Format(time.DateOnly), ext, gen))
}

// Seal implements Archive.
func (v archive) Seal(ctx context.Context, day []audit.Window, reason string) (SealOutcome, error) {
	if len(day) == 0 {
		return SealOutcome{}, errors.New("seal: no windows")
	}
	account, date := day[0].Account, evidence.DayOf(day[0].Start)
	var out SealOutcome
	for _, w := range day {
		if w.Account != account || !evidence.DayOf(w.Start).Equal(date) || !evidence.DayOf(w.End.Add(-time.Nanosecond)).Equal(date) {
			return out, fmt.Errorf("seal: window %s is not of %s %s", w, account, date.Format(time.DateOnly))
		}
	}
	reads := ReadManifests(ctx, v, day)
	for i, r := range reads {
		if r.Err != nil {
			return out, fmt.Errorf("seal: manifest of %s: %w", day[i], r.Err)
		}
	}
	sealed := make([]evidence.SealedWindow, 0, len(day))
	for i, w := range day {
		if !reads[i].Found {
			out.Missing = append(out.Missing, w)
			continue
		}
		sw := evidence.SealedWindow{Start: w.Start.UTC(), End: w.End.UTC(), SealedPart: sealedPart(reads[i].Manifest, v.o.format.Ext())}
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
		s, same := evidence.NextSeal(account, date, v.o.format.Ext(), sealed, gens, reason)
		if same {
			out.Seal = gens[len(gens)-1]
			return out, nil
		}
		s.SealedAt, s.ExporterVersion = v.o.now(), v.o.Version
		prev, err := v.ReadSeals(ctx, account, date.AddDate(0, 0, -1))
		if err != nil {
			return out, err
		}
		s.Previous = evidence.NewestLink(prev)
		if v.o.Signer != nil {
			s.KeyID = v.o.Signer.KeyID()
		}
		b, st, err := evidence.Encode(s, v.o.Signer)
		if err != nil {
			return out, err
		}
		name := SealName(account, date, v.o.format.Ext(), s.Generation)
		created, err := v.k.Create(ctx, name, b)
		if err != nil {
			return out, fmt.Errorf("write seal %s: %w", name, err)
		}
		if created {
			out.Written = s.Generation
			out.Seal = evidence.StoredSeal{Seal: s, Name: name, Stored: st}
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
	Manifest evidence.Manifest // of the first object
	Deltas   []evidence.Manifest
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

// ReadSeals implements Archive.
func (v archive) ReadSeals(ctx context.Context, account string, date time.Time) ([]evidence.StoredSeal, error) {
	var out []evidence.StoredSeal
	for gen := 1; gen <= maxSealGenerations; gen++ {
		name := SealName(account, date, v.o.format.Ext(), gen)
		r, found, err := v.k.Get(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		if !found {
			break
		}
		b, err := io.ReadAll(io.LimitReader(r, evidence.MaxSealBytes+1))
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		s := evidence.DecodeSeal(b, account, date, v.o.format.Ext(), gen, v.o.Keys)
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
