package testservers

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPinnedPackagesAreInstalled(t *testing.T) {
	t.Parallel()
	dir, err := npmDir()
	require.NoError(t, err)
	modules := filepath.Join(dir, "node_modules")

	assert.NoError(t, checkInstalled(modules, "json-server", jsonServerVersion))
	assert.NoError(t, checkInstalled(modules, filepath.Join("@stoplight", "prism-cli"), prismVersion))
}

func TestCheckInstalledNamesTheProblem(t *testing.T) {
	t.Parallel()
	modules := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(modules, "json-server"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(modules, "json-server", "package.json"), []byte(`{"version":"1.0.0-beta.3"}`), 0o600))

	tests := []struct {
		name, pkg, want string
	}{
		{name: "missing", pkg: "absent-package", want: "npm package absent-package@0.17.4 is not installed"},
		{name: "another version", pkg: "json-server", want: "json-server is 1.0.0-beta.3 in " + modules + ", not the pinned 0.17.4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.ErrorContains(t, checkInstalled(modules, tt.pkg, "0.17.4"), tt.want)
		})
	}
}

// TestWithoutNodeTheServersFailSayingHowToInstall checks the message a
// developer sees on a machine without Node.js: a failure, never a skip.
func TestWithoutNodeTheServersFailSayingHowToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())

	_, err := NewPrism(context.Background(), SpecPath(t, "petstore-3.0.yaml"))

	require.Error(t, err)
	assert.Contains(t, err.Error(), "node (Node.js ≥ 18) is not on PATH")
	assert.Contains(t, err.Error(), "`make test` installs them")
}
