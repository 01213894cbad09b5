package vault_test

import (
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/vault"
)

func TestGenerateAndReadKeyringFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data", "master.key")
	created, err := vault.GenerateKeyringFile(path)
	require.NoError(t, err)
	assert.True(t, created)
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	created, err = vault.GenerateKeyringFile(path)
	require.NoError(t, err)
	assert.False(t, created, "an existing keyring is kept")

	ring, err := vault.LoadKeyring(vault.KeyringConfig{File: path})
	require.NoError(t, err)
	require.Len(t, ring.IDs(), 1)

	kek, err := vault.NewKEK()
	require.NoError(t, err)
	require.NoError(t, ring.Add(kek, true))
	require.NoError(t, vault.WriteKeyringFile(path, ring))
	again, err := vault.ReadKeyringFile(path)
	require.NoError(t, err)
	assert.Equal(t, ring.IDs(), again.IDs())
	assert.Equal(t, kek.ID, again.Primary())
	k1, err := ring.DeriveKey("blind-index")
	require.NoError(t, err)
	k2, err := again.DeriveKey("blind-index")
	require.NoError(t, err)
	assert.Equal(t, k1, k2, "the index secret survives a rewrite")

	require.NoError(t, os.Chmod(path, 0o644))
	_, err = vault.ReadKeyringFile(path)
	assert.ErrorContains(t, err, "chmod 600")
}

func TestKeyringFromEnv(t *testing.T) {
	t.Parallel()
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	env := map[string]string{vault.EnvMasterKey: base64.StdEncoding.EncodeToString(key)}
	cfg := vault.KeyringConfigFromEnv(func(k string) string { return env[k] }, "/nonexistent")
	assert.Equal(t, "/nonexistent/master.key", cfg.File)
	ring, err := vault.LoadKeyring(cfg)
	require.NoError(t, err)
	again, err := vault.LoadKeyring(cfg)
	require.NoError(t, err)
	assert.Equal(t, ring.Primary(), again.Primary(), "the env key's id is stable")

	tests := []struct {
		name string
		cfg  vault.KeyringConfig
	}{
		{"nothing set", vault.KeyringConfig{}},
		{"short key", vault.KeyringConfig{MasterKey: base64.StdEncoding.EncodeToString(key[:16])}},
		{"not base64", vault.KeyringConfig{MasterKey: "!!!"}},
	}
	for _, tc := range tests {
		assert.Error(t, tc.cfg.Validate(), tc.name)
		_, err := vault.LoadKeyring(tc.cfg)
		assert.Error(t, err, tc.name)
	}
}
