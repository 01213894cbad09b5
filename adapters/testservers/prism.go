package testservers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// prismVersion is the pinned Prism (newer versions need Node.js ≥ 24).
const prismVersion = "5.14.2"

// prismStartTimeout bounds Prism's start-up: ~1.5 s on petstore and TMDB
// alone, longer on a loaded machine. Stripe's document never finishes.
const prismStartTimeout = 60 * time.Second

// Prism is a Stoplight Prism mock server serving one OpenAPI document: it
// answers each operation from the document's examples, answers 401 when the
// credentials of a declared security scheme are absent, and validates
// requests (422, or the operation's declared 400). It drops the document's
// servers base path: call paths as the document writes them, on URL. Send
// Accept: application/json.
type Prism struct {
	// URL is the mock's base URL, http://127.0.0.1:<port>.
	URL string

	proc *nodeProcess
}

// StartPrism starts Prism on the document at specPath (on a free 127.0.0.1
// port), returns once it answers and stops it when the test ends, printing
// its log if the test failed. extraArgs go to `prism mock` (for example
// "--errors" or "-d"). It fails the test when Node.js or the npm package is
// missing (`make test` installs the package).
func StartPrism(tb testing.TB, specPath string, extraArgs ...string) *Prism {
	tb.Helper()
	p, err := NewPrism(context.Background(), specPath, extraArgs...)
	if err != nil {
		tb.Fatalf("testservers: %v", err)
	}
	tb.Cleanup(func() {
		p.Close()
		if tb.Failed() {
			tb.Logf("prism output:\n%s", p.Output())
		}
	})
	return p
}

// NewPrism starts Prism like StartPrism, for a server shared by a whole
// package (from TestMain): the caller must Close it.
func NewPrism(ctx context.Context, specPath string, extraArgs ...string) (*Prism, error) {
	spec, err := filepath.Abs(specPath)
	if err != nil {
		return nil, fmt.Errorf("start prism: %w", err)
	}
	if _, err := os.Stat(spec); err != nil {
		return nil, fmt.Errorf("start prism: %w", err)
	}
	args := append([]string{"mock", "-h", "127.0.0.1", "-p", "{port}"}, extraArgs...)
	args = append(args, spec)
	proc, err := startNode(ctx, nodeServer{
		name:    "prism",
		pkg:     filepath.Join("@stoplight", "prism-cli"),
		version: prismVersion,
		script:  filepath.Join("@stoplight", "prism-cli", "dist", "index.js"),
		args:    args,
		dir:     filepath.Dir(spec),
		// Prism answers 404 on / once it listens: any answer means ready.
		readyPath:    "/",
		startTimeout: prismStartTimeout,
	})
	if err != nil {
		return nil, err
	}
	return &Prism{URL: proc.baseURL, proc: proc}, nil
}

// Close stops the server; calling it again does nothing.
func (p *Prism) Close() { p.proc.stop() }

// Output returns Prism's log so far.
func (p *Prism) Output() string { return p.proc.out.String() }
