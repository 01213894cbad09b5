package idempotency

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
)

// SealKeySize is the length of the key that seals stored responses.
const SealKeySize = 32

// sealer encrypts stored responses (AES-256-GCM) bound to their scope, so
// a database reader sees no secrets and a row copied to another key or
// tenant does not open.
type sealer struct {
	aead cipher.AEAD
}

func newSealer(key []byte) (*sealer, error) {
	if len(key) != SealKeySize {
		return nil, fmt.Errorf("idempotency seal key: want %d bytes, got %d", SealKeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("idempotency seal key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("idempotency seal key: %w", err)
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(plain []byte, scope Scope) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, plain, associatedData(scope)), nil
}

func (s *sealer) open(sealed []byte, scope Scope) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed response too short")
	}
	return s.aead.Open(nil, sealed[:n], sealed[n:], associatedData(scope))
}

func associatedData(scope Scope) []byte {
	var b []byte
	for _, part := range []string{scope.TenantID, scope.Actor, scope.Key} {
		b = strconv.AppendInt(b, int64(len(part)), 10)
		b = append(b, ':')
		b = append(b, part...)
	}
	return b
}
