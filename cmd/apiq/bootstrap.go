package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/projections"
)

// DefaultBootstrapEmail is the first ADMIN's email when APIQ_BOOTSTRAP_EMAIL is unset.
const DefaultBootstrapEmail = "admin@apiq.local"

// bootstrapLock serialises first-start bootstraps of several processes.
const bootstrapLock = 0x61706971_0001 // "apiq", 1

// bootstrap creates the first tenant and its ADMIN when no tenant exists.
// Generated credentials are printed once on out, framed; credentials from
// the environment are never printed.
// bootstrapViewWait bounds how long the first start waits for the read
// models to include the first tenant and its ADMIN.
const bootstrapViewWait = time.Minute

func bootstrap(ctx context.Context, c *core, out io.Writer) error {
	conn, err := c.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(bootstrapLock)); err != nil {
		return fmt.Errorf("take bootstrap lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(bootstrapLock)) //nolint:errcheck

	tenants := projections.NewTenantsProjector()
	head, err := c.waitForHead(ctx, tenants.Name())
	if err != nil {
		return err
	}
	if !head.IsZero() {
		// Events exist: the tenants view, caught up with them, says whether
		// a tenant does.
		var exists bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+projections.SchemaName(tenants)+`.tenants)`).Scan(&exists); err != nil {
			return fmt.Errorf("look for tenants: %w", err)
		}
		if exists {
			return nil
		}
	}

	cfg := c.cfg
	email, password, generated := cfg.BootstrapEmail, cfg.BootstrapPassword, false
	if email == "" {
		email = DefaultBootstrapEmail
	}
	if password == "" {
		password, generated = rand.Text(), true
	}
	// A fixed request id makes an interrupted bootstrap complete on the next start.
	meta := commands.Meta{Actor: commands.SystemActor(), RequestID: "bootstrap-first-tenant"}
	res, err := c.cmds.createTenant.Handle(ctx, meta, commands.CreateTenant{
		Name: cfg.BootstrapTenant, Slug: slug(cfg.BootstrapTenant),
		AdminEmail: email, AdminName: "Administrator", AdminPassword: password,
	})
	if err != nil {
		return fmt.Errorf("create first tenant: %w", err)
	}
	// Log in works once the users view has the admin: the server starts
	// listening only then (each wait is bounded by the runner's wait timeout;
	// a busy machine may need several).
	deadline := time.Now().Add(bootstrapViewWait)
	for {
		err := c.runner.WaitForPosition(ctx, res.Position)
		if err == nil {
			break
		}
		if !errors.Is(err, projections.ErrProjectionTimeout) || time.Now().After(deadline) {
			c.logger.Warn("the read models are not yet up to date with the first tenant", slog.String("error", err.Error()))
			break
		}
	}
	c.logger.Info("created the first tenant and its ADMIN",
		slog.String("tenant_id", res.TenantID), slog.String("admin_user_id", res.AdminUserID),
		slog.Bool("credentials_generated", generated))
	switch {
	case generated && res.Created:
		printCredentials(out, cfg.BootstrapTenant, email, password)
	case generated:
		c.logger.Warn("an earlier, interrupted start created the first ADMIN; its password was printed then")
	}
	return nil
}

func printCredentials(out io.Writer, tenant, email, password string) {
	line := strings.Repeat("=", 72)
	fmt.Fprintf(out, "\n%s\n APIQ first start: created tenant %q and its first ADMIN.\n\n"+
		"   email:    %s\n   password: %s\n\n"+
		" This password is shown only this once. Log in with POST /v1/auth/login.\n%s\n\n",
		line, tenant, email, password, line)
}

// slug turns a tenant name into a slug: lower-case letters, digits, hyphens.
func slug(name string) string {
	var b strings.Builder
	hyphen := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			hyphen = false
		case b.Len() > 0 && !hyphen:
			b.WriteByte('-')
			hyphen = true
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > 63 {
		s = strings.Trim(s[:63], "-")
	}
	if s == "" {
		s = "default"
	}
	return s
}
