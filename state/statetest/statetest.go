// Package statetest is the conformance suite every state store must pass,
// run against the store's real backend.
package statetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/state"
)

// Harness connects the suite to one store implementation.
type Harness struct {
	// New returns an empty store.
	New func(t *testing.T) state.Store
	// Corrupt stores raw bytes as account's state, bypassing Save.
	Corrupt func(t *testing.T, s state.Store, account string, raw []byte)
}

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

func sample(account string, hours int) state.State {
	return state.State{Account: account, Watermark: t0.Add(time.Duration(hours) * time.Hour), Window: time.Hour, UpdatedAt: t0.Add(24 * time.Hour), ExporterVersion: "test"}
}

func same(a, b state.State) bool {
	return a.Account == b.Account && a.Watermark.Equal(b.Watermark) && a.Window == b.Window && a.UpdatedAt.Equal(b.UpdatedAt) && a.ExporterVersion == b.ExporterVersion
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	ctx := context.Background()
	t.Run("ProbeChangesNothing", func(t *testing.T) {
		s := h.New(t)
		if err := s.Probe(ctx); err != nil {
			t.Fatalf("Probe: %v", err)
		}
		if _, err := s.Load(ctx, "acct1"); !errors.Is(err, state.ErrNotFound) {
			t.Fatalf("Load after Probe: %v, want ErrNotFound", err)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		s := h.New(t)
		if _, err := s.Load(ctx, "acct1"); !errors.Is(err, state.ErrNotFound) {
			t.Fatalf("Load on empty store: %v, want ErrNotFound", err)
		}
	})
	t.Run("SaveLoadUpdate", func(t *testing.T) {
		s := h.New(t)
		rev, err := s.Save(ctx, sample("acct1", 1))
		if err != nil || rev == "" {
			t.Fatalf("Save: %q, %v", rev, err)
		}
		got, err := s.Load(ctx, "acct1")
		if err != nil || !same(got, sample("acct1", 1)) || got.Rev != rev {
			t.Fatalf("Load = %+v, %v; want %+v rev %q", got, err, sample("acct1", 1), rev)
		}
		next := sample("acct1", 2)
		next.Rev = got.Rev
		rev2, err := s.Save(ctx, next)
		if err != nil || rev2 == rev {
			t.Fatalf("update: %q, %v", rev2, err)
		}
		got, _ = s.Load(ctx, "acct1")
		if !same(got, sample("acct1", 2)) || got.Rev != rev2 {
			t.Fatalf("after update: %+v", got)
		}
	})
	t.Run("ConflictChangesNothing", func(t *testing.T) {
		s := h.New(t)
		rev, _ := s.Save(ctx, sample("acct1", 1))
		stale := sample("acct1", 5)
		stale.Rev = "not-" + rev
		if _, err := s.Save(ctx, stale); !errors.Is(err, state.ErrConflict) {
			t.Fatalf("stale Rev: %v, want ErrConflict", err)
		}
		if _, err := s.Save(ctx, sample("acct1", 6)); !errors.Is(err, state.ErrConflict) {
			t.Fatalf("create over existing: %v, want ErrConflict", err)
		}
		got, _ := s.Load(ctx, "acct1")
		if !same(got, sample("acct1", 1)) {
			t.Fatalf("state changed by a losing Save: %+v", got)
		}
	})
	t.Run("OneOfTwoRacersWins", func(t *testing.T) {
		s := h.New(t)
		if _, err := s.Save(ctx, sample("acct1", 1)); err != nil {
			t.Fatal(err)
		}
		base, _ := s.Load(ctx, "acct1")
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st := sample("acct1", 10+i)
				st.Rev = base.Rev
				_, errs[i] = s.Save(ctx, st)
			}()
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
			} else if !errors.Is(err, state.ErrConflict) {
				t.Fatalf("racer: %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d racers won, want exactly 1", wins)
		}
	})
	t.Run("AccountsAreIndependent", func(t *testing.T) {
		s := h.New(t)
		for i, acct := range []string{"acct1", "acct2"} {
			if _, err := s.Save(ctx, sample(acct, i+1)); err != nil {
				t.Fatal(err)
			}
		}
		a, _ := s.Load(ctx, "acct1")
		b, _ := s.Load(ctx, "acct2")
		if !same(a, sample("acct1", 1)) || !same(b, sample("acct2", 2)) {
			t.Fatalf("got %+v and %+v", a, b)
		}
	})
	t.Run("CancelledContext", func(t *testing.T) {
		s := h.New(t)
		c, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Save(c, sample("acct1", 1)); err == nil {
			t.Fatal("Save with a cancelled context succeeded")
		}
		if _, err := s.Load(ctx, "acct1"); !errors.Is(err, state.ErrNotFound) {
			t.Fatalf("cancelled Save stored something: %v", err)
		}
	})
	t.Run("CorruptIsAnError", func(t *testing.T) {
		for name, raw := range map[string]string{
			"empty":     "",
			"truncated": `{"version":1,"account":"acct1","watermark":"2026-11-24T1`,
			"garbage":   "\x00\x01binary",
			"future":    `{"version":99,"account":"acct1","watermark":"2026-11-24T10:00:00Z","window":"1h0m0s","updated_at":"2026-11-24T10:00:00Z"}`,
			"other":     `{"version":1,"account":"acct2","watermark":"2026-11-24T10:00:00Z","window":"1h0m0s","updated_at":"2026-11-24T10:00:00Z"}`,
			"nowindow":  `{"version":1,"account":"acct1","watermark":"2026-11-24T10:00:00Z","window":"","updated_at":"2026-11-24T10:00:00Z"}`,
			"unknown":   `{"version":1,"account":"acct1","watermark":"2026-11-24T10:00:00Z","window":"1h0m0s","updated_at":"2026-11-24T10:00:00Z","x":1}`,
		} {
			t.Run(name, func(t *testing.T) {
				s := h.New(t)
				h.Corrupt(t, s, "acct1", []byte(raw))
				_, err := s.Load(ctx, "acct1")
				if err == nil || errors.Is(err, state.ErrNotFound) {
					t.Fatalf("Load of %s state: %v; want an error that is not ErrNotFound", name, err)
				}
			})
		}
	})
}
