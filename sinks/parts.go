package sinks

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/evidence"
)

// A window's records live in one or more objects of its partition, its
// parts: the first object, named for the window alone, and deltas, each
// holding only records that none of the parts before it holds (records
// that became visible at the source after the window was exported), named
// to sort after it:
//
//	account=a/date=2026-11-24/a_20261124T100000Z_20261124T110000Z.parquet
//	account=a/date=2026-11-24/a_20261124T100000Z_20261124T110000Z_delta-0001.parquet
//
// A committed part is never overwritten, replaced or deleted: consumers
// that ingest every object created (SIEM inputs notified of new S3
// objects, tailers of a directory) then see each record once, and readers
// of the partition read the union.

// MaxDeltas is the most deltas one window may have.
const MaxDeltas = 9999

// ErrExists is returned by a Staged's Publish when an object already has
// the name: it is never replaced.
var ErrExists = errors.New("an object of that name exists already (committed objects are never replaced)")

// PartName is the name of window w's part (0: its first object, n: its
// n-th delta) relative to a sink's path or prefix.
func PartName(w audit.Window, ext string, part int) string {
	name := ObjectName(w, ext)
	if part == 0 {
		return name
	}
	return fmt.Sprintf("%s_delta-%04d.%s", strings.TrimSuffix(name, "."+ext), part, ext)
}

// Held is a set of record Uuids (their 128-bit FNV-1a hashes: 16 bytes a
// record whatever a Uuid's length, and no collision in practice).
type Held struct {
	m map[[16]byte]struct{}
}

// NewHeld returns an empty set.
func NewHeld() *Held { return &Held{m: map[[16]byte]struct{}{}} }

func heldKey(uuid string) [16]byte {
	h := fnv.New128a()
	h.Write([]byte(uuid))
	var k [16]byte
	h.Sum(k[:0])
	return k
}

// Add adds uuid; it reports whether it was new.
func (h *Held) Add(uuid string) bool {
	k := heldKey(uuid)
	if _, ok := h.m[k]; ok {
		return false
	}
	h.m[k] = struct{}{}
	return true
}

// Has reports whether uuid is in the set.
func (h *Held) Has(uuid string) bool {
	if h == nil {
		return false
	}
	_, ok := h.m[heldKey(uuid)]
	return ok
}

// Len is the number of Uuids in the set.
func (h *Held) Len() int {
	if h == nil {
		return 0
	}
	return len(h.m)
}

// MaxListed bounds the names one listing returns: a day of one-minute
// windows with a few deltas each is well below it.
const MaxListed = 100_000

// Windows implements Archive: the windows whose manifests the day's
// partition holds, of any grid, in order.
func (v archive) Windows(ctx context.Context, account string, day time.Time) ([]audit.Window, error) {
	dir := path.Join("_manifests", "account="+account, "date="+day.UTC().Format(time.DateOnly))
	names, err := v.k.List(ctx, dir)
	if err != nil {
		return nil, err
	}
	seen := map[audit.Window]bool{}
	var out []audit.Window
	for _, n := range names {
		w, ok := windowOfManifest(path.Base(n), account, v.o.format.Ext())
		if ok && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	slices.SortFunc(out, func(a, b audit.Window) int { return a.Start.Compare(b.Start) })
	return out, nil
}

// windowOfManifest reads the window from a manifest's file name
// (<account>_<start>_<end>[_delta-NNNN].<ext>.json); ok = false for a name
// of another account or format, or not of that shape.
func windowOfManifest(name, account, ext string) (audit.Window, bool) {
	const stamp = "20060102T150405Z"
	base, ok := strings.CutSuffix(name, "."+ext+".json")
	if !ok {
		return audit.Window{}, false
	}
	if i := strings.LastIndex(base, "_delta-"); i >= 0 {
		base = base[:i]
	}
	rest, ok := strings.CutPrefix(base, account+"_")
	if !ok || len(rest) != 2*len(stamp)+1 || rest[len(stamp)] != '_' {
		return audit.Window{}, false
	}
	s, err1 := time.Parse(stamp, rest[:len(stamp)])
	e, err2 := time.Parse(stamp, rest[len(stamp)+1:])
	if err1 != nil || err2 != nil || !e.After(s) || !evidence.DayOf(s).Equal(evidence.DayOf(e.Add(-time.Nanosecond))) {
		return audit.Window{}, false
	}
	return audit.Window{Account: account, Start: s, End: e}, true
}

// ReadParts implements Archive: manifests part by part until the first
// missing one, then whether that part's object exists without it.
func (v archive) ReadParts(ctx context.Context, w audit.Window) ([]evidence.Manifest, string, error) {
	var parts []evidence.Manifest
	for part := 0; part <= MaxDeltas; part++ {
		m, found, err := v.readPart(ctx, w, part)
		if err != nil {
			return parts, "", fmt.Errorf("%s: %w", PartManifestName(w, v.o.format.Ext(), part), err)
		}
		if !found {
			name := v.o.partName(w, part)
			exists, err := v.exists(ctx, name)
			if err != nil {
				return parts, "", err
			}
			if exists {
				return parts, name, nil
			}
			return parts, "", nil
		}
		parts = append(parts, m)
	}
	return parts, "", nil
}

// exists reports whether an object is stored under name.
func (v archive) exists(ctx context.Context, name string) (bool, error) {
	if in, ok := v.o.dest.(Inspector); ok {
		_, found, err := in.Inspect(ctx, name)
		return found, err
	}
	r, found, err := v.k.Get(ctx, name)
	if found {
		r.Close()
	}
	return found, err
}

// Hold implements Archive.
func (v archive) Hold(ctx context.Context, parts []evidence.Manifest, held *Held) error {
	for _, m := range parts {
		if err := v.Records(ctx, m.Object, func(r audit.Record) error { held.Add(r.UUID); return nil }); err != nil {
			return fmt.Errorf("read %s back: %w", m.Object, err)
		}
	}
	return nil
}

// Adopt implements Archive. An object at a part's name was published
// whole (publishing is atomic), so consumers may have ingested it: it is
// kept and described, never written again. One that cannot be read back,
// or holds records that are not the window's or are in an earlier part,
// is an error that says what to do.
func (v archive) Adopt(ctx context.Context, w audit.Window, part int, held *Held) (evidence.Manifest, error) {
	name := v.o.partName(w, part)
	m := evidence.Manifest{Account: w.Account, WindowStart: w.Start.UTC(), WindowEnd: w.End.UTC(), Part: part, Object: name, Format: v.o.format.Ext(),
		SourceCount: -1, Completeness: evidence.CompletenessAdopted, ExporterVersion: v.o.Version, Categories: map[string]int64{}}
	if v.o.Only != nil {
		m.Selection = v.o.Only.Name
	}
	own := NewHeld()
	err := v.Records(ctx, name, func(r audit.Record) error {
		switch {
		case !w.Contains(r.Time):
			return fmt.Errorf("record %q at %s is not of the window", shortText(r.UUID), r.Time.UTC().Format(time.RFC3339Nano))
		case held.Has(r.UUID) || !own.Add(r.UUID):
			return fmt.Errorf("record %q is in the window's objects twice", shortText(r.UUID))
		case !v.o.Accepts(&r):
			return fmt.Errorf("record %q is not one this sink writes (%s)", shortText(r.UUID), v.o.Only.Name)
		}
		m.Records++
		evidence.CountCategory(m.Categories, r.Category)
		return nil
	})
	if err != nil {
		return m, fmt.Errorf("%s was published without its manifest and cannot be adopted (%w): consumers may have ingested it; check it, then move it out of the way to export the window again", name, err)
	}
	sum, n, found, err := v.Checksum(ctx, name)
	if err != nil || !found {
		return m, fmt.Errorf("adopt %s: read it again: %v", name, err)
	}
	m.SHA256, m.Bytes, m.ExportedAt = sum, n, v.o.now()
	if in, ok := v.o.dest.(Inspector); ok {
		info, _, err := in.Inspect(ctx, name)
		if err != nil {
			return m, err
		}
		m.ObjectVersion = info.Version
	}
	if err := v.o.writeManifest(ctx, v.k, m); err != nil {
		return m, err
	}
	m2, found, err := v.readPart(ctx, w, part)
	if err != nil || !found {
		return m, fmt.Errorf("adopt %s: read its manifest back: %v", name, err)
	}
	for k := range own.m {
		held.m[k] = struct{}{}
	}
	return m2, nil
}
