package evidence_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/evidence"
)

var sealDate = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

// validSeal is generation 2 of acct's seal of sealDate: four 6-hour windows.
func validSeal() evidence.Seal {
	s := evidence.Seal{Kind: evidence.SealKind, Account: "acct", Date: "2026-11-24", Format: "jsonl", Generation: 2, Reason: "verify --repair: exported again: 06:00-12:00",
		Supersedes: &evidence.SealLink{Date: "2026-11-24", Generation: 1, SHA256: strings.Repeat("a", 64)},
		Previous:   &evidence.SealLink{Date: "2026-11-23", Generation: 1, SHA256: strings.Repeat("b", 64)}, SealedAt: sealDate.Add(30 * time.Hour)}
	for i := range 4 {
		st := sealDate.Add(time.Duration(i) * 6 * time.Hour)
		s.Windows = append(s.Windows, evidence.SealedWindow{Start: st, End: st.Add(6 * time.Hour), SealedPart: evidence.SealedPart{Object: "o", ObjectSHA256: strings.Repeat("c", 64), Records: 3,
			Manifest: "m", ManifestSHA256: strings.Repeat("d", 64)}})
	}
	return s
}

func TestDecodeSeal(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	signer := evidence.NewSigner(key)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	keys := evidence.Keys(signer.Public())
	enc := func(edit func(s *evidence.Seal)) string {
		s := validSeal()
		edit(&s)
		b, _ := json.Marshal(s)
		return string(b)
	}
	signed := func(doc string, k ed25519.PrivateKey) string {
		b, err := evidence.NewSigner(k).Seal([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cases := []struct {
		name, in string
		want     string // in Err; "" = valid
		sigErr   string // in Stored.SigErr
	}{
		{"valid", enc(func(*evidence.Seal) {}), "", ""},
		{"signed", signed(enc(func(*evidence.Seal) {}), key), "", ""},
		{"signed by another key", signed(enc(func(*evidence.Seal) {}), other), "", "not among"},
		{"generation 1 without supersedes", enc(func(s *evidence.Seal) { s.Generation = 1; s.Supersedes = nil }), "generation 1", ""},
		{"another kind", enc(func(s *evidence.Seal) { s.Kind = "x" }), "kind", ""},
		{"another account", enc(func(s *evidence.Seal) { s.Account = "other" }), "describes", ""},
		{"another date", enc(func(s *evidence.Seal) { s.Date = "2026-11-25" }), "describes", ""},
		{"another format", enc(func(s *evidence.Seal) { s.Format = "parquet" }), "describes", ""},
		{"another generation", enc(func(s *evidence.Seal) { s.Generation = 3 }), "describes", ""},
		{"supersedes nothing", enc(func(s *evidence.Seal) { s.Supersedes = nil }), "supersedes", ""},
		{"supersedes another generation", enc(func(s *evidence.Seal) { s.Supersedes.Generation = 0 }), "supersedes", ""},
		{"no windows", enc(func(s *evidence.Seal) { s.Windows = nil }), "cover the day", ""},
		{"a window missing", enc(func(s *evidence.Seal) { s.Windows = append(s.Windows[:1], s.Windows[2:]...) }), "not the next window", ""},
		{"last window missing", enc(func(s *evidence.Seal) { s.Windows = s.Windows[:3] }), "cover the day", ""},
		{"windows swapped", enc(func(s *evidence.Seal) { s.Windows[1], s.Windows[2] = s.Windows[2], s.Windows[1] }), "not the next window", ""},
		{"empty window", enc(func(s *evidence.Seal) { s.Windows[1].End = s.Windows[1].Start }), "not the next window", ""},
		{"one-second windows", enc(func(s *evidence.Seal) {
			s.Windows = nil
			for i := range 2880 {
				st := sealDate.Add(time.Duration(i) * 30 * time.Second)
				s.Windows = append(s.Windows, evidence.SealedWindow{Start: st, End: st.Add(30 * time.Second)})
			}
		}), "more than the 1440", ""},
		{"30-second windows", enc(func(s *evidence.Seal) {
			s.Windows = nil
			for i := range 1440 {
				st := sealDate.Add(time.Duration(i) * time.Minute)
				s.Windows = append(s.Windows, evidence.SealedWindow{Start: st, End: st.Add(30 * time.Second)})
			}
		}), "not the next window", ""},
		{"truncated", enc(func(*evidence.Seal) {})[:60], "unexpected end", ""},
		{"a long reason with control characters", enc(func(s *evidence.Seal) { s.Reason = "\x1b[31m" + strings.Repeat("r", 5000) }), "", ""},
		{"not JSON", "seal", "not a JSON object", ""},
		{"an array", "[]", "not a JSON object", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := evidence.DecodeSeal([]byte(tc.in), "acct", sealDate, "jsonl", 2, keys)
			if tc.name == "generation 1 without supersedes" {
				s = evidence.DecodeSeal([]byte(tc.in), "acct", sealDate, "jsonl", 1, keys)
				if s.Err != nil {
					t.Fatalf("a first generation: %v", s.Err)
				}
				return
			}
			switch {
			case tc.want == "" && s.Err != nil:
				t.Fatalf("want valid, got %v", s.Err)
			case tc.want != "" && (s.Err == nil || !strings.Contains(s.Err.Error(), tc.want)):
				t.Fatalf("want an error with %q, got %v", tc.want, s.Err)
			case tc.want != "" && s.Generation != 0:
				t.Fatalf("an invalid seal kept its fields: %+v", s.Seal)
			}
			if tc.sigErr != "" && (s.Stored.SigErr == nil || !strings.Contains(s.Stored.SigErr.Error(), tc.sigErr)) {
				t.Fatalf("signature: want %q, got %v", tc.sigErr, s.Stored.SigErr)
			}
			if tc.sigErr == "" && s.Stored.SigErr != nil {
				t.Fatalf("signature: %v", s.Stored.SigErr)
			}
			if len(s.Reason) > 403 || strings.ContainsRune(s.Reason, 0x1b) {
				t.Fatalf("reason kept as stored: %d bytes", len(s.Reason))
			}
			if len(s.Stored.SHA256) != 64 {
				t.Fatalf("no hash of the stored bytes: %q", s.Stored.SHA256)
			}
		})
	}
}

func FuzzDecodeSeal(f *testing.F) {
	b, _ := json.Marshal(validSeal())
	f.Add(b)
	f.Add([]byte(`{"signed":{},"signature":{"key_id":"k","ed25519":"AA=="}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := evidence.DecodeSeal(b, "acct", sealDate, "jsonl", 2, nil)
		if s.Err != nil {
			return
		}
		// A seal that decodes covers the day with contiguous windows.
		if len(s.Windows) == 0 || !s.Windows[0].Start.Equal(sealDate) || !s.Windows[len(s.Windows)-1].End.Equal(sealDate.AddDate(0, 0, 1)) {
			t.Fatalf("a valid seal that does not cover the day: %+v", s.Windows)
		}
		for i := 1; i < len(s.Windows); i++ {
			if !s.Windows[i].Start.Equal(s.Windows[i-1].End) {
				t.Fatalf("windows not contiguous: %+v", s.Windows)
			}
		}
		if s.Supersedes == nil || s.Supersedes.Generation != 1 {
			t.Fatalf("generation 2 without its supersedes link: %+v", s.Supersedes)
		}
	})
}

// TestNextSeal: the first generation of a day supersedes nothing; a day
// whose windows changed gets the next generation, which links to the one
// it supersedes as stored and names the windows that changed; a day
// sealed as it is gets none.
func TestNextSeal(t *testing.T) {
	first := validSeal()
	windows := first.Windows
	stored := evidence.StoredSeal{Seal: first, Stored: evidence.Stored{SHA256: strings.Repeat("e", 64)}}

	s, same := evidence.NextSeal("acct", sealDate, "jsonl", windows, nil, "run")
	if same || s.Generation != 1 || s.Supersedes != nil || s.Kind != evidence.SealKind || s.Date != "2026-11-24" || s.Reason != "every window of the day is committed" {
		t.Fatalf("a first seal: %+v (same %v)", s, same)
	}
	if _, same := evidence.NextSeal("acct", sealDate, "jsonl", windows, []evidence.StoredSeal{stored}, "run"); !same {
		t.Fatal("the day as sealed is sealed again")
	}
	changed := append([]evidence.SealedWindow(nil), windows...)
	changed[1].Deltas = []evidence.SealedPart{{Object: "d", ManifestSHA256: strings.Repeat("f", 64)}}
	s, same = evidence.NextSeal("acct", sealDate, "jsonl", changed, []evidence.StoredSeal{stored}, "verify --repair")
	if same || s.Generation != 3 || s.Supersedes == nil || *s.Supersedes != (evidence.SealLink{Date: "2026-11-24", Generation: 2, SHA256: stored.Stored.SHA256}) ||
		s.Reason != "verify --repair: exported again: 06:00-12:00" {
		t.Fatalf("a day that changed: %+v (same %v)", s, same)
	}
	// A newest generation that is not a valid seal is superseded all the
	// same, by the generation after the ones stored.
	bad := evidence.StoredSeal{Stored: evidence.Stored{SHA256: strings.Repeat("0", 64)}, Err: errors.New("kind")}
	s, _ = evidence.NextSeal("acct", sealDate, "jsonl", windows, []evidence.StoredSeal{stored, bad}, "run")
	if s.Generation != 3 || s.Supersedes.Generation != 2 || s.Supersedes.SHA256 != bad.Stored.SHA256 {
		t.Fatalf("after an invalid generation: %+v", s)
	}
	if l := evidence.NewestLink([]evidence.StoredSeal{stored}); l == nil || *l != stored.Link() {
		t.Fatalf("newest link %+v", l)
	}
	if l := evidence.NewestLink([]evidence.StoredSeal{stored, bad}); l != nil {
		t.Fatalf("a link to an invalid seal: %+v", l)
	}
}
