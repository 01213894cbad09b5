// Package auditsign signs the heads of the audit trail's hash chains with an
// Ed25519 key kept outside the database (in the data directory), so that a
// database superuser who rewrites events and audit rows, and recomputes the
// chains, cannot produce heads that verify.
package auditsign

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/apiq/apiq/adapters/authtoken"
)

// DefaultKeyFile is the audit signing key's file name inside APIQ_DATA_DIR.
const DefaultKeyFile = "audit-signing.key"

// signingContext starts the bytes every head signature covers, so a
// signature over a head can never be mistaken for one over anything else.
const signingContext = "apiq.audit.head.v1\n"

// Errors of signature checks.
var (
	// ErrUnknownKey means a head was signed by a key other than the one the
	// verifier holds.
	ErrUnknownKey = errors.New("auditsign: head signed by an unknown key")
	// ErrBadSignature means the signature does not match the head.
	ErrBadSignature = errors.New("auditsign: signature does not match the head")
)

// Head is the state of one tenant's audit hash chain at a moment: how many
// rows it has, its last event, and the hash of its last row.
type Head struct {
	TenantID string `json:"tenant_id"`
	// RowCount is the number of events the chain covers (the last row's
	// sequence number).
	RowCount    int64     `json:"row_count"`
	LastEventID uuid.UUID `json:"last_event_id"`
	// Position is the feed position token of the last event (informational:
	// a logical restore renumbers positions, the hash does not change).
	Position string `json:"position"`
	// Hash is the hex SHA-256 chain hash of the last row.
	Hash     string    `json:"hash"`
	SignedAt time.Time `json:"signed_at"`
}

// Normalize returns h with SignedAt in UTC at microsecond precision, the
// form PostgreSQL stores and signatures cover.
func (h Head) Normalize() Head {
	h.SignedAt = h.SignedAt.UTC().Truncate(time.Microsecond)
	return h
}

// SigningBytes are the bytes a head's signature covers: a fixed context
// line followed by the head as JSON (fields in declaration order, SignedAt
// normalised), which anyone can reproduce to check a signature.
func (h Head) SigningBytes() []byte {
	b, err := json.Marshal(h.Normalize())
	if err != nil {
		// Head holds only strings, integers, a UUID and a time: it always encodes.
		panic(fmt.Sprintf("auditsign: encode head: %v", err))
	}
	return append([]byte(signingContext), b...)
}

// SignedHead is a head with the signature of the audit signing key.
type SignedHead struct {
	Head
	// KeyID names the signing key (see KeyIDOf).
	KeyID string `json:"key_id"`
	// Signature is the standard base64 Ed25519 signature of SigningBytes.
	Signature string `json:"signature"`
}

// KeyIDOf names a public key: the hex of the first 8 bytes of its SHA-256.
func KeyIDOf(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// Verifier checks head signatures with one public key.
type Verifier struct {
	pub ed25519.PublicKey
	id  string
}

// NewVerifier returns a verifier for pub.
func NewVerifier(pub ed25519.PublicKey) (Verifier, error) {
	if len(pub) != ed25519.PublicKeySize {
		return Verifier{}, fmt.Errorf("auditsign: public key has %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	return Verifier{pub: pub, id: KeyIDOf(pub)}, nil
}

// KeyID names the verifier's key.
func (v Verifier) KeyID() string { return v.id }

// PublicKey returns the verifier's key.
func (v Verifier) PublicKey() ed25519.PublicKey { return v.pub }

// Verify checks that h was signed by the verifier's key and is unchanged.
func (v Verifier) Verify(h SignedHead) error {
	if h.KeyID != v.id {
		return fmt.Errorf("key %q, expected %q: %w", h.KeyID, v.id, ErrUnknownKey)
	}
	sig, err := base64.StdEncoding.DecodeString(h.Signature)
	if err != nil || !ed25519.Verify(v.pub, h.Head.SigningBytes(), sig) {
		return ErrBadSignature
	}
	return nil
}

// Key signs heads with a private Ed25519 key.
type Key struct {
	priv     ed25519.PrivateKey
	verifier Verifier
}

// NewKey wraps a private key.
func NewKey(priv ed25519.PrivateKey) (*Key, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("auditsign: private key has %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	v, err := NewVerifier(priv.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, err
	}
	return &Key{priv: priv, verifier: v}, nil
}

// EnsureKeyFile generates the audit signing key (PKCS#8 PEM, mode 0600)
// unless the file exists, and reports whether it created one.
func EnsureKeyFile(path string) (created bool, err error) {
	created, err = authtoken.GenerateSigningKeyFile(path)
	if err != nil {
		return false, fmt.Errorf("audit signing key: %w", err)
	}
	return created, nil
}

// LoadKeyFile reads the audit signing key, refusing a file others than its
// owner may read.
func LoadKeyFile(path string) (*Key, error) {
	priv, err := authtoken.ReadSigningKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit signing key: %w", err)
	}
	return NewKey(priv)
}

// Verifier returns the verifier of the key's signatures.
func (k *Key) Verifier() Verifier { return k.verifier }

// Sign signs h (normalised first).
func (k *Key) Sign(h Head) SignedHead {
	h = h.Normalize()
	sig := ed25519.Sign(k.priv, h.SigningBytes())
	return SignedHead{Head: h, KeyID: k.verifier.id, Signature: base64.StdEncoding.EncodeToString(sig)}
}
