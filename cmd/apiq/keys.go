package main

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/apiq/apiq/adapters/authtoken"
	"github.com/apiq/apiq/adapters/vault"
	"github.com/apiq/apiq/http/idempotency"
)

// keys are the secrets serve loads from the data directory.
type keys struct {
	signing ed25519.PrivateKey
	keyring *vault.Keyring
	// idempotencySeal seals stored Idempotency-Key responses; derived from
	// the signing key, so it lives and rotates with it.
	idempotencySeal []byte
}

func (c Config) signingKeyPath() string {
	return filepath.Join(c.DataDir, authtoken.DefaultSigningKeyFile)
}

// ensureKeys generates the signing key and the master keyring when they
// are missing (0600, in a 0700 data directory), says so once, and loads them.
func ensureKeys(cfg Config, logger *slog.Logger) (keys, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return keys{}, fmt.Errorf("create data directory: %w", err)
	}
	created, err := authtoken.GenerateSigningKeyFile(cfg.signingKeyPath())
	if err != nil {
		return keys{}, fmt.Errorf("generate signing key: %w", err)
	}
	if created {
		logger.Info("generated a new token signing key", slog.String("path", cfg.signingKeyPath()))
	}
	if cfg.MasterKey == "" {
		created, err := vault.GenerateKeyringFile(cfg.MasterKeyFile)
		if err != nil {
			return keys{}, fmt.Errorf("generate master keyring: %w", err)
		}
		if created {
			logger.Info("generated a new master keyring; back it up: encrypted data is unreadable without it",
				slog.String("path", cfg.MasterKeyFile))
		}
	}
	return loadKeys(cfg)
}

// loadKeys reads existing keys without generating any.
func loadKeys(cfg Config) (keys, error) {
	signing, err := authtoken.ReadSigningKeyFile(cfg.signingKeyPath())
	if err != nil {
		return keys{}, fmt.Errorf("read signing key: %w", err)
	}
	ring, err := vault.LoadKeyring(vault.KeyringConfig{MasterKey: cfg.MasterKey, File: cfg.MasterKeyFile})
	if err != nil {
		return keys{}, fmt.Errorf("load master keyring: %w", err)
	}
	seal, err := hkdf.Key(sha256.New, signing.Seed(), nil, "apiq idempotency response seal v1", idempotency.SealKeySize)
	if err != nil {
		return keys{}, fmt.Errorf("derive idempotency seal key: %w", err)
	}
	return keys{signing: signing, keyring: ring, idempotencySeal: seal}, nil
}
