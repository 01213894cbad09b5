package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// KEKSize is the size of a key-encryption key: AES-256.
const KEKSize = 32

// KEK is a key-encryption key: it wraps data keys and never encrypts data itself.
type KEK struct {
	ID  string
	Key []byte
}

// NewKEK generates a random KEK with a random id.
func NewKEK() (KEK, error) {
	key := make([]byte, KEKSize)
	id := make([]byte, 8)
	if _, err := rand.Read(key); err != nil {
		return KEK{}, fmt.Errorf("generate kek: %w", err)
	}
	if _, err := rand.Read(id); err != nil {
		return KEK{}, fmt.Errorf("generate kek id: %w", err)
	}
	return KEK{ID: "kek-" + hex.EncodeToString(id), Key: key}, nil
}

// KEKFromBase64 builds a KEK from a base64 32-byte key (the form of
// APIQ_MASTER_KEY); its id derives from the key, so it is stable.
func KEKFromBase64(s string) (KEK, error) {
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if key, err = base64.RawURLEncoding.DecodeString(s); err != nil {
			return KEK{}, errors.New("master key is not valid base64")
		}
	}
	if len(key) != KEKSize {
		return KEK{}, fmt.Errorf("master key has %d bytes, want %d", len(key), KEKSize)
	}
	sum := sha256.Sum256(append([]byte("apiq kek id\x00"), key...))
	return KEK{ID: "env-" + hex.EncodeToString(sum[:6]), Key: key}, nil
}

// Keyring holds the KEKs: the primary one wraps new data keys, the others
// only unwrap keys not yet re-wrapped by a rotation. It also holds the
// secret from which purpose keys (the blind index key) derive; that secret
// never changes with rotation, so blind indexes stay stable.
type Keyring struct {
	mu      sync.RWMutex
	keks    map[string][]byte
	primary string
	secret  []byte
}

// NewKeyring returns a keyring whose primary KEK is primary. indexSecret
// (at least 32 bytes) roots the derived purpose keys.
func NewKeyring(primary KEK, indexSecret []byte, others ...KEK) (*Keyring, error) {
	if len(indexSecret) < 32 {
		return nil, errors.New("keyring: index secret must have at least 32 bytes")
	}
	k := &Keyring{keks: map[string][]byte{}, secret: slices.Clone(indexSecret)}
	for _, kek := range append([]KEK{primary}, others...) {
		if err := k.add(kek); err != nil {
			return nil, err
		}
	}
	k.primary = primary.ID
	return k, nil
}

func (k *Keyring) add(kek KEK) error {
	if kek.ID == "" || len(kek.Key) != KEKSize {
		return fmt.Errorf("keyring: kek %q must have an id and %d bytes", kek.ID, KEKSize)
	}
	if old, ok := k.keks[kek.ID]; ok && string(old) != string(kek.Key) {
		return fmt.Errorf("keyring: two different keys named %q", kek.ID)
	}
	k.keks[kek.ID] = slices.Clone(kek.Key)
	return nil
}

// Add puts a KEK into the keyring, making it primary if asked.
func (k *Keyring) Add(kek KEK, primary bool) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.add(kek); err != nil {
		return err
	}
	if primary {
		k.primary = kek.ID
	}
	return nil
}

// Remove drops a KEK that no data key needs any more; the primary stays.
func (k *Keyring) Remove(id string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if id == k.primary {
		return fmt.Errorf("keyring: cannot remove the primary kek %s", id)
	}
	delete(k.keks, id)
	return nil
}

// Primary returns the id of the KEK that wraps new data keys.
func (k *Keyring) Primary() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.primary
}

// IDs returns the ids of all KEKs, sorted.
func (k *Keyring) IDs() []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	ids := make([]string, 0, len(k.keks))
	for id := range k.keks {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// DeriveKey derives a 32-byte key for one purpose (HKDF-SHA256 from the
// keyring's index secret); the same purpose always yields the same key.
func (k *Keyring) DeriveKey(purpose string) ([]byte, error) {
	key, err := hkdf.Key(sha256.New, k.secret, nil, "apiq/"+purpose, 32)
	if err != nil {
		return nil, fmt.Errorf("derive %s key: %w", purpose, err)
	}
	return key, nil
}

// wrap encrypts a data key under the primary KEK; aad binds it to its row.
func (k *Keyring) wrap(dataKey, aad []byte) (kekID string, wrapped []byte, err error) {
	k.mu.RLock()
	kekID = k.primary
	kek := k.keks[kekID]
	k.mu.RUnlock()
	wrapped, err = seal(kek, dataKey, aad)
	if err != nil {
		return "", nil, fmt.Errorf("wrap data key under %s: %w", kekID, err)
	}
	return kekID, wrapped, nil
}

// unwrap decrypts a data key wrapped under kekID.
func (k *Keyring) unwrap(kekID string, wrapped, aad []byte) ([]byte, error) {
	k.mu.RLock()
	kek, ok := k.keks[kekID]
	k.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unwrap data key: kek %s is not in the keyring: %w", kekID, ErrKEKMissing)
	}
	dk, err := open(kek, wrapped, aad)
	if err != nil {
		return nil, fmt.Errorf("unwrap data key under %s: %w", kekID, err)
	}
	return dk, nil
}

// seal encrypts with AES-256-GCM and returns nonce|ciphertext.
func seal(key, plaintext, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plaintext, aad), nil
}

// open reverses seal.
func open(key, sealed, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize()+gcm.Overhead() {
		return nil, ErrMalformed
	}
	out, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], aad)
	if err != nil {
		return nil, ErrTampered
	}
	return out, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
