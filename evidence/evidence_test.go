package evidence_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditlog-exporter/auditlog-exporter/evidence"
)

func newKey(t testing.TB) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func write(t *testing.T, dir, name string, b []byte) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadKeys(t *testing.T) {
	dir := t.TempDir()
	k := newKey(t)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecPubDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	priv := write(t, dir, "good.pem", evidence.MarshalPrivateKey(k))
	pub := write(t, dir, "good.pub", evidence.MarshalPublicKey(k.Public().(ed25519.PublicKey)))
	secret := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("not-der-but-secret-material")}))
	cases := []struct {
		name, file string
		public     bool
		want       string // "" = loads
	}{
		{"private key", priv, false, ""},
		{"public key", pub, true, ""},
		{"missing file", filepath.Join(dir, "nope.pem"), false, "no such file"},
		{"not PEM", write(t, dir, "text.pem", []byte("hello")), false, "no PEM block"},
		{"public key as private", pub, false, `"PUBLIC KEY" PEM block, expected "PRIVATE KEY"`},
		{"private key as public", priv, true, `"PRIVATE KEY" PEM block, expected "PUBLIC KEY"`},
		{"garbage DER", write(t, dir, "garbage.pem", []byte(secret)), false, "not a PKCS #8 private key"},
		{"ECDSA private key", write(t, dir, "ec.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})), false, "not an Ed25519 key"},
		{"ECDSA public key", write(t, dir, "ec.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecPubDER})), true, "not an Ed25519 key"},
		{"huge file", write(t, dir, "huge.pem", []byte(strings.Repeat("A", 70<<10))), false, "larger than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.public {
				_, err = evidence.LoadPublicKey(tc.file)
			} else {
				_, err = evidence.LoadSigner(tc.file)
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("want it loaded, got %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("want an error with %q, got %v", tc.want, err)
			}
			if err != nil && strings.Contains(err.Error(), "secret-material") {
				t.Fatalf("the error shows the key file's bytes: %v", err)
			}
		})
	}
}

func TestSealAndOpen(t *testing.T) {
	k := newKey(t)
	s := evidence.NewSigner(k)
	other := newKey(t)
	keys := evidence.Keys(k.Public().(ed25519.PublicKey))
	doc := []byte(`{
  "b": 1,
  "a": "x"
}`)
	env, err := s.Seal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(env), string(k.Seed()[:8])) {
		t.Fatal("the envelope holds key material")
	}
	o, err := evidence.Open(env, keys)
	if err != nil || o.SigErr != nil || !o.Checked || o.Sig.KeyID != s.KeyID() {
		t.Fatalf("open: %+v, %v", o, err)
	}
	if string(o.Doc) != `{"b":1,"a":"x"}` {
		t.Fatalf("doc %s: want the signed bytes, member order kept", o.Doc)
	}
	tampered := strings.Replace(string(env), `\"x\"`, `\"y\"`, 1)
	tampered = strings.Replace(tampered, `"a":"x"`, `"a":"y"`, 1)
	cases := []struct {
		name string
		in   string
		keys map[string]ed25519.PublicKey
		want string // in SigErr; "" = good; "plain" = unsigned
		err  bool   // Open fails
	}{
		{"good", string(env), keys, "", false},
		{"document changed", tampered, keys, "does not verify", false},
		{"unknown key", string(env), evidence.Keys(other.Public().(ed25519.PublicKey)), "not among", false},
		{"no keys given", string(env), nil, "not among", false},
		{"plain document", string(doc), keys, "plain", false},
		{"bad base64", strings.Replace(string(env), `"ed25519":"`, `"ed25519":"!!`, 1), keys, "not a base64", false},
		{"no signature", `{"signed": {"a": 1}}`, keys, "", true},
		{"not an object", `[1,2]`, keys, "", true},
		{"truncated", string(env[:len(env)/2]), keys, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, err := evidence.Open([]byte(tc.in), tc.keys)
			if tc.err {
				if err == nil {
					t.Fatalf("want an error, got %+v", o)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.want == "plain":
				if o.Sig != nil {
					t.Fatalf("a plain document came out signed: %+v", o)
				}
			case tc.want == "":
				if o.SigErr != nil {
					t.Fatal(o.SigErr)
				}
			case o.SigErr == nil || !strings.Contains(o.SigErr.Error(), tc.want):
				t.Fatalf("want %q, got %v", tc.want, o.SigErr)
			}
			if tc.name == "unknown key" && !errors.Is(o.SigErr, evidence.ErrUnknownKey) {
				t.Fatalf("unknown key: %v is not ErrUnknownKey", o.SigErr)
			}
		})
	}
}

func TestKeyIDNamesThePublicKey(t *testing.T) {
	a, b := newKey(t), newKey(t)
	ida, idb := evidence.KeyID(a.Public().(ed25519.PublicKey)), evidence.KeyID(b.Public().(ed25519.PublicKey))
	if ida == idb || !strings.HasPrefix(ida, "ed25519:") || len(ida) != len("ed25519:")+32 {
		t.Fatalf("key IDs %q %q", ida, idb)
	}
	if evidence.NewSigner(a).KeyID() != ida {
		t.Fatal("the signer's key ID is not its public key's")
	}
}

func FuzzOpen(f *testing.F) {
	k := newKey(f)
	env, _ := evidence.NewSigner(k).Seal([]byte(`{"a":1}`))
	f.Add(env)
	f.Add([]byte(`{"a":1}`))
	f.Add([]byte(`{"signed":{},"signature":{"key_id":"x","ed25519":""}}`))
	keys := evidence.Keys(k.Public().(ed25519.PublicKey))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := evidence.Open(b, keys)
		if err != nil {
			return
		}
		if o.Sig != nil && o.SigErr == nil && !o.Checked {
			t.Fatal("a signature counted good without being checked")
		}
		if o.Sig == nil && o.SigErr != nil {
			t.Fatal("a plain document with a signature error")
		}
	})
}
