package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServeFinishesInFlightRequestOnShutdown(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	release := make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "finished")
	})
	cfg := DefaultConfig("127.0.0.1:0")
	cfg.ShutdownTimeout = 5 * time.Second
	ln, err := Listen(cfg)
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, cfg, ln, handler, slog.New(slog.DiscardHandler)) }()

	type result struct {
		status int
		body   string
		err    error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{status: resp.StatusCode, body: string(b), err: err}
	}()

	<-started
	stop() // shutdown begins while the request is in flight
	// New connections are refused once the listener is closed.
	require.Eventually(t, func() bool {
		_, err := http.Get("http://" + ln.Addr().String() + "/other")
		return err != nil
	}, 2*time.Second, 10*time.Millisecond)
	select {
	case err := <-served:
		t.Fatalf("server returned before the in-flight request finished: %v", err)
	default:
	}
	close(release)

	r := <-got
	require.NoError(t, r.err)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "finished", r.body)
	assert.NoError(t, <-served)
}

func TestServeGivesUpAfterShutdownTimeout(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(2 * time.Second)
	})
	cfg := DefaultConfig("127.0.0.1:0")
	cfg.ShutdownTimeout = 100 * time.Millisecond
	ln, err := Listen(cfg)
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, cfg, ln, handler, slog.New(slog.DiscardHandler)) }()
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/stuck")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	stop()
	err = <-served
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestConfigValidateListsEveryProblem(t *testing.T) {
	t.Parallel()
	err := Config{}.Validate()
	require.Error(t, err)
	assert.ErrorContains(t, err, "Addr is required")
	assert.ErrorContains(t, err, "ShutdownTimeout must be positive")
}
