package evidence_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/audit"
	"github.com/auditlog-exporter/auditlog-exporter/evidence"
)

// manifestWindow is the window the manifests of these tests describe,
// stored as manifestObject.
var manifestWindow = audit.Window{Account: "acct", Start: time.Date(2026, 11, 24, 13, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC)}

const manifestObject = "account=acct/date=2026-11-24/acct_20261124T130000Z_20261124T140000Z.parquet"

func validManifest(t testing.TB) (evidence.Manifest, []byte) {
	w := manifestWindow
	m := evidence.Manifest{Account: "acct", WindowStart: w.Start, WindowEnd: w.End, Object: manifestObject, Format: "parquet",
		Records: 10, SourceCount: 12, SHA256: strings.Repeat("ab", 32), Bytes: 2048, ExporterVersion: "1.0.0", ExportedAt: w.End.Add(time.Hour)}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return m, b
}

func TestDecodeManifest(t *testing.T) {
	w := manifestWindow
	good, _ := validManifest(t)
	edit := func(f func(m *evidence.Manifest)) string {
		m := good
		f(&m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	for _, tc := range []struct {
		name, in, err string
	}{
		{"valid", edit(func(*evidence.Manifest) {}), ""},
		{"no source count", edit(func(m *evidence.Manifest) { m.SourceCount = -1 }), ""},
		{"unknown fields are kept for newer versions", strings.Replace(edit(func(*evidence.Manifest) {}), "{", `{"future":1,`, 1), ""},
		{"not JSON", "<html>", "manifest: "},
		{"truncated", edit(func(*evidence.Manifest) {})[:40], "manifest: "},
		{"empty object", "{}", "sha256"},
		{"uppercase checksum", edit(func(m *evidence.Manifest) { m.SHA256 = strings.ToUpper(m.SHA256) }), "sha256"},
		{"short checksum", edit(func(m *evidence.Manifest) { m.SHA256 = "abcd" }), "sha256"},
		{"another window", edit(func(m *evidence.Manifest) { m.WindowStart = m.WindowStart.Add(-time.Hour) }), "describes"},
		{"another account", edit(func(m *evidence.Manifest) { m.Account = "other" }), "describes"},
		{"another object", edit(func(m *evidence.Manifest) { m.Object = "../../etc/passwd" }), "describes"},
		{"another format", edit(func(m *evidence.Manifest) { m.Format = "jsonl" }), "describes"},
		{"negative records", edit(func(m *evidence.Manifest) { m.Records = -1 }), "negative"},
		{"negative bytes", edit(func(m *evidence.Manifest) { m.Bytes = -5 }), "negative"},
		{"source count below -1", edit(func(m *evidence.Manifest) { m.SourceCount = -2 }), "negative"},
		{"categories", edit(func(m *evidence.Manifest) {
			m.Categories = map[string]int64{"audit.security-events": 3, evidence.OtherCategory: 1}
		}), ""},
		{"negative category count", edit(func(m *evidence.Manifest) { m.Categories = map[string]int64{"audit.security-events": -3} }), "negative count"},
		{"long category name", edit(func(m *evidence.Manifest) { m.Categories = map[string]int64{strings.Repeat("c", 129): 1} }), "longer than 128"},
		{"too many categories", edit(func(m *evidence.Manifest) {
			m.Categories = map[string]int64{}
			for i := range 100 {
				m.Categories[fmt.Sprint("c", i)] = 1
			}
		}), "more than"},
	} {
		m, err := evidence.DecodeManifest([]byte(tc.in), w, "parquet", 0, manifestObject, nil)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err == "" && (m.Records != good.Records || m.SHA256 != good.SHA256):
			t.Errorf("%s: decoded %+v", tc.name, m)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one about %q", tc.name, err, tc.err)
		}
	}
}

// Whatever a stored manifest holds, decoding it does not panic, and what it
// accepts describes the window asked for with sane numbers.
func FuzzDecodeManifest(f *testing.F) {
	_, b := validManifest(f)
	f.Add(b)
	f.Add([]byte(`{"sha256":"` + strings.Repeat("0", 64) + `"}`))
	f.Add([]byte(`{"records":-1}`))
	f.Add([]byte(`null`))
	w := manifestWindow
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := evidence.DecodeManifest(b, w, "parquet", 0, manifestObject, nil)
		if err != nil {
			return
		}
		if len(m.SHA256) != 64 || m.Object != manifestObject || m.Account != "acct" || !m.WindowStart.Equal(w.Start) || m.Records < 0 || m.Bytes < 0 || m.SourceCount < -1 {
			t.Fatalf("accepted %+v", m)
		}
	})
}
