package health

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/postgres"
	"github.com/apiq/apiq/adapters/postgres/pgtest"
)

func TestChecks(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	latest, err := postgres.LatestVersion()
	require.NoError(t, err)
	version := PostgresMigrationVersion(pool)
	fixed := func(v uint, dirty bool) MigrationVersion {
		return func(context.Context) (uint, bool, error) { return v, dirty, nil }
	}
	lags := func(m map[string]int64, err error) Lag {
		return func(context.Context) (map[string]int64, error) { return m, err }
	}
	tests := []struct {
		name    string
		check   Check
		wantErr string
	}{
		{"database up", Database(pool), ""},
		{"migrations current", Migrations(version, latest), ""},
		{"migrations behind", Migrations(fixed(latest-1, false), latest), "binary expects"},
		{"migrations dirty", Migrations(fixed(latest, true), latest), "dirty"},
		{"lag within bound", ProjectionLag(lags(map[string]int64{"a": 10}, nil), 10), ""},
		{"lag beyond bound", ProjectionLag(lags(map[string]int64{"a": 11}, nil), 10), "a is 11 events behind"},
		{"lag unknown", ProjectionLag(lags(nil, errors.New("runner down")), 10), "runner down"},
	}
	for _, tt := range tests {
		err := tt.check.Run(context.Background())
		if tt.wantErr == "" {
			assert.NoError(t, err, tt.name)
		} else {
			assert.ErrorContains(t, err, tt.wantErr, tt.name)
		}
	}
}

func TestRunReportsEveryCheck(t *testing.T) {
	t.Parallel()
	slow := Check{Name: "slow", Run: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}
	ok := Check{Name: "ok", Run: func(context.Context) error { return nil }}
	report := Run(context.Background(), 50*time.Millisecond, []Check{slow, ok})
	assert.False(t, report.Ready)
	assert.Equal(t, "ok", report.Checks["ok"])
	assert.Contains(t, report.Checks["slow"], "deadline exceeded")
}
