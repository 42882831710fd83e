// Package evidence holds every rule about proof of an export: the formats
// of the manifest each committed object has and of the seal each UTC day
// has (Manifest, Seal), their checks as outside input (DecodeManifest,
// DecodeSeal), the hash chain of seals (NextSeal), signatures, and the
// judges that decide what verify found of a window (Judge) and of a day
// (JudgeDay), with their typed statuses (Status). Sinks name, store and
// read back what it describes; verify gathers the evidence and calls the
// judges; report renders the statuses. It does no I/O but reading key
// files.
//
// Signatures use Ed25519 keys read from PEM files (PKCS #8 private keys,
// PKIX public keys, as `openssl genpkey -algorithm ed25519` and
// `openssl pkey -pubout` write them), key IDs, and the envelope a signed
// manifest or seal is stored in. A signed document is stored as
//
//	{"signed": <the document, byte for byte>, "signature": {"key_id": "...", "ed25519": "<base64>"}}
//
// and the signature covers exactly the bytes of "signed": a reader checks
// them as stored, without re-encoding anything.
package evidence

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/auditlog-exporter/auditlog-exporter/internal/safefile"
)

// Signer signs documents with one private key.
type Signer struct {
	key ed25519.PrivateKey
	id  string
}

// KeyID names a public key: "ed25519:" and the first 16 bytes of the
// SHA-256 of the raw key, in hex. It is what seals and manifests record
// and what verify reports.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "ed25519:" + hex.EncodeToString(sum[:16])
}

// NewSigner returns a signer for key.
func NewSigner(key ed25519.PrivateKey) *Signer {
	return &Signer{key: key, id: KeyID(key.Public().(ed25519.PublicKey))}
}

// KeyID is the ID of the signer's public key.
func (s *Signer) KeyID() string { return s.id }

// Public returns the signer's public key.
func (s *Signer) Public() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// maxKeyFile caps a key file read: it is a few hundred bytes.
const maxKeyFile = 64 << 10

// LoadSigner reads a PKCS #8 PEM Ed25519 private key. Its errors name the
// file and what is wrong, never the key's bytes.
func LoadSigner(path string) (*Signer, error) {
	block, err := readPEM(path, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(block)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: not a PKCS #8 private key (create one with `openssl genpkey -algorithm ed25519 -out %s`)", path, path)
	}
	ed, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s: a %T, not an Ed25519 key (create one with `openssl genpkey -algorithm ed25519`)", path, k)
	}
	return NewSigner(ed), nil
}

// LoadPublicKey reads a PKIX PEM Ed25519 public key ("PUBLIC KEY").
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	block, err := readPEM(path, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	return ParsePublicKey(block, path)
}

// ParsePublicKey parses a DER PKIX Ed25519 public key; name is for errors.
func ParsePublicKey(der []byte, name string) (ed25519.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("public key %s: not a PKIX public key (write one with `openssl pkey -in private.pem -pubout`)", name)
	}
	ed, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key %s: a %T, not an Ed25519 key", name, k)
	}
	return ed, nil
}

// MarshalPublicKey returns pub as a PKIX PEM block.
func MarshalPublicKey(pub ed25519.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(pub) // cannot fail for an Ed25519 key
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// MarshalPrivateKey returns key as a PKCS #8 PEM block.
func MarshalPrivateKey(key ed25519.PrivateKey) []byte {
	der, _ := x509.MarshalPKCS8PrivateKey(key) // cannot fail for an Ed25519 key
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func readPEM(path, typ string) ([]byte, error) {
	b, err := safefile.ReadFile(path, maxKeyFile)
	if errors.Is(err, safefile.ErrTooLarge) {
		return nil, fmt.Errorf("key file %s: larger than %d bytes, not a key", path, maxKeyFile)
	}
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("key file %s: no PEM block", path)
	}
	if block.Type != typ {
		return nil, fmt.Errorf("key file %s: a %q PEM block, expected %q", path, block.Type, typ)
	}
	return block.Bytes, nil
}

// Signature is the signature part of an envelope.
type Signature struct {
	KeyID   string `json:"key_id"`
	Ed25519 string `json:"ed25519"` // base64 (standard, padded)
}

type envelope struct {
	Signed    json.RawMessage `json:"signed"`
	Signature *Signature      `json:"signature"`
}

// Seal wraps doc (a JSON object) in a signed envelope.
func (s *Signer) Seal(doc []byte) ([]byte, error) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, doc); err != nil {
		return nil, err
	}
	sig, err := json.Marshal(Signature{KeyID: s.id, Ed25519: base64.StdEncoding.EncodeToString(ed25519.Sign(s.key, compact.Bytes()))})
	if err != nil {
		return nil, err
	}
	// Written by hand: an encoder would re-indent the signed bytes.
	var b bytes.Buffer
	b.WriteString("{\n  \"signed\": ")
	b.Write(compact.Bytes())
	b.WriteString(",\n  \"signature\": ")
	b.Write(sig)
	b.WriteString("\n}\n")
	return b.Bytes(), nil
}

// Opened is a stored document taken out of its envelope.
type Opened struct {
	Doc []byte // the document (the signed bytes when signed)
	// Sig is the envelope's signature; nil when the document is stored
	// plain (unsigned).
	Sig *Signature
	// SigErr says why the signature is invalid: bad encoding, or it does
	// not verify with the key its ID names (when that key is known).
	SigErr error
	// Checked reports that the signature was checked with a known key.
	Checked bool
}

// ErrUnknownKey means a document is signed by a key not among those given.
var ErrUnknownKey = errors.New("signed by a key not among the public keys given")

// Open takes a stored document out of its envelope, if it has one, and
// checks its signature with the key among keys (by ID) that it names. A
// document with no "signed" member is plain.
func Open(b []byte, keys map[string]ed25519.PublicKey) (Opened, error) {
	trimmed := bytes.TrimSpace(b)
	if !bytes.HasPrefix(trimmed, []byte("{")) {
		return Opened{}, errors.New("not a JSON object")
	}
	var env envelope
	if err := json.Unmarshal(trimmed, &env); err != nil {
		return Opened{}, err
	}
	if env.Signed == nil && env.Signature == nil {
		return Opened{Doc: trimmed}, nil // a plain document
	}
	if env.Signature == nil || len(env.Signed) == 0 || env.Signed[0] != '{' {
		return Opened{}, errors.New("an envelope without a signature or a signed document")
	}
	o := Opened{Doc: env.Signed, Sig: env.Signature}
	sig, err := base64.StdEncoding.DecodeString(env.Signature.Ed25519)
	switch pub, known := keys[env.Signature.KeyID]; {
	case err != nil || len(sig) != ed25519.SignatureSize:
		o.SigErr = errors.New("the signature is not a base64 Ed25519 signature")
	case !known:
		o.SigErr = ErrUnknownKey
	case !ed25519.Verify(pub, env.Signed, sig):
		o.SigErr = fmt.Errorf("the signature does not verify with key %s: the document was changed after it was signed", env.Signature.KeyID)
		o.Checked = true
	default:
		o.Checked = true
	}
	return o, nil
}

// Keys indexes public keys by ID.
func Keys(pubs ...ed25519.PublicKey) map[string]ed25519.PublicKey {
	m := make(map[string]ed25519.PublicKey, len(pubs))
	for _, p := range pubs {
		m[KeyID(p)] = p
	}
	return m
}

// shortID keeps a key ID from a stored document short enough for a message.
func shortID(id string) string {
	id = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, id)
	if len(id) > 48 {
		return id[:48] + "..."
	}
	return id
}
