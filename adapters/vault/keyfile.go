package vault

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// Environment variables and file name of the keyring.
const (
	EnvMasterKey     = "APIQ_MASTER_KEY"
	EnvMasterKeyFile = "APIQ_MASTER_KEY_FILE"
	DefaultKeyFile   = "master.key"
)

// KeyringConfig says where the keyring comes from: a base64 master key
// (APIQ_MASTER_KEY) wins over a keyring file (APIQ_MASTER_KEY_FILE,
// default <APIQ_DATA_DIR>/master.key).
type KeyringConfig struct {
	MasterKey string
	File      string
}

// KeyringConfigFromEnv reads the keyring configuration from getenv
// (os.Getenv in production), defaulting the file into dataDir.
func KeyringConfigFromEnv(getenv func(string) string, dataDir string) KeyringConfig {
	cfg := KeyringConfig{MasterKey: getenv(EnvMasterKey), File: getenv(EnvMasterKeyFile)}
	if cfg.File == "" {
		cfg.File = filepath.Join(dataDir, DefaultKeyFile)
	}
	return cfg
}

// Validate reports every problem of the configuration.
func (c KeyringConfig) Validate() error {
	var errs []error
	if c.MasterKey == "" && c.File == "" {
		errs = append(errs, fmt.Errorf("keyring: set %s or %s", EnvMasterKey, EnvMasterKeyFile))
	}
	if c.MasterKey != "" {
		if _, err := KEKFromBase64(c.MasterKey); err != nil {
			errs = append(errs, fmt.Errorf("keyring: %s: %w", EnvMasterKey, err))
		}
	}
	return errors.Join(errs...)
}

// LoadKeyring builds the keyring the configuration names.
func LoadKeyring(cfg KeyringConfig) (*Keyring, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MasterKey != "" {
		kek, err := KEKFromBase64(cfg.MasterKey)
		if err != nil {
			return nil, err
		}
		// With a single env key the index secret derives from it; moving to a
		// keyring file later must keep this secret (WriteKeyringFile does).
		secret, err := (&Keyring{secret: kek.Key}).DeriveKey("index-secret")
		if err != nil {
			return nil, err
		}
		return NewKeyring(kek, secret)
	}
	return ReadKeyringFile(cfg.File)
}

// keyringFile is the JSON form of a keyring file.
type keyringFile struct {
	Version     int       `json:"version"`
	Primary     string    `json:"primary"`
	KEKs        []fileKEK `json:"keks"`
	IndexSecret string    `json:"index_secret"`
}

type fileKEK struct {
	ID  string `json:"id"`
	Key string `json:"key"`
}

// ReadKeyringFile loads a keyring file, refusing one that others than its
// owner may read.
func ReadKeyringFile(path string) (*Keyring, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("keyring file: %w", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("keyring file %s has mode %v: restrict it to its owner (chmod 600)", path, info.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keyring file: %w", err)
	}
	var f keyringFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("keyring file %s: %w", path, err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("keyring file %s: unsupported version %d", path, f.Version)
	}
	secret, err := base64.StdEncoding.DecodeString(f.IndexSecret)
	if err != nil {
		return nil, fmt.Errorf("keyring file %s: index secret: %w", path, err)
	}
	var primary KEK
	var others []KEK
	for _, fk := range f.KEKs {
		key, err := base64.StdEncoding.DecodeString(fk.Key)
		if err != nil {
			return nil, fmt.Errorf("keyring file %s: kek %s: %w", path, fk.ID, err)
		}
		if fk.ID == f.Primary {
			primary = KEK{ID: fk.ID, Key: key}
		} else {
			others = append(others, KEK{ID: fk.ID, Key: key})
		}
	}
	if primary.ID == "" {
		return nil, fmt.Errorf("keyring file %s: primary kek %q not listed", path, f.Primary)
	}
	ring, err := NewKeyring(primary, secret, others...)
	if err != nil {
		return nil, fmt.Errorf("keyring file %s: %w", path, err)
	}
	return ring, nil
}

// GenerateKeyringFile creates a keyring file with one fresh KEK and index
// secret (mode 0600, parent directories 0700) unless the file exists. It
// reports whether it created one.
func GenerateKeyringFile(path string) (created bool, err error) {
	if _, err := os.Stat(path); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("keyring file: %w", err)
	}
	kek, err := NewKEK()
	if err != nil {
		return false, err
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return false, fmt.Errorf("generate index secret: %w", err)
	}
	ring, err := NewKeyring(kek, secret)
	if err != nil {
		return false, err
	}
	data, err := ring.marshal()
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, fmt.Errorf("keyring file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil // another process won the race
	}
	if err != nil {
		return false, fmt.Errorf("keyring file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return false, fmt.Errorf("write keyring file: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return false, fmt.Errorf("write keyring file: %w", err)
	}
	return true, nil
}

// WriteKeyringFile saves the keyring (e.g. after adding a KEK for rotation)
// atomically, with mode 0600.
func WriteKeyringFile(path string, ring *Keyring) error {
	data, err := ring.marshal()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".keyring-*")
	if err != nil {
		return fmt.Errorf("write keyring file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write keyring file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write keyring file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write keyring file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write keyring file: %w", err)
	}
	return nil
}

func (k *Keyring) marshal() ([]byte, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	f := keyringFile{Version: 1, Primary: k.primary, IndexSecret: base64.StdEncoding.EncodeToString(k.secret)}
	ids := make([]string, 0, len(k.keks))
	for id := range k.keks {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		f.KEKs = append(f.KEKs, fileKEK{ID: id, Key: base64.StdEncoding.EncodeToString(k.keks[id])})
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode keyring: %w", err)
	}
	return append(data, '\n'), nil
}
