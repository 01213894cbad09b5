package testservers

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// SharedDirEnv names the environment variable that points at the shared
// folder (the one holding specs/) when it is not beside the repository.
const SharedDirEnv = "APIQ_SHARED_DIR"

// SpecsDirEnv names the environment variable that points at the specs folder
// itself; it wins over SharedDirEnv (adapters/openapi's tests read it too).
const SpecsDirEnv = "APIQ_SPECS_DIR"

// FindSpecsDir returns the folder of shared real-world OpenAPI documents:
// $APIQ_SPECS_DIR, else $APIQ_SHARED_DIR/specs, else the first shared/specs
// found walking up from the working directory (the shared folder sits beside
// the repository, on a developer's machine and in CI alike).
func FindSpecsDir() (string, error) {
	if dir := os.Getenv(SpecsDirEnv); dir != "" {
		return existingDir(dir, SpecsDirEnv)
	}
	if dir := os.Getenv(SharedDirEnv); dir != "" {
		return existingDir(filepath.Join(dir, "specs"), SharedDirEnv)
	}
	start, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find shared/specs: %w", err)
	}
	if dir, ok := walkUp(start, filepath.Join("shared", "specs")); ok {
		return filepath.Join(dir, "shared", "specs"), nil
	}
	return "", fmt.Errorf("find shared/specs: none above %s (put the shared folder beside the repository or set %s)", start, SharedDirEnv)
}

// SpecPath returns the path of one shared document, such as
// "petstore-3.0.yaml", failing the test when it cannot be found.
func SpecPath(tb testing.TB, name string) string {
	tb.Helper()
	dir, err := FindSpecsDir()
	if err != nil {
		tb.Fatalf("testservers: %v", err)
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		tb.Fatalf("testservers: shared spec %s: %v", name, err)
	}
	return path
}

// ReadSpec returns the bytes of one shared document, failing the test when it
// cannot be read.
func ReadSpec(tb testing.TB, name string) []byte {
	tb.Helper()
	data, err := os.ReadFile(SpecPath(tb, name))
	if err != nil {
		tb.Fatalf("testservers: read shared spec %s: %v", name, err)
	}
	return data
}

// npmDir returns deploy/testservers of the repository this package belongs
// to: found from the working directory (any package of the module), or from
// this source file's location when the working directory is elsewhere.
func npmDir() (string, error) {
	marker := filepath.Join("deploy", "testservers", "package.json")
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, start := range starts {
		if root, ok := walkUp(start, marker); ok {
			return filepath.Join(root, "deploy", "testservers"), nil
		}
	}
	return "", errors.New("find deploy/testservers: no repository root with deploy/testservers/package.json above the working directory")
}

// walkUp returns the first directory, from start up to the filesystem root,
// that contains rel.
func walkUp(start, rel string) (string, bool) {
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, rel)); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func existingDir(dir, source string) (string, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("find shared/specs from $%s: %w", source, err)
	}
	if !info.IsDir() {
		return "", fmt.Errorf("find shared/specs from $%s: %s is not a directory", source, dir)
	}
	return dir, nil
}
