package sinks_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditlog-exporter/auditlog-exporter/evidence"
	"github.com/auditlog-exporter/auditlog-exporter/sinks"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/file"
	"github.com/auditlog-exporter/auditlog-exporter/sinks/sinktest"
)

// TestManifestCountsCategoriesBounded: category names are outside input;
// a manifest names at most 64 of them, short ones, the rest counted apart.
func TestManifestCountsCategoriesBounded(t *testing.T) {
	dir := t.TempDir()
	s := file.NewSink(dir, sinks.JSONL{})
	w := sinktest.Window("acct", 0)
	recs := sinktest.Records(w, 300, "cat")
	for i := range recs {
		recs[i].Category = fmt.Sprint("cat-", i%100)
	}
	recs[0].Category = strings.Repeat("x", 1000)
	wr := sinktest.Write(t, s, w, recs)
	if err := wr.Commit(context.Background(), sinks.Source{Count: -1}); err != nil {
		t.Fatal(err)
	}
	m, _, err := s.Archive().ReadManifest(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for c, n := range m.Categories {
		total += n
		if len(c) > 128 {
			t.Fatalf("a %d-byte category name kept", len(c))
		}
	}
	if len(m.Categories) != 65 || total != 300 || m.Categories[evidence.OtherCategory] == 0 {
		t.Fatalf("%d categories, %d records, other %d: want 64 named + other, every record counted", len(m.Categories), total, m.Categories[evidence.OtherCategory])
	}
}

// TestSignedManifests: with a signer, manifests are stored in a signed
// envelope; read back with the public key they check; an edit, or another
// key, shows in Stored.SigErr; the private key is nowhere in what is
// written.
func TestSignedManifests(t *testing.T) {
	ctx := context.Background()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	signer := evidence.NewSigner(key)
	dir := t.TempDir()
	s := file.NewSink(dir, sinks.JSONL{})
	s.Signer = signer
	s.Keys = evidence.Keys(signer.Public())
	w := sinktest.Window("acct", 0)
	wr := sinktest.Write(t, s, w, sinktest.Records(w, 5, "sig"))
	if err := wr.Commit(ctx, sinks.Source{Count: 5, Completeness: "counted"}); err != nil {
		t.Fatal(err)
	}
	m, found, err := s.Archive().ReadManifest(ctx, w)
	if err != nil || !found || m.Stored.Signature == nil || m.Stored.SigErr != nil || m.Stored.SignedBy() != signer.KeyID() || m.Records != 5 {
		t.Fatalf("signed manifest: %+v %v %v", m.Stored, found, err)
	}
	p := filepath.Join(dir, filepath.FromSlash(sinks.ManifestName(w, "jsonl")))
	b, _ := os.ReadFile(p)
	if strings.Contains(string(b), string(evidence.MarshalPrivateKey(key)[30:60])) {
		t.Fatal("the manifest holds the private key")
	}
	os.WriteFile(p, []byte(strings.Replace(string(b), `"records":5`, `"records":6`, 1)), 0o600)
	m, _, err = s.Archive().ReadManifest(ctx, w)
	if err != nil || m.Stored.SigErr == nil || !strings.Contains(m.Stored.SigErr.Error(), "does not verify") {
		t.Fatalf("edited signed manifest: %v, %v", m.Stored.SigErr, err)
	}
	s.Keys = evidence.Keys(other.Public().(ed25519.PublicKey))
	os.WriteFile(p, b, 0o600)
	m, _, _ = s.Archive().ReadManifest(ctx, w)
	if m.Stored.SigErr == nil || !strings.Contains(m.Stored.SigErr.Error(), "not among") {
		t.Fatalf("signed by a key not given: %v", m.Stored.SigErr)
	}
}
