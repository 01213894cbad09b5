package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/apiq/apiq/adapters/postgres"
)

// prepareDatabase creates the database if missing, applies the migrations
// as the owner role, and grants the service role its privileges when it is
// a different role.
func prepareDatabase(ctx context.Context, cfg Config, logger *slog.Logger) error {
	owner := cfg.ownerURL()
	if err := postgres.EnsureDatabase(ctx, owner); err != nil {
		return fmt.Errorf("ensure database: %w", err)
	}
	if err := postgres.MigrateUp(owner); err != nil {
		return err
	}
	latest, err := postgres.LatestVersion()
	if err != nil {
		return err
	}
	logger.Info("database migrated", slog.String("database", postgres.Redact(owner)), slog.Uint64("version", uint64(latest)))
	role, ok := cfg.serviceRole()
	if !ok {
		return nil
	}
	pool, err := postgres.Connect(ctx, owner)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := postgres.GrantAppRole(ctx, pool, role); err != nil {
		return fmt.Errorf("grant service role %s: %w", role, err)
	}
	logger.Info("granted the service role its privileges", slog.String("role", role))
	return nil
}
