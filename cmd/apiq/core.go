package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/apiq/apiq/adapters/authtoken"
	"github.com/apiq/apiq/adapters/esdbstore"
	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/outbound"
	"github.com/apiq/apiq/adapters/pgstore"
	"github.com/apiq/apiq/adapters/postgres"
	"github.com/apiq/apiq/adapters/vault"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/http/idempotency"
	"github.com/apiq/apiq/projections"
)

// eventStore is what APIQ needs of an event store adapter.
type eventStore interface {
	eventstore.Store
	eventstore.Feed
	// Listen wakes feed readers on appends made by other processes.
	Listen(ctx context.Context) error
}

// core holds what serve and the administrative subcommands share: the
// database, the event store, the vault, the command handlers and the
// projection runner. Close releases it.
type core struct {
	cfg      Config
	logger   *slog.Logger
	registry *prometheus.Registry
	pool     *pgxpool.Pool
	store    eventStore
	vault    *vault.Vault
	signer   *authtoken.Signer
	runner   *projections.Runner
	cmds     handlers
	// outbound is the one caller of external APIs; connections holds the
	// connection commands (connections.go).
	outbound    *outbound.Client
	connections connectionHandlers
	executions  executionParts
	plans       planParts // plans.go
	// audit serves the audit trail and signs its chain heads (audit_trail.go).
	audit *auditTrail
	// idempotency is set by httpHandler.
	idempotency *idempotency.Store
	// background runs alongside the runner while serving (wake-ups).
	background []func(context.Context) error
	closers    []func()
}

// handlers are the command handlers, one per use case.
type handlers struct {
	createTenant commands.CreateTenantHandler
	createUser   commands.CreateUserHandler
	updateUser   commands.UpdateUserHandler
	deleteUser   commands.DeleteUserHandler
	login        commands.LoginHandler
	issueToken   commands.IssueAPITokenHandler
	revokeToken  commands.RevokeAPITokenHandler
	accessDenied commands.RecordAccessDeniedHandler
}

// openCore wires the core by hand. The database must be migrated.
func openCore(ctx context.Context, cfg Config, logger *slog.Logger, k keys) (c *core, err error) {
	c = &core{cfg: cfg, logger: logger, registry: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if err := c.registry.Register(collectors.NewGoCollector()); err != nil {
		return nil, fmt.Errorf("register go metrics: %w", err)
	}
	if err := c.registry.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, fmt.Errorf("register process metrics: %w", err)
	}
	if c.pool, err = postgres.Connect(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	c.closers = append(c.closers, c.pool.Close)
	if err := c.openStore(); err != nil {
		return nil, err
	}
	if c.vault, err = vault.New(c.pool, k.keyring, vault.Options{}); err != nil {
		return nil, fmt.Errorf("open vault: %w", err)
	}
	if c.signer, err = authtoken.NewSigner(authtoken.Config{Key: k.signing, TTL: cfg.AccessTokenTTL}); err != nil {
		return nil, fmt.Errorf("token signer: %w", err)
	}
	if err := c.openHandlers(); err != nil {
		return nil, err
	}
	if err := c.openAudit(); err != nil {
		return nil, err
	}
	users, err := projections.NewUsersProjector(c.vault)
	if err != nil {
		return nil, err
	}
	c.runner, err = projections.NewRunner(projections.RunnerConfig{
		Pool: c.pool,
		Feed: c.store,
		Projectors: []projections.Projector{projections.NewTenantsProjector(), users, projections.NewAPITokensProjector(),
			projections.NewConnectionsProjector(), projections.NewAuditProjector(), projections.NewCatalogueProjector(),
			projections.NewExecutionsProjector(), projections.NewPlansProjector()},
		Logger:     logger,
		Registerer: c.registry,
	})
	if err != nil {
		return nil, fmt.Errorf("projection runner: %w", err)
	}
	return c, nil
}

// openStore selects the event store: EventStoreDB when APIQ_ESDB_URL is
// set, PostgreSQL otherwise.
func (c *core) openStore() error {
	if c.cfg.ESDBURL != "" {
		s, err := esdbstore.Dial(esdbstore.Config{URL: c.cfg.ESDBURL, Logger: c.logger})
		if err != nil {
			return fmt.Errorf("connect to EventStoreDB: %w", err)
		}
		c.store = s
		c.background = append(c.background, s.Listen)
		c.closers = append(c.closers, func() { _ = s.Close() })
		c.logger.Info("event store: EventStoreDB")
		return nil
	}
	s, err := pgstore.NewWithConfig(c.pool, pgstore.Config{Logger: c.logger})
	if err != nil {
		return fmt.Errorf("open event store: %w", err)
	}
	c.store = s
	c.background = append(c.background, s.Listen, s.RunNotifier)
	return nil
}

func (c *core) openHandlers() error {
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "apiq_command_duration_seconds",
		Help:    "Command handling time, by command and outcome.",
		Buckets: prometheus.DefBuckets,
	}, []string{"command", "outcome"})
	if err := c.registry.Register(duration); err != nil {
		return fmt.Errorf("register command metrics: %w", err)
	}
	deps := commands.Deps{
		Store:     c.store,
		Vault:     c.vault,
		Passwords: commands.NewArgon2idHasher(nil),
		Tokens:    c.signer,
		Directory: projections.NewUserDirectory(c.pool),
		Logger:    c.logger,
		Observe: func(command string, took time.Duration, err error) {
			outcome := "ok"
			if err != nil {
				outcome = "error"
			}
			duration.WithLabelValues(command, outcome).Observe(took.Seconds())
		},
	}
	var errs []error
	var err error
	c.cmds.createTenant, err = commands.NewCreateTenantHandler(deps)
	errs = append(errs, err)
	c.cmds.createUser, err = commands.NewCreateUserHandler(deps)
	errs = append(errs, err)
	c.cmds.updateUser, err = commands.NewUpdateUserHandler(deps)
	errs = append(errs, err)
	c.cmds.deleteUser, err = commands.NewDeleteUserHandler(deps)
	errs = append(errs, err)
	c.cmds.login, err = commands.NewLoginHandler(deps)
	errs = append(errs, err)
	c.cmds.issueToken, err = commands.NewIssueAPITokenHandler(deps)
	errs = append(errs, err)
	c.cmds.revokeToken, err = commands.NewRevokeAPITokenHandler(deps)
	errs = append(errs, err)
	c.cmds.accessDenied, err = commands.NewRecordAccessDeniedHandler(deps)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("command handlers: %w", err)
	}
	return c.openConnections(deps)
}

// Close releases the core's connections, newest first.
func (c *core) Close() {
	for i := len(c.closers) - 1; i >= 0; i-- {
		c.closers[i]()
	}
	c.closers = nil
}

// waitForHead waits until the named projectors (all when none) have
// applied every event in the feed now, retrying the runner's bounded
// waits until ctx ends. It returns the head it waited for (zero: the feed
// is empty).
func (c *core) waitForHead(ctx context.Context, names ...string) (eventstore.Position, error) {
	head, err := c.store.Head(ctx)
	if err != nil {
		return head, fmt.Errorf("read feed head: %w", err)
	}
	if head.IsZero() {
		return head, nil
	}
	for {
		err := c.runner.WaitForPosition(ctx, head, names...)
		if !errors.Is(err, projections.ErrProjectionTimeout) || ctx.Err() != nil {
			return head, err
		}
		c.logger.Info("waiting for the projectors to catch up", slog.String("position", head.String()))
	}
}
