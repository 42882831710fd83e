package state_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/state"
	"github.com/auditlog-exporter/auditlog-exporter/state/statetest"
)

func TestFileStore(t *testing.T) {
	statetest.Run(t, statetest.Harness{
		New: func(t *testing.T) state.Store {
			s, err := state.OpenFile(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		Corrupt: func(t *testing.T, s state.Store, account string, raw []byte) {
			if err := os.WriteFile(s.(*state.FileStore).Path(account), raw, 0o600); err != nil {
				t.Fatal(err)
			}
		},
	})
}

func TestFileLockExclusive(t *testing.T) {
	dir := t.TempDir()
	s, err := state.OpenFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = state.OpenFile(dir)
	if err == nil || !strings.Contains(err.Error(), state.LockName) || errclass.Classify(err) != errclass.Retryable {
		t.Fatalf("second open: %v", err)
	}
	s.Close()
	s2, err := state.OpenFile(dir)
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	s2.Close()
}

// A process holding the lock that is SIGKILLed does not block the next run.
func TestFileLockDiesWithProcess(t *testing.T) {
	if os.Getenv("STATE_LOCK_HELPER") != "" {
		if _, err := state.OpenFile(os.Getenv("STATE_LOCK_HELPER")); err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("locked\n")
		time.Sleep(time.Minute)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFileLockDiesWithProcess$")
	cmd.Env = append(os.Environ(), "STATE_LOCK_HELPER="+dir)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	if _, err := out.Read(buf); err != nil || string(buf) != "locked\n" {
		t.Fatalf("helper: %q %v", buf, err)
	}
	if _, err := state.OpenFile(dir); err == nil {
		t.Fatal("lock not held by the helper")
	}
	cmd.Process.Kill()
	cmd.Wait()
	s, err := state.OpenFile(dir)
	if err != nil {
		t.Fatalf("lock survived SIGKILL: %v", err)
	}
	s.Close()
}

func TestFileStateFormat(t *testing.T) {
	dir := t.TempDir()
	s, _ := state.OpenFile(dir)
	defer s.Close()
	st := state.State{Account: "abc123xyz", Watermark: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), Window: time.Hour, UpdatedAt: time.Date(2026, 11, 24, 10, 16, 0, 0, time.UTC), ExporterVersion: "v1"}
	if _, err := s.Save(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "abc123xyz.json"))
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m["watermark"] != "2026-11-24T10:00:00Z" || m["window"] != "1h0m0s" || m["version"] != float64(1) {
		t.Fatalf("state file %s", b)
	}
	fi, _ := os.Stat(filepath.Join(dir, "abc123xyz.json"))
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("temp file left: %s", e.Name())
		}
	}
	if _, err := s.Load(context.Background(), "../etc/passwd"); errclass.Classify(err) != errclass.Config {
		t.Fatalf("path traversal account: %v", err)
	}
}

func FuzzDecodeState(f *testing.F) {
	f.Add([]byte(`{"version":1,"account":"a","watermark":"2026-11-24T10:00:00Z","window":"1h0m0s","updated_at":"2026-11-24T10:00:00Z"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := state.Decode(b, "a")
		if err != nil {
			return
		}
		if st.Account != "a" || st.Window <= 0 || st.Watermark.IsZero() {
			t.Fatalf("accepted bad state %+v", st)
		}
		again, err := state.Encode(st)
		if err != nil {
			t.Fatal(err)
		}
		if st2, err := state.Decode(again, "a"); err != nil || !st2.Watermark.Equal(st.Watermark) {
			t.Fatalf("round trip: %+v %v", st2, err)
		}
	})
}

// A huge state file is refused before it is read whole, and a long value
// in a bad state is not copied whole into the error.
func TestStateFileSizeCapped(t *testing.T) {
	dir := t.TempDir()
	s, err := state.OpenFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	big := `{"version":1,"account":"` + strings.Repeat("x", 1<<20) + `","watermark":"2026-11-24T10:00:00Z","window":"1h"}`
	if err := os.WriteFile(filepath.Join(dir, "abc123xyz.json"), []byte(big), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = s.Load(context.Background(), "abc123xyz")
	if err == nil || errclass.Classify(err) != errclass.Config || !strings.Contains(err.Error(), "not a state file") || len(err.Error()) > 500 {
		t.Fatalf("got %.300v (%d bytes)", err, len(fmt.Sprint(err)))
	}
	_, err = state.Decode([]byte(`{"version":1,"account":"`+strings.Repeat("y", 10_000)+`","watermark":"2026-11-24T10:00:00Z","window":"1h"}`), "abc123xyz")
	if err == nil || len(err.Error()) > 300 {
		t.Fatalf("long value copied into the error: %d bytes", len(fmt.Sprint(err)))
	}
}

// TestSealedThroughRoundTrip: sealed_through is written (as format
// version 2) only when set, and read back.
func TestSealedThroughRoundTrip(t *testing.T) {
	wm := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	plain := state.State{Account: "acct", Watermark: wm, Window: time.Hour}
	b, err := state.Encode(plain)
	if err != nil || !strings.Contains(string(b), `"version": 1`) || strings.Contains(string(b), "sealed_through") {
		t.Fatalf("without sealed_through: %s %v", b, err)
	}
	sealed := plain
	sealed.SealedThrough = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	b, err = state.Encode(sealed)
	if err != nil || !strings.Contains(string(b), `"version": 2`) || !strings.Contains(string(b), `"sealed_through": "2026-11-24T00:00:00Z"`) {
		t.Fatalf("with sealed_through: %s %v", b, err)
	}
	got, err := state.Decode(b, "acct")
	if err != nil || !got.SealedThrough.Equal(sealed.SealedThrough) || !got.Watermark.Equal(wm) {
		t.Fatalf("decoded %+v, %v", got, err)
	}
}

// The look-back ledger survives a round trip (format 3), and a ledger that
// is out of order or out of range is refused as corrupt.
func TestLookBackRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	st := state.State{Account: "acct", Watermark: at, Window: time.Hour, LookBack: &state.LookBack{RefFrom: at.Add(-2 * time.Hour), RefTo: at, RefCount: 7, RefAt: at.Add(15 * time.Minute),
		Windows: []state.LookBackWindow{{Start: at.Add(-2 * time.Hour), End: at.Add(-time.Hour), Count: 3, Listed: at, Relisted: 1}, {Start: at.Add(-time.Hour), End: at, Count: -1, Listed: at}}}}
	b, err := state.Encode(st)
	if err != nil || !strings.Contains(string(b), `"version": 3`) {
		t.Fatalf("%s, %v", b, err)
	}
	got, err := state.Decode(b, "acct")
	if err != nil || !reflect.DeepEqual(got.LookBack, st.LookBack) {
		t.Fatalf("%+v, %v; want %+v", got.LookBack, err, st.LookBack)
	}
	for _, bad := range []string{`{"ref_count":0,"windows":[{"s":20,"e":10,"c":0,"l":0}]}`, `{"ref_count":-2,"windows":[]}`,
		`{"ref_count":0,"windows":[{"s":10,"e":20,"c":0,"l":0},{"s":15,"e":30,"c":0,"l":0}]}`} {
		doc := `{"version":3,"account":"acct","watermark":"2026-11-24T10:00:00Z","window":"1h","updated_at":"2026-11-24T10:00:00Z","lookback":` + bad + `}`
		if _, err := state.Decode([]byte(doc), "acct"); err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Errorf("%s: %v, want corrupt", bad, err)
		}
	}
}
