package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/evidence"
	"github.com/auditlog-exporter/auditlog-exporter/internal/browsertest"
	"github.com/auditlog-exporter/auditlog-exporter/internal/s3test"
	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// store is what a tamperer can do to a sink's destination, by name
// relative to the sink's path or prefix.
type store interface {
	read(t *testing.T, name string) []byte
	write(t *testing.T, name string, b []byte)
	remove(t *testing.T, name string)
}

type fileStore string

func (d fileStore) path(name string) string {
	return filepath.Join(string(d), filepath.FromSlash(name))
}
func (d fileStore) read(t *testing.T, name string) []byte {
	b, err := os.ReadFile(d.path(name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
func (d fileStore) write(t *testing.T, name string, b []byte) {
	if err := os.WriteFile(d.path(name), b, 0o600); err != nil {
		t.Fatal(err)
	}
}
func (d fileStore) remove(t *testing.T, name string) {
	if err := os.Remove(d.path(name)); err != nil {
		t.Fatal(err)
	}
}

// s3Store tampers as anyone with write access to the bucket can: on a
// versioned bucket a delete hides the current version behind a delete
// marker and a write puts a new version on top.
type s3Store struct {
	c              *s3.Client
	bucket, prefix string
}

func (s s3Store) read(t *testing.T, name string) []byte {
	out, err := s.c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + name)})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
func (s s3Store) write(t *testing.T, name string, b []byte) {
	if _, err := s.c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + name), Body: bytes.NewReader(b)}); err != nil {
		t.Fatal(err)
	}
}
func (s s3Store) remove(t *testing.T, name string) {
	if _, err := s.c.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + name)}); err != nil {
		t.Fatal(err)
	}
}

// evidenceWorld exports three whole past days of one account, 2-hour
// windows, with manifests and seals signed by key A.
type evidenceWorld struct {
	*world
	days        []time.Time // the three days
	privA, pubA string      // key files
	keyA, keyB  ed25519.PrivateKey
	cfg         string
	env         []string
	store       store
	sinkYAML    string
}

const evidenceWindow = 2 * time.Hour

func newEvidenceWorld(t *testing.T, sim *neosim.Server, simURL string, days []time.Time, sinkYAML string, st store, env []string) *evidenceWorld {
	t.Helper()
	w := &evidenceWorld{world: &world{t: t, sim: sim, url: simURL, dir: t.TempDir(), start: days[0]}, days: days, store: st, env: env, sinkYAML: sinkYAML}
	_, w.keyA, _ = ed25519.GenerateKey(rand.Reader)
	_, w.keyB, _ = ed25519.GenerateKey(rand.Reader)
	w.privA, w.pubA = filepath.Join(w.dir, "signing.pem"), filepath.Join(w.dir, "signing.pub")
	os.WriteFile(w.privA, evidence.MarshalPrivateKey(w.keyA), 0o600)
	os.WriteFile(w.pubA, evidence.MarshalPublicKey(w.keyA.Public().(ed25519.PublicKey)), 0o600)
	w.cfg = filepath.Join(w.dir, "config.yaml")
	cfg := fmt.Sprintf(`source:
  api_url: %s
  account: %s
  client_id: e2e-client
  client_secret: ${E2E_SECRET}
export:
  start: %s
  window: 2h
  lag: 15m
state:
  path: %s/state
sinks:
%s
evidence:
  signing_key_file: %s
log:
  level: debug
`, simURL, acct, days[0].Format(time.RFC3339), w.dir, sinkYAML, w.privA)
	if err := os.WriteFile(w.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := w.run(env, "backfill", "--config", w.cfg, "--from", days[0].Format(time.RFC3339), "--to", days[2].Add(24*time.Hour).Format(time.RFC3339)); r.code != 0 {
		t.Fatalf("backfill: %s", r.stderr)
	}
	return w
}

func (w *evidenceWorld) verify(extra ...string) (result, verifyOutput) {
	w.t.Helper()
	args := append([]string{"verify", "--config", w.cfg, "--from", w.days[0].Format(time.RFC3339), "--to", w.days[2].Add(24 * time.Hour).Format(time.RFC3339), "--output", "json"}, extra...)
	r := w.run(w.env, args...)
	var out verifyOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		w.t.Fatalf("verify output: %v\n%s\n%s", err, r.stdout, r.stderr)
	}
	return r, out
}

// win is window i of day d.
func (w *evidenceWorld) win(d, i int) audit.Window {
	s := w.days[d].Add(time.Duration(i) * evidenceWindow)
	return audit.Window{Account: acct, Start: s, End: s.Add(evidenceWindow)}
}

func (w *evidenceWorld) sealName(d, gen int) string {
	return sinks.SealName(acct, w.days[d], "jsonl", gen)
}

// statusOf returns the status of window (d, i) and of day d.
func statusOf(out verifyOutput, win audit.Window) (window, detail, day, dayDetail string) {
	for _, r := range out.Windows {
		if r.Start.Equal(win.Start) {
			window, detail = r.Status, r.Detail
		}
	}
	for _, d := range out.Days {
		if d.Date == win.Start.Format(time.DateOnly) {
			day, dayDetail = d.Status, d.Detail
		}
	}
	return
}

// resign rewrites a stored manifest or seal with edit applied to its
// document, signed with key (the tamperer's).
func resign(t *testing.T, stored []byte, key ed25519.PrivateKey, edit func(doc map[string]any)) []byte {
	t.Helper()
	o, err := evidence.Open(stored, nil)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(o.Doc, &doc); err != nil {
		t.Fatal(err)
	}
	edit(doc)
	b, _ := json.Marshal(doc)
	if key == nil {
		return b
	}
	if _, ok := doc["key_id"]; ok {
		doc["key_id"] = evidence.KeyID(key.Public().(ed25519.PublicKey))
		b, _ = json.Marshal(doc)
	}
	out, err := evidence.NewSigner(key).Seal(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTamperEvidence: every way of altering the export that the evidence
// promises to catch is detected, named and exits non-zero, on files, on S3
// and on S3 with Object Lock; a re-export and a repair verify clean.
func TestTamperEvidence(t *testing.T) {
	t.Parallel()
	today := evidence.DayOf(time.Now())
	days := []time.Time{today.AddDate(0, 0, -4), today.AddDate(0, 0, -3), today.AddDate(0, 0, -2)}
	sim := neosim.New(neosim.Options{Accounts: []string{acct}, ClientID: "e2e-client", ClientSecret: secret, Seed: 5, PageSize: 200})
	recs, vis := neosim.Generate(neosim.GenOptions{Account: acct, From: days[0], To: days[2].Add(24 * time.Hour), PerHour: 12, Seed: 6})
	sim.Add(vis, recs...)
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	srv := s3test.StartVersioned(t)
	type variant struct {
		name string
		new  func(t *testing.T) *evidenceWorld
	}
	s3World := func(t *testing.T, locked bool) *evidenceWorld {
		bucket, lock := srv.NewBucket(t), ""
		if locked {
			bucket, lock = srv.NewLockedBucket(t), "\n    object_lock:\n      mode: COMPLIANCE\n      retention_days: 1"
		}
		yaml := `  - type: s3
    format: jsonl
    bucket: ` + bucket + `
    prefix: ev/
    region: us-east-1
    endpoint: ` + srv.Endpoint + `
    path_style: true` + lock
		return newEvidenceWorld(t, sim, simSrv.URL, days, yaml, s3Store{c: srv.Client(), bucket: bucket, prefix: "ev/"}, srv.Env())
	}
	for _, v := range []variant{
		{"file", func(t *testing.T) *evidenceWorld {
			dir := t.TempDir()
			return newEvidenceWorld(t, sim, simSrv.URL, days, "  - type: file\n    path: "+dir, fileStore(dir), nil)
		}},
		{"s3", func(t *testing.T) *evidenceWorld { return s3World(t, false) }},
		{"s3-object-lock", func(t *testing.T) *evidenceWorld { return s3World(t, true) }},
	} {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			tamperCases(t, v.new)
		})
	}
}

func tamperCases(t *testing.T, newWorld func(t *testing.T) *evidenceWorld) {
	t.Run("clean", func(t *testing.T) {
		w := newWorld(t)
		r := w.run(w.env, "check", "--config", w.cfg)
		idA := evidence.KeyID(w.keyA.Public().(ed25519.PublicKey))
		locked := strings.Contains(w.sinkYAML, "object_lock")
		if r.code != 0 || !strings.Contains(r.stdout, "signed with key "+idA) || locked != strings.Contains(r.stdout, "Object Lock enabled on the bucket") {
			t.Fatalf("check: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		var out verifyOutput
		r, out = w.verify("--public-key", w.pubA)
		if r.code != 0 || out.Summary.Windows["ok"] != 36 || out.Summary.Days["sealed"] != 3 || len(out.Problems) != 0 || !out.Summary.OK {
			t.Fatalf("clean export: exit %d %+v %+v\n%s", r.code, out.Summary, out.Problems, r.stderr)
		}
		if len(out.Summary.SignedBy) != 1 || out.Summary.SignedBy[0] != idA {
			t.Fatalf("signed by %v, want %s", out.Summary.SignedBy, idA)
		}
		// A re-export (a backfill over exported windows) finds nothing new:
		// nothing is written, the seals stay as they are.
		if r := w.run(w.env, "backfill", "--config", w.cfg, "--from", w.days[1].Format(time.RFC3339), "--to", w.days[1].Add(24*time.Hour).Format(time.RFC3339)); r.code != 0 {
			t.Fatalf("backfill again: %s", r.stderr)
		}
		r, out = w.verify("--public-key", w.pubA)
		if r.code != 0 || out.Summary.Days["sealed"] != 3 {
			t.Fatalf("after a re-export: exit %d %+v %+v", r.code, out.Summary, out.Problems)
		}
		for _, d := range out.Days {
			if want := 1; d.Generations != want {
				t.Fatalf("day %s: %d seal generations, want %d", d.Date, d.Generations, want)
			}
		}
		// Evidence only, as the README shows an auditor: a configuration
		// whose credentials are not there (their variables unset) and an
		// API that cannot be reached, the sink read and nothing written.
		auditor := filepath.Join(w.dir, "auditor.yaml")
		sinkYAML := strings.ReplaceAll(w.sinkYAML, "\n    object_lock:\n      mode: COMPLIANCE\n      retention_days: 1", "")
		os.WriteFile(auditor, []byte("source: {api_url: \"https://api.eu1.hana.ondemand.com\", account: "+acct+", client_id: \"${AUDITOR_HAS_NO_CLIENT_ID}\", client_secret: \"${AUDITOR_HAS_NO_SECRET}\"}\n"+
			"export: {window: 2h}\nsinks:\n"+sinkYAML+"\n"), 0o600)
		dir, isFile := w.store.(fileStore)
		before := snapshot(t, string(dir))
		r = w.run(w.env, "verify", "--config", auditor, "--from", w.days[0].Format(time.RFC3339), "--to", w.days[2].Add(24*time.Hour).Format(time.RFC3339),
			"--evidence-only", "--public-key", w.pubA)
		if r.code != 0 || !strings.Contains(r.stdout, "3 sealed") || !strings.Contains(r.stdout, "36 ok") {
			t.Fatalf("verify --evidence-only: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		if after := snapshot(t, string(dir)); isFile && !maps.Equal(after, before) {
			t.Fatal("verify --evidence-only changed the sink")
		}
		// Usage errors name what is wrong and exit 2.
		notAKey := filepath.Join(w.dir, "not-a-key.pub")
		os.WriteFile(notAKey, []byte("hello"), 0o600)
		for args, want := range map[string]string{
			"--repair --evidence-only":      "--repair exports from the source",
			"--report report.txt":           "name it FILE.html",
			"--public-key " + notAKey:       "no PEM block",
			"--public-key " + w.privA:       `"PRIVATE KEY" PEM block, expected "PUBLIC KEY"`,
			"--public-key /nonexistent.pub": "no such file",
		} {
			r := w.run(w.env, append([]string{"verify", "--config", w.cfg, "--from", "-24h", "--to", "now"}, strings.Fields(args)...)...)
			if r.code != 2 || !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "BEGIN PRIVATE KEY") {
				t.Errorf("verify %s: exit %d, want 2 and %q:\n%s", args, r.code, want, r.stderr)
			}
		}
	})
	t.Run("delete a window and its manifest", func(t *testing.T) {
		w := newWorld(t)
		win := w.win(1, 2)
		w.store.remove(t, sinks.ObjectName(win, "jsonl"))
		w.store.remove(t, sinks.ManifestName(win, "jsonl"))
		r, out := w.verify("--public-key", w.pubA)
		ws, _, ds, dd := statusOf(out, win)
		if r.code != 1 || ws != "missing" || ds != "broken" || !strings.Contains(dd, "missing or differ") {
			t.Fatalf("exit %d, window %s, day %s: %s", r.code, ws, ds, dd)
		}
		// A repair exports it again and seals the day in a new generation.
		r, out = w.verify("--public-key", w.pubA, "--repair")
		if r.code != 0 || out.Summary.Days["sealed"] != 3 {
			t.Fatalf("after --repair: exit %d %+v %+v\n%s", r.code, out.Summary, out.Problems, r.stderr)
		}
	})
	// The day's seal still holds (its manifests are as sealed); the window
	// is what changed.
	t.Run("overwrite an object", func(t *testing.T) {
		w := newWorld(t)
		win := w.win(2, 5)
		w.store.write(t, sinks.ObjectName(win, "jsonl"), []byte("{}\n"))
		r, out := w.verify("--public-key", w.pubA)
		ws, detail, ds, _ := statusOf(out, win)
		locked := strings.Contains(w.sinkYAML, "object_lock") // a versioned bucket
		if r.code != 1 || ws != "not-as-sealed" || ds != "sealed" {
			t.Fatalf("exit %d, window %s (%s), day %s", r.code, ws, detail, ds)
		}
		if locked != strings.Contains(detail, "which is still stored") {
			t.Fatalf("locked (versioned) %v, detail %q", locked, detail)
		}
	})
	t.Run("replace a window and its manifest with another window's", func(t *testing.T) {
		w := newWorld(t)
		win, other := w.win(1, 2), w.win(1, 3)
		w.store.write(t, sinks.ObjectName(win, "jsonl"), w.store.read(t, sinks.ObjectName(other, "jsonl")))
		w.store.write(t, sinks.ManifestName(win, "jsonl"), w.store.read(t, sinks.ManifestName(other, "jsonl")))
		r, out := w.verify("--public-key", w.pubA)
		ws, detail, ds, _ := statusOf(out, win)
		if r.code != 1 || ws != "checksum-mismatch" || !strings.Contains(detail, "describes") || ds != "broken" {
			t.Fatalf("exit %d, window %s (%s), day %s", r.code, ws, detail, ds)
		}
	})
	t.Run("edit a record and fix up the manifest", func(t *testing.T) {
		w := newWorld(t)
		win := w.win(1, 2)
		obj := w.store.read(t, sinks.ObjectName(win, "jsonl"))
		i := bytes.Index(obj, []byte(`"user":"`))
		if i < 0 {
			t.Fatalf("no user field in %s", obj[:min(200, len(obj))])
		}
		edited := append(append(slices(obj[:i+8]), "mallory-"...), obj[i+8:]...)
		sum := sha256.Sum256(edited)
		w.store.write(t, sinks.ObjectName(win, "jsonl"), edited)
		fix := func(doc map[string]any) { doc["sha256"], doc["bytes"] = hex.EncodeToString(sum[:]), len(edited) }
		// The tamperer has no key: the manifest is rewritten unsigned.
		w.store.write(t, sinks.ManifestName(win, "jsonl"), resign(t, w.store.read(t, sinks.ManifestName(win, "jsonl")), nil, fix))
		r, out := w.verify("--public-key", w.pubA)
		ws, detail, ds, _ := statusOf(out, win)
		if r.code != 1 || ws != "bad-signature" || !strings.Contains(detail, "not signed") || ds != "broken" {
			t.Fatalf("with the public key: exit %d, window %s (%s), day %s", r.code, ws, detail, ds)
		}
		// Without a public key the seal still catches it.
		r, out = w.verify()
		ws, detail, _, _ = statusOf(out, win)
		if r.code != 1 || ws != "not-as-sealed" || !strings.Contains(detail, "changed or replaced after the day was sealed") {
			t.Fatalf("without a key: exit %d, window %s (%s)", r.code, ws, detail)
		}
	})
	t.Run("delete a seal", func(t *testing.T) {
		w := newWorld(t)
		w.store.remove(t, w.sealName(1, 1)) // the next day's seal links to it
		r, out := w.verify("--public-key", w.pubA)
		_, _, d1, d1d := statusOf(out, w.win(1, 0))
		if r.code != 1 || d1 != "broken" || !strings.Contains(d1d, "that seal was deleted or replaced") {
			t.Fatalf("exit %d; day 1 %s (%s)", r.code, d1, d1d)
		}
		w.store.remove(t, w.sealName(2, 1)) // the newest: nothing links to it
		r, out = w.verify("--public-key", w.pubA)
		_, _, d2, d2d := statusOf(out, w.win(2, 0))
		if r.code != 1 || d2 != "unsealed" || !strings.Contains(d2d, "no seal covers them") || out.Summary.Days["sealed"] != 1 {
			t.Fatalf("exit %d; day 2 %s (%s); %v", r.code, d2, d2d, out.Summary.Days)
		}
	})
	t.Run("re-sign with another key", func(t *testing.T) {
		w := newWorld(t)
		win := w.win(1, 2)
		name := sinks.ManifestName(win, "jsonl")
		w.store.write(t, name, resign(t, w.store.read(t, name), w.keyB, func(doc map[string]any) { doc["exported_at"] = time.Now().UTC() }))
		w.store.write(t, w.sealName(0, 1), resign(t, w.store.read(t, w.sealName(0, 1)), w.keyB, func(map[string]any) {}))
		idB := evidence.KeyID(w.keyB.Public().(ed25519.PublicKey))
		r, out := w.verify("--public-key", w.pubA)
		ws, detail, _, _ := statusOf(out, win)
		_, _, d0, d0d := statusOf(out, w.win(0, 0))
		if r.code != 1 || ws != "bad-signature" || !strings.Contains(detail, idB) || d0 != "broken" || !strings.Contains(d0d, idB) {
			t.Fatalf("exit %d; window %s (%s); day 0 %s (%s)", r.code, ws, detail, d0, d0d)
		}
		if _, ok := w.store.(fileStore); ok {
			assertReport(t, w, idB)
		}
	})
}

// slices copies b (appending to a sub-slice must not write into b).
func slices(b []byte) []byte { return append([]byte(nil), b...) }

// assertReport writes the HTML report of a tampered export and reads it the
// way an auditor does: rendered by Chromium. The screenshot is kept as a
// test artifact (go test -artifacts).
func assertReport(t *testing.T, w *evidenceWorld, forger string) {
	path := filepath.Join(w.dir, "report.html")
	r := w.run(w.env, "verify", "--config", w.cfg, "--from", w.days[0].Format(time.RFC3339), "--to", w.days[2].Add(24*time.Hour).Format(time.RFC3339),
		"--public-key", w.pubA, "--report", path)
	if r.code != 1 || !strings.Contains(r.stdout, "DAY") {
		t.Fatalf("verify --report: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	page := browsertest.Render(t, path)
	for name, b := range map[string][]byte{"report.png": page.PNG, "report-top.png": page.Top} {
		if err := os.WriteFile(filepath.Join(t.ArtifactDir(), name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if page.Resources != 0 {
		t.Errorf("the report fetched %d resources; it must be self-contained", page.Resources)
	}
	if page.SVGShapes == 0 {
		t.Error("the chart drew nothing")
	}
	text := page.Text
	idA := evidence.KeyID(w.keyA.Public().(ed25519.PublicKey))
	for _, want := range []string{
		"FAIL: ", "bad-signature", forger, "What it means: The manifest's signature does not verify", "broken",
		"Public keys given", idA, "Records per day by category", "audit.", "Reproduce",
		"auditlog-exporter verify --config " + w.cfg, "--public-key " + w.pubA,
		w.days[0].Format(time.DateOnly), w.days[2].Format(time.DateOnly),
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the rendered report does not say %q", want)
		}
	}
	if p, c := strings.Index(text, "Problems"), strings.Index(text, "What was checked"); p < 0 || c < 0 || p > c {
		t.Errorf("problems are not at the top (problems at %d, facts at %d)", p, c)
	}
	if strings.Contains(text, "PRIVATE KEY") || strings.Contains(text, secret) {
		t.Error("the report shows a secret")
	}
	if t.Failed() {
		t.Logf("rendered text:\n%s", text)
	}
}
