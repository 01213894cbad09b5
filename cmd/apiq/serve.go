package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/apiq/apiq/adapters/postgres"
	"github.com/apiq/apiq/adapters/quota"
	"github.com/apiq/apiq/http/api"
	"github.com/apiq/apiq/http/apierror"
	"github.com/apiq/apiq/http/health"
	"github.com/apiq/apiq/http/idempotency"
	"github.com/apiq/apiq/http/openapi"
	"github.com/apiq/apiq/http/server"
	"github.com/apiq/apiq/http/telemetry"
	"github.com/apiq/apiq/http/web"
	"github.com/apiq/apiq/projections"
)

// Idempotency records are kept this long, and purged this often.
const (
	idempotencyRetention = 24 * time.Hour
	idempotencyPurge     = time.Hour
	idempotencyLease     = time.Minute
)

func (a *app) serveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Migrate, generate missing keys, and serve the HTTP API with its projectors (the default)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, logger, err := a.setup()
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, logger, a.stdout)
		},
	}
}

// serve prepares the database and keys, then runs until ctx ends.
func serve(ctx context.Context, cfg Config, logger *slog.Logger, out io.Writer) error {
	if err := prepareDatabase(ctx, cfg, logger); err != nil {
		return err
	}
	k, err := ensureKeys(cfg, logger)
	if err != nil {
		return err
	}
	c, err := openCore(ctx, cfg, logger, k)
	if err != nil {
		return err
	}
	defer c.Close()
	handler, shutdownTracing, err := c.httpHandler(ctx, k)
	if err != nil {
		return err
	}
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := shutdownTracing(flushCtx); err != nil {
			logger.Warn("flush traces", slog.String("error", err.Error()))
		}
	}()
	srvCfg := server.DefaultConfig(cfg.HTTPAddr)
	srvCfg.ShutdownTimeout = cfg.ShutdownTimeout
	ln, err := server.Listen(srvCfg)
	if err != nil {
		return err
	}
	return c.serve(ctx, srvCfg, ln, handler, out)
}

// serve runs the projectors, the store's wake-ups and the HTTP server. On
// ctx's end the HTTP server drains first (in-flight requests may still wait
// for projections), then the projectors stop.
func (c *core) serve(ctx context.Context, srvCfg server.Config, ln net.Listener, handler http.Handler, out io.Writer) error {
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	g, gctx := errgroup.WithContext(bgCtx)
	g.Go(func() error { return ignoreCancel(c.runner.Run(gctx)) })
	for _, run := range c.background {
		g.Go(func() error { return ignoreCancel(run(gctx)) })
	}
	g.Go(func() error { return c.purgeIdempotency(gctx) })

	// The HTTP server also stops when a background task fails.
	httpCtx, stopHTTP := context.WithCancel(ctx)
	defer stopHTTP()
	context.AfterFunc(gctx, stopHTTP)
	httpErr := func() error {
		defer stopBackground()
		if err := bootstrap(httpCtx, c, out); err != nil {
			_ = ln.Close()
			return fmt.Errorf("bootstrap: %w", err)
		}
		return server.Serve(httpCtx, srvCfg, ln, handler, c.logger)
	}()
	return errors.Join(httpErr, g.Wait())
}

// httpHandler builds the API's router on the core.
func (c *core) httpHandler(ctx context.Context, k keys) (http.Handler, func(context.Context) error, error) {
	doc, err := openapi.Load(ctx)
	if err != nil {
		return nil, nil, err
	}
	idem, err := idempotency.NewStore(c.pool, k.idempotencySeal, idempotencyLease)
	if err != nil {
		return nil, nil, err
	}
	c.idempotency = idem
	latest, err := postgres.LatestVersion()
	if err != nil {
		return nil, nil, err
	}
	tp, shutdownTracing, err := telemetry.NewTracerProvider(ctx, c.cfg.OTLPEndpoint, "apiq", "0.1.0")
	if err != nil {
		return nil, nil, err
	}
	if c.cfg.OTLPEndpoint != "" {
		c.logger.Info("exporting traces over OTLP/HTTP", slog.String("endpoint", c.cfg.OTLPEndpoint))
	}
	id := &identity{db: c.pool, signer: c.signer, cmds: c.cmds, now: time.Now}
	cfg := api.DefaultConfig()
	cfg.MaxBodyBytes = c.cfg.MaxBodyBytes
	cfg.TrustedProxies = c.cfg.TrustedProxies
	cfg.MaxDocumentBytes = c.cfg.MaxDocumentBytes
	cfg.PublicURL = c.cfg.PublicURL
	cfg.Security = c.cfg.Security.API
	quotas, err := quota.NewStore(c.pool, c.cfg.Security.Quotas, nil)
	if err != nil {
		_ = shutdownTracing(ctx)
		return nil, nil, err
	}
	conns := &connectionsAPI{db: c.pool, cmds: c.connections, runner: c.runner, viewTimeout: cfg.ReadYourWritesTimeout}
	sso, err := c.openSSO()
	if err != nil {
		_ = shutdownTracing(ctx)
		return nil, nil, err
	}
	id.sessions = sso.sessions
	totp, err := c.openTOTP()
	if err != nil {
		_ = shutdownTracing(ctx)
		return nil, nil, err
	}
	ui := web.New()
	if !ui.Built() {
		c.logger.Warn("the web interface was not built into this binary; run make web and rebuild")
	}
	handler, err := api.New(cfg, api.Deps{
		Logger:         c.logger,
		Registry:       c.registry,
		TracerProvider: tp,
		Propagator:     telemetry.Propagator(),
		Document:       doc,
		Readiness: []health.Check{
			health.Database(c.pool),
			health.Migrations(health.PostgresMigrationVersion(c.pool), latest),
			health.ProjectionLag(c.runner.Lag, c.cfg.ReadyMaxLag),
			{Name: "event_store", Run: func(ctx context.Context) error {
				_, err := c.store.Head(ctx)
				return err
			}},
		},
		Authenticator: id,
		Users:         id,
		Denials:       id,
		Idempotency:   idem,
		Sessions:      id,
		UserCommands:  id,
		UserQueries:   id,
		TokenCommands: id,
		TokenQueries:  id,
		Keys:          keyStatus{db: c.pool, keyring: k.keyring},
		Positions:     positions{runner: c.runner},

		ConnectionCommands:   conns,
		ConnectionQueries:    conns,
		Audit:                c.audit,
		Catalogue:            catalogueAPI{db: c.pool},
		SSO:                  sso,
		BrowserSessions:      sso,
		SessionAuthenticator: sso,
		TOTP:                 totp,
		ExecutionCommands:    executionsAPI{db: c.pool, store: c.store, parts: c.executions},
		ExecutionQueries:     executionsAPI{db: c.pool, store: c.store, parts: c.executions},
		Plans: &plansAPI{db: c.pool, parts: c.plans, runner: c.runner, viewTimeout: cfg.ReadYourWritesTimeout,
			quotas: quotas, logger: c.logger},
		Quotas: quotas,
		Web:    ui,
		ErrorRules: []apierror.Rule{{
			Target: projections.ErrProjectionTimeout, Status: http.StatusGatewayTimeout,
			Code: apierror.CodeProjectionTimeout, Message: apierror.ErrProjectionWait.Message,
		}},
	})
	if err != nil {
		_ = shutdownTracing(ctx)
		return nil, nil, err
	}
	return handler, shutdownTracing, nil
}

// purgeIdempotency drops old Idempotency-Key records periodically (the
// store is the one httpHandler created).
func (c *core) purgeIdempotency(ctx context.Context) error {
	ticker := time.NewTicker(idempotencyPurge)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
			n, err := c.idempotency.Purge(ctx, time.Now().Add(-idempotencyRetention))
			if err != nil && ctx.Err() == nil {
				c.logger.Warn("purge idempotency records", slog.String("error", err.Error()))
				continue
			}
			if n > 0 {
				c.logger.Info("purged idempotency records", slog.Int64("count", n))
			}
		}
	}
}

func ignoreCancel(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
