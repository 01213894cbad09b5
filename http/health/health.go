// Package health runs the readiness checks behind /readyz: database
// reachable, migrations current, projector lag bounded.
package health

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Check is one named readiness condition.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// Report is the outcome of running every check.
type Report struct {
	Ready bool
	// Checks maps each check's name to "ok" or the reason it failed.
	Checks map[string]string
}

// Run executes checks concurrently, each bounded by timeout.
func Run(ctx context.Context, timeout time.Duration, checks []Check) Report {
	report := Report{Ready: true, Checks: make(map[string]string, len(checks))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, check := range checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			err := check.Run(cctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				report.Ready = false
				report.Checks[check.Name] = err.Error()
				return
			}
			report.Checks[check.Name] = "ok"
		})
	}
	wg.Wait()
	return report
}

// Pinger is a database that can be pinged.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Database checks that the database answers.
func Database(db Pinger) Check {
	return Check{Name: "database", Run: func(ctx context.Context) error {
		if err := db.Ping(ctx); err != nil {
			return errors.New("database unreachable")
		}
		return nil
	}}
}

// MigrationVersion reads the applied migration version and dirty flag.
type MigrationVersion func(ctx context.Context) (version uint, dirty bool, err error)

// Migrations checks that the database schema is at the binary's latest migration.
func Migrations(current MigrationVersion, latest uint) Check {
	return Check{Name: "migrations", Run: func(ctx context.Context) error {
		v, dirty, err := current(ctx)
		switch {
		case err != nil:
			return fmt.Errorf("read migration version: %w", err)
		case dirty:
			return fmt.Errorf("migration %d failed half-way (dirty)", v)
		case v != latest:
			return fmt.Errorf("schema at migration %d, binary expects %d", v, latest)
		}
		return nil
	}}
}

// Lag reports how many events each projector is behind the feed head.
type Lag func(ctx context.Context) (map[string]int64, error)

// ProjectionLag checks that no projector is more than bound events behind.
func ProjectionLag(lag Lag, bound int64) Check {
	return Check{Name: "projections", Run: func(ctx context.Context) error {
		lags, err := lag(ctx)
		if err != nil {
			return fmt.Errorf("read projector lag: %w", err)
		}
		var behind []error
		for name, n := range lags {
			if n > bound {
				behind = append(behind, fmt.Errorf("%s is %d events behind (bound %d)", name, n, bound))
			}
		}
		return errors.Join(behind...)
	}}
}
