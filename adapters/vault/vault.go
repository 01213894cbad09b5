// Package vault is APIQ's secret vault: envelope encryption with AES-256-GCM.
// Each owner (a user's personal data, a connection's credentials) has its
// own data key, stored in the data_keys table wrapped under a key-encryption
// key (KEK) of the keyring. Every ciphertext names its data key and is bound
// to its tenant, owner and field; destroying an owner's keys makes its
// ciphertexts unreadable for good (crypto-shredding).
package vault

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Errors callers tell apart.
var (
	// ErrKeyDestroyed means the owner's data key was destroyed: the value is
	// forgotten for good (show it as such).
	ErrKeyDestroyed = errors.New("vault: data key destroyed")
	// ErrKeyNotFound means the ciphertext names a data key that does not exist.
	ErrKeyNotFound = errors.New("vault: data key not found")
	// ErrTampered means the ciphertext was altered or belongs to another
	// tenant, owner or field.
	ErrTampered = errors.New("vault: ciphertext altered or used outside its scope")
	// ErrMalformed means the input is not a vault ciphertext.
	ErrMalformed = errors.New("vault: malformed ciphertext")
	// ErrKEKMissing means a data key is wrapped under a KEK the keyring lacks.
	ErrKEKMissing = errors.New("vault: key-encryption key missing")
)

// formatV1 is the first byte of every ciphertext of this format:
// version(1) | data key id(16) | nonce(12) | AES-GCM ciphertext and tag.
const formatV1 byte = 1

// Scope binds a ciphertext to where it may be decrypted.
type Scope struct {
	Tenant string
	Owner  string // the data key's owner, e.g. "user:<id>" or "connection:<id>"
	Field  string // what the value is, e.g. "email"
}

func (s Scope) validate() error {
	if s.Tenant == "" || s.Owner == "" || s.Field == "" {
		return fmt.Errorf("vault: scope needs tenant, owner and field (got %q, %q, %q)", s.Tenant, s.Owner, s.Field)
	}
	return nil
}

// DB is what the vault needs of PostgreSQL (a *pgxpool.Pool satisfies it).
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Options tune the vault; zero values take the defaults.
type Options struct {
	// CacheSize bounds the unwrapped data keys kept in memory (default 10,000;
	// negative disables the cache).
	CacheSize int
	// CacheTTL bounds how long a key stays cached (default 1 minute): another
	// process's DestroyOwnerKeys takes effect here within it.
	CacheTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Vault encrypts and decrypts values under per-owner data keys.
type Vault struct {
	db    DB
	ring  *Keyring
	cache *keyCache
	index []byte
}

// New returns a vault on db (migrated: data_keys) with the keyring's KEKs.
func New(db DB, ring *Keyring, opts Options) (*Vault, error) {
	if db == nil || ring == nil {
		return nil, errors.New("vault: nil database or keyring")
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = 10_000
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	index, err := ring.DeriveKey("blind-index")
	if err != nil {
		return nil, err
	}
	return &Vault{db: db, ring: ring, cache: newKeyCache(opts.CacheSize, opts.CacheTTL, opts.Now), index: index}, nil
}

// Encrypt encrypts plaintext under the scope owner's data key (created on
// first use) and returns the self-describing ciphertext (URL-safe base64).
func (v *Vault) Encrypt(ctx context.Context, s Scope, plaintext []byte) (string, error) {
	if err := s.validate(); err != nil {
		return "", err
	}
	dk, err := v.liveKey(ctx, s.Tenant, s.Owner)
	if err != nil {
		return "", fmt.Errorf("encrypt %s: %w", s.Field, err)
	}
	header := append([]byte{formatV1}, dk.id[:]...)
	sealed, err := seal(dk.key, plaintext, dataAAD(header, s))
	if err != nil {
		return "", fmt.Errorf("encrypt %s: %w", s.Field, err)
	}
	return base64.RawURLEncoding.EncodeToString(append(header, sealed...)), nil
}

// EncryptString is Encrypt for text.
func (v *Vault) EncryptString(ctx context.Context, s Scope, plaintext string) (string, error) {
	return v.Encrypt(ctx, s, []byte(plaintext))
}

// Decrypt returns the plaintext of a ciphertext made by Encrypt for the
// same scope. ErrKeyDestroyed: the owner's keys were destroyed.
// ErrTampered: altered, or made for another tenant, owner or field.
func (v *Vault) Decrypt(ctx context.Context, s Scope, ciphertext string) ([]byte, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	raw, err := base64.RawURLEncoding.DecodeString(ciphertext)
	if err != nil || len(raw) < 1+16 || raw[0] != formatV1 {
		return nil, fmt.Errorf("decrypt %s: %w", s.Field, ErrMalformed)
	}
	var id [16]byte
	copy(id[:], raw[1:17])
	dk, err := v.keyByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: %w", s.Field, err)
	}
	if dk.tenant != s.Tenant || dk.owner != s.Owner {
		return nil, fmt.Errorf("decrypt %s: %w", s.Field, ErrTampered)
	}
	plain, err := open(dk.key, raw[17:], dataAAD(raw[:17], s))
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: %w", s.Field, err)
	}
	return plain, nil
}

// KeyIDOf returns the id of the data key that sealed a ciphertext made by
// Encrypt, without decrypting it (ErrMalformed for anything else).
func KeyIDOf(ciphertext string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(ciphertext)
	if err != nil || len(raw) < 1+16 || raw[0] != formatV1 {
		return "", ErrMalformed
	}
	return uuid.UUID(raw[1:17]).String(), nil
}

// DecryptString is Decrypt for text.
func (v *Vault) DecryptString(ctx context.Context, s Scope, ciphertext string) (string, error) {
	b, err := v.Decrypt(ctx, s, ciphertext)
	return string(b), err
}

// DestroyOwnerKeys destroys every data key of an owner (crypto-shredding):
// its ciphertexts decrypt to ErrKeyDestroyed from then on. Idempotent.
func (v *Vault) DestroyOwnerKeys(ctx context.Context, tenant, owner string) error {
	rows, err := v.db.Query(ctx, `
		UPDATE data_keys SET wrapped_key = NULL, destroyed_at = now()
		WHERE tenant_id = $1 AND owner = $2 AND destroyed_at IS NULL
		RETURNING key_id`, tenant, owner)
	if err != nil {
		return fmt.Errorf("destroy keys of %s: %w", owner, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return fmt.Errorf("destroy keys of %s: %w", owner, err)
	}
	names := []string{ownerName(tenant, owner)}
	for _, id := range ids {
		names = append(names, idName(id))
	}
	v.cache.evict(names...)
	return nil
}

// BlindIndex returns a keyed HMAC-SHA256 (hex) of tenant and value: equal
// inputs give equal indexes, and the index reveals nothing of the value to
// anyone without the keyring. Callers normalise value first (e.g. lower-case).
func (v *Vault) BlindIndex(tenant, value string) string {
	mac := hmac.New(sha256.New, v.index)
	writeField(mac, tenant)
	writeField(mac, value)
	return hex.EncodeToString(mac.Sum(nil))
}

// liveKey returns the owner's live data key, creating it on first use.
func (v *Vault) liveKey(ctx context.Context, tenant, owner string) (dataKey, error) {
	if dk, ok := v.cache.get(ownerName(tenant, owner)); ok {
		return dk, nil
	}
	for range 3 {
		var (
			id      uuid.UUID
			wrapped []byte
			kekID   string
		)
		err := v.db.QueryRow(ctx, `
			SELECT key_id, wrapped_key, kek_id FROM data_keys
			WHERE tenant_id = $1 AND owner = $2 AND destroyed_at IS NULL`, tenant, owner).Scan(&id, &wrapped, &kekID)
		if err == nil {
			dk, err := v.unwrapRow(id, tenant, owner, kekID, wrapped)
			if err != nil {
				return dataKey{}, err
			}
			v.remember(dk)
			return dk, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return dataKey{}, fmt.Errorf("load data key of %s: %w", owner, err)
		}
		if err := v.createKey(ctx, tenant, owner); err != nil {
			return dataKey{}, err
		}
	}
	return dataKey{}, fmt.Errorf("load data key of %s: keys keep changing", owner)
}

// createKey inserts a fresh wrapped data key unless a concurrent call did.
func (v *Vault) createKey(ctx context.Context, tenant, owner string) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("generate data key: %w", err)
	}
	id := uuid.New()
	kekID, wrapped, err := v.ring.wrap(key, wrapAAD(id, tenant, owner))
	if err != nil {
		return err
	}
	if _, err := v.db.Exec(ctx, `
		INSERT INTO data_keys (key_id, tenant_id, owner, wrapped_key, kek_id)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (tenant_id, owner) WHERE destroyed_at IS NULL DO NOTHING`,
		id, tenant, owner, wrapped, kekID); err != nil {
		return fmt.Errorf("store data key of %s: %w", owner, err)
	}
	return nil
}

// keyByID returns a data key by id, from the cache or the table.
func (v *Vault) keyByID(ctx context.Context, id [16]byte) (dataKey, error) {
	if dk, ok := v.cache.get(idName(id)); ok {
		return dk, nil
	}
	var (
		tenant, owner, kekID string
		wrapped              []byte
		destroyed            *time.Time
	)
	err := v.db.QueryRow(ctx, `
		SELECT tenant_id, owner, kek_id, wrapped_key, destroyed_at FROM data_keys WHERE key_id = $1`,
		uuid.UUID(id)).Scan(&tenant, &owner, &kekID, &wrapped, &destroyed)
	if errors.Is(err, pgx.ErrNoRows) {
		return dataKey{}, ErrKeyNotFound
	}
	if err != nil {
		return dataKey{}, fmt.Errorf("load data key %s: %w", uuid.UUID(id), err)
	}
	if destroyed != nil {
		return dataKey{}, ErrKeyDestroyed
	}
	dk, err := v.unwrapRow(id, tenant, owner, kekID, wrapped)
	if err != nil {
		return dataKey{}, err
	}
	v.remember(dk)
	return dk, nil
}

func (v *Vault) unwrapRow(id uuid.UUID, tenant, owner, kekID string, wrapped []byte) (dataKey, error) {
	key, err := v.ring.unwrap(kekID, wrapped, wrapAAD(id, tenant, owner))
	if err != nil {
		return dataKey{}, fmt.Errorf("data key %s: %w", id, err)
	}
	return dataKey{id: id, tenant: tenant, owner: owner, key: key}, nil
}

// remember caches a key under its id and, as the owner's live key, its owner.
func (v *Vault) remember(dk dataKey) {
	v.cache.put(idName(dk.id), dk)
	v.cache.put(ownerName(dk.tenant, dk.owner), dk)
}

// wrapAAD binds a wrapped data key to its row, so a wrapped key copied onto
// another owner's row does not unwrap.
func wrapAAD(id uuid.UUID, tenant, owner string) []byte {
	b := []byte("apiq/data-key/v1\x00")
	b = append(b, id[:]...)
	b = appendField(b, tenant)
	return appendField(b, owner)
}

// dataAAD binds a ciphertext to its header and scope.
func dataAAD(header []byte, s Scope) []byte {
	b := append([]byte("apiq/vault/v1\x00"), header...)
	b = appendField(b, s.Tenant)
	b = appendField(b, s.Owner)
	return appendField(b, s.Field)
}

// appendField appends a length-prefixed string, so field boundaries cannot shift.
func appendField(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func writeField(w interface{ Write([]byte) (int, error) }, s string) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(s)))
	w.Write(n[:])      //nolint:errcheck // hash writes never fail
	w.Write([]byte(s)) //nolint:errcheck // hash writes never fail
}
