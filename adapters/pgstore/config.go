package pgstore

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Config tunes the store's cross-process wake-ups.
type Config struct {
	// NotifyChannel is the PostgreSQL LISTEN/NOTIFY channel announcing appends
	// (default "apiq_events").
	NotifyChannel string
	// NotifyInterval is the least time between two NOTIFYs of one store: a
	// burst of appends costs one notification per interval (default 5 ms).
	NotifyInterval time.Duration
	// ReconnectDelay is how long Listen waits before reconnecting after its
	// connection fails (default 1 s).
	ReconnectDelay time.Duration
	// Logger receives notifier and listener problems (default slog.Default()).
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.NotifyChannel == "" {
		c.NotifyChannel = "apiq_events"
	}
	if c.NotifyInterval == 0 {
		c.NotifyInterval = 5 * time.Millisecond
	}
	if c.ReconnectDelay == 0 {
		c.ReconnectDelay = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.NotifyChannel == "" || len(c.NotifyChannel) > 63 {
		errs = append(errs, fmt.Errorf("notify channel %q: must be 1 to 63 bytes", c.NotifyChannel))
	}
	if c.NotifyInterval < 0 {
		errs = append(errs, fmt.Errorf("notify interval %s: must not be negative", c.NotifyInterval))
	}
	if c.ReconnectDelay <= 0 {
		errs = append(errs, fmt.Errorf("reconnect delay %s: must be positive", c.ReconnectDelay))
	}
	return errors.Join(errs...)
}
