package authtoken

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// APITokenPrefix starts every API token, so scanners can recognise leaked ones.
const APITokenPrefix = "apiq"

// ErrMalformedAPIToken means a string is not an API token.
var ErrMalformedAPIToken = errors.New("authtoken: malformed API token")

// APIToken is a machine credential: "apiq_<id>_<secret>". Only the
// SHA-256 of the secret is ever stored; the id finds the stored hash.
type APIToken struct {
	ID     string // a UUID
	Secret string // 32 random bytes, URL-safe base64
}

// NewAPIToken returns a token with the given id (a UUID) and a fresh secret.
func NewAPIToken(id string) (APIToken, error) {
	if _, err := uuid.Parse(id); err != nil {
		return APIToken{}, fmt.Errorf("authtoken: token id %q is not a UUID", id)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return APIToken{}, fmt.Errorf("authtoken: generate secret: %w", err)
	}
	return APIToken{ID: id, Secret: base64.RawURLEncoding.EncodeToString(b)}, nil
}

// String is the token as handed to its owner, once.
func (t APIToken) String() string { return APITokenPrefix + "_" + t.ID + "_" + t.Secret }

// SecretHash is what is stored of the secret.
func (t APIToken) SecretHash() string { return HashSecret(t.Secret) }

// ParseAPIToken splits an API token into id and secret.
func ParseAPIToken(s string) (APIToken, error) {
	prefix, rest, ok := strings.Cut(s, "_")
	if !ok || prefix != APITokenPrefix {
		return APIToken{}, ErrMalformedAPIToken
	}
	// A UUID has no underscore; the secret's alphabet may.
	id, secret, ok := strings.Cut(rest, "_")
	if !ok {
		return APIToken{}, ErrMalformedAPIToken
	}
	parsed, err := uuid.Parse(id)
	if err != nil || parsed.String() != id {
		return APIToken{}, ErrMalformedAPIToken
	}
	if raw, err := base64.RawURLEncoding.DecodeString(secret); err != nil || len(raw) != 32 {
		return APIToken{}, ErrMalformedAPIToken
	}
	return APIToken{ID: id, Secret: secret}, nil
}

// HashSecret returns the hex SHA-256 of a secret. A fast hash is right
// here: the secret has 256 random bits, nothing to brute-force.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// VerifySecret reports, in constant time, whether secret matches a stored hash.
func VerifySecret(secret, hash string) bool {
	want, err := hex.DecodeString(hash)
	if err != nil || len(want) != sha256.Size {
		return false
	}
	got := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(got[:], want) == 1
}
