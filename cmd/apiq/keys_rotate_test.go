package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/postgres"
	"github.com/apiq/apiq/adapters/postgres/pgtest"
	"github.com/apiq/apiq/adapters/vault"
)

func TestKeysRotate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := pgtest.NewDatabase(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	_, err := vault.GenerateKeyringFile(path)
	require.NoError(t, err)
	before, err := vault.ReadKeyringFile(path)
	require.NoError(t, err)

	stdout := &bytes.Buffer{}
	app := &app{
		getenv: envOf(map[string]string{"APIQ_DATABASE_URL": dbURL, "APIQ_DATA_DIR": dir}),
		stdin:  strings.NewReader(""), stdout: stdout, stderr: &bytes.Buffer{},
	}
	// Data encrypted under the old KEK.
	setup, err := postgres.Connect(ctx, dbURL)
	require.NoError(t, err)
	defer setup.Close()
	v, err := vault.New(setup, before, vault.Options{CacheSize: -1})
	require.NoError(t, err)
	scope := vault.Scope{Tenant: "t", Owner: "o", Field: "email"}
	ciphertext, err := v.EncryptString(ctx, scope, "ada@example.com")
	require.NoError(t, err)

	root := app.rootCommand()
	root.SetArgs([]string{"keys", "rotate"})
	require.NoError(t, root.ExecuteContext(ctx))
	assert.Contains(t, stdout.String(), "rotated: 1 data keys re-wrapped")

	after, err := vault.ReadKeyringFile(path)
	require.NoError(t, err)
	assert.NotEqual(t, before.Primary(), after.Primary())
	assert.Equal(t, []string{after.Primary()}, after.IDs(), "the old KEK is gone")
	v2, err := vault.New(setup, after, vault.Options{CacheSize: -1})
	require.NoError(t, err)
	plain, err := v2.DecryptString(ctx, scope, ciphertext)
	require.NoError(t, err)
	assert.Equal(t, "ada@example.com", plain, "old ciphertexts open with the rotated keyring")
}
