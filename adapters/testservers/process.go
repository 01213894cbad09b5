package testservers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// installHint tells a developer how the npm-based servers get installed.
const installHint = "`make test` installs them (npm ci --prefix deploy/testservers); run it once, or that npm command, before `go test`"

// maxPortAttempts bounds the retries when another process takes the free port
// between the moment it is picked and the moment the server binds it.
const maxPortAttempts = 3

// stopGrace is how long a server has to exit after SIGTERM before SIGKILL.
const stopGrace = 5 * time.Second

// nodeServer describes one npm-installed server to run with node.
type nodeServer struct {
	name         string   // for messages: "json-server"
	pkg          string   // npm package that must be installed
	version      string   // the pinned version that must be installed
	script       string   // entry point relative to node_modules
	args         []string // arguments; "{port}" is replaced by the port
	dir          string   // working directory
	env          []string // added to the inherited environment
	readyPath    string   // path polled until the server answers anything
	startTimeout time.Duration
	// answerDelay is how long the server holds each answer (json-server's
	// --delay): readiness probes wait that much longer.
	answerDelay time.Duration
}

// nodeProcess is a running server started from a nodeServer.
type nodeProcess struct {
	name    string
	baseURL string
	cmd     *exec.Cmd
	out     *tailBuffer
	exited  chan struct{}
	waitErr error
	stopped sync.Once
}

// startNode runs the server on a free loopback port and returns once it
// answers HTTP, or fails with its output when it exits or does not answer in
// time. A port taken by someone else in the meantime is retried on another.
func startNode(ctx context.Context, srv nodeServer) (*nodeProcess, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("start %s: node (Node.js ≥ 18) is not on PATH; the npm-based test servers need it and %s", srv.name, installHint)
	}
	dir, err := npmDir()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", srv.name, err)
	}
	modules := filepath.Join(dir, "node_modules")
	if err := checkInstalled(modules, srv.pkg, srv.version); err != nil {
		return nil, fmt.Errorf("start %s: %w; %s", srv.name, err, installHint)
	}
	var lastErr error
	for attempt := 0; attempt < maxPortAttempts; attempt++ {
		proc, err := launch(ctx, node, filepath.Join(modules, srv.script), srv)
		if err == nil {
			return proc, nil
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	return nil, lastErr
}

var errPortTaken = errors.New("port already in use")

func launch(ctx context.Context, node, script string, srv nodeServer) (*nodeProcess, error) {
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", srv.name, err)
	}
	args := []string{script}
	for _, a := range srv.args {
		args = append(args, strings.ReplaceAll(a, "{port}", strconv.Itoa(port)))
	}
	out := &tailBuffer{limit: 1 << 20}
	cmd := exec.Command(node, args...)
	cmd.Dir = srv.dir
	cmd.Env = append(os.Environ(), srv.env...)
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = serverProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", srv.name, err)
	}
	proc := &nodeProcess{
		name:    srv.name,
		baseURL: "http://127.0.0.1:" + strconv.Itoa(port),
		cmd:     cmd,
		out:     out,
		exited:  make(chan struct{}),
	}
	go func() {
		proc.waitErr = cmd.Wait()
		close(proc.exited)
	}()
	if err := proc.waitReady(ctx, srv.readyPath, srv.startTimeout, srv.answerDelay); err != nil {
		proc.stop()
		if strings.Contains(out.String(), "EADDRINUSE") || strings.Contains(out.String(), "Cannot bind to the port") {
			return nil, fmt.Errorf("start %s on port %d: %w", srv.name, port, errPortTaken)
		}
		return nil, fmt.Errorf("start %s: %w\n--- %s output ---\n%s", srv.name, err, srv.name, out.String())
	}
	return proc, nil
}

// waitReady polls path until the server answers with any HTTP status.
func (p *nodeProcess) waitReady(ctx context.Context, path string, timeout, answerDelay time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 500*time.Millisecond + answerDelay}
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.baseURL+path, nil)
		if err != nil {
			return fmt.Errorf("readiness request: %w", err)
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("exited before answering: %v", p.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("no answer on %s within %s: %w", p.baseURL+path, timeout, ctx.Err())
		case <-tick.C:
		}
	}
}

// stop ends the server's process group: SIGTERM, then SIGKILL after a grace
// period. It is safe to call more than once.
func (p *nodeProcess) stop() {
	p.stopped.Do(func() {
		select {
		case <-p.exited:
			return
		default:
		}
		pgid := -p.cmd.Process.Pid
		_ = syscall.Kill(pgid, syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(stopGrace):
			_ = syscall.Kill(pgid, syscall.SIGKILL)
			<-p.exited
		}
	})
}

// checkInstalled verifies that node_modules holds the pinned version of pkg.
func checkInstalled(modules, pkg, version string) error {
	manifest := filepath.Join(modules, pkg, "package.json")
	data, err := os.ReadFile(manifest)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("npm package %s@%s is not installed in %s", pkg, version, modules)
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", manifest, err)
	}
	var meta struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return fmt.Errorf("read %s: %w", manifest, err)
	}
	if meta.Version != version {
		return fmt.Errorf("npm package %s is %s in %s, not the pinned %s", pkg, meta.Version, modules, version)
	}
	return nil
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer collects a process's output, keeping the last limit bytes.
type tailBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	limit int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.limit; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
