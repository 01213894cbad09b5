package testservers

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSpecPathFindsTheSharedDocuments(t *testing.T) {
	t.Parallel()
	path := SpecPath(t, "petstore-3.0.yaml")

	assert.Equal(t, "petstore-3.0.yaml", filepath.Base(path))
	assert.Equal(t, "specs", filepath.Base(filepath.Dir(path)))
	assert.Contains(t, string(ReadSpec(t, "petstore-3.0.yaml")), "openapi: 3.0.4")
}

// TestFindSpecsDir changes the environment and working directory, so its
// cases run one after another.
func TestFindSpecsDir(t *testing.T) {
	root := t.TempDir()
	shared := filepath.Join(root, "shared")
	specs := filepath.Join(shared, "specs")
	repoPkg := filepath.Join(root, "main", "adapters", "x")
	other := filepath.Join(root, "elsewhere")
	for _, dir := range []string{specs, repoPkg, other, filepath.Join(root, "override")} {
		require.NoError(t, os.MkdirAll(dir, 0o755))
	}
	aFile := filepath.Join(root, "main", "go.mod")
	require.NoError(t, os.WriteFile(aFile, []byte("module x\n"), 0o600))
	lonely := t.TempDir()

	tests := []struct {
		name      string
		specsEnv  string
		sharedEnv string
		wd        string
		want      string
		wantErr   string
	}{
		{name: "walks up from a package to the shared folder beside the repository", wd: repoPkg, want: specs},
		{name: "APIQ_SHARED_DIR", sharedEnv: shared, wd: lonely, want: specs},
		{name: "APIQ_SPECS_DIR wins", specsEnv: filepath.Join(root, "override"), sharedEnv: shared, wd: repoPkg, want: filepath.Join(root, "override")},
		{name: "APIQ_SHARED_DIR without specs", sharedEnv: other, wd: repoPkg, wantErr: "APIQ_SHARED_DIR"},
		{name: "APIQ_SPECS_DIR is a file", specsEnv: aFile, wd: repoPkg, wantErr: "is not a directory"},
		{name: "APIQ_SPECS_DIR does not exist", specsEnv: filepath.Join(root, "nothing"), wd: repoPkg, wantErr: "$APIQ_SPECS_DIR"},
		{name: "nothing above the working directory", wd: lonely, wantErr: "set APIQ_SHARED_DIR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(SpecsDirEnv, tt.specsEnv)
			t.Setenv(SharedDirEnv, tt.sharedEnv)
			t.Chdir(tt.wd)

			got, err := FindSpecsDir()

			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
