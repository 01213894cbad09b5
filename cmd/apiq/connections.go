package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apiq/apiq/adapters/blobstore"
	"github.com/apiq/apiq/adapters/credentials"
	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/adapters/outbound"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/http/api"
	"github.com/apiq/apiq/projections"
)

// connectionHandlers are the connection command handlers.
type connectionHandlers struct {
	register  commands.RegisterConnectionHandler
	update    commands.UpdateConnectionHandler
	reimport  commands.ReimportConnectionDocumentHandler
	disable   commands.DisableConnectionHandler
	enable    commands.EnableConnectionHandler
	remove    commands.DeleteConnectionHandler
	test      commands.TestConnectionHandler
	start     commands.StartConnectionAuthorizationHandler
	authorize commands.CompleteConnectionAuthorizationHandler
}

// openConnections wires what connections need: the blob store, the one
// outbound caller (allowlist from APIQ_OUTBOUND_ALLOW), the credentials
// manager (tokens persisted on the connection streams) and the handlers.
func (c *core) openConnections(deps commands.Deps) error {
	metrics, err := outbound.NewMetrics(c.registry)
	if err != nil {
		return fmt.Errorf("outbound metrics: %w", err)
	}
	if c.outbound, err = outbound.New(outbound.Config{Allow: c.cfg.OutboundAllow, MaxResponseBytes: c.cfg.MaxDocumentBytes + 1},
		c.logger, metrics); err != nil {
		return fmt.Errorf("outbound caller: %w", err)
	}
	c.closers = append(c.closers, c.outbound.Close)
	blobs, err := blobstore.New(c.pool)
	if err != nil {
		return err
	}
	tokens, err := credentials.NewStreamTokenStore(c.store)
	if err != nil {
		return err
	}
	manager, err := credentials.New(credentials.Config{
		Vault: c.vault, Outbound: c.outbound, DB: c.pool, Tokens: tokens, Logger: c.logger,
	})
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	d := commands.ConnectionDeps{Deps: deps, Blobs: blobs, Outbound: c.outbound, Credentials: manager,
		Import: openapi.Options{MaxBytes: c.cfg.MaxDocumentBytes}}
	var errs []error
	h := &c.connections
	h.register, err = commands.NewRegisterConnectionHandler(d)
	errs = append(errs, err)
	h.update, err = commands.NewUpdateConnectionHandler(d)
	errs = append(errs, err)
	h.reimport, err = commands.NewReimportConnectionDocumentHandler(d)
	errs = append(errs, err)
	h.disable, err = commands.NewDisableConnectionHandler(d)
	errs = append(errs, err)
	h.enable, err = commands.NewEnableConnectionHandler(d)
	errs = append(errs, err)
	h.remove, err = commands.NewDeleteConnectionHandler(d)
	errs = append(errs, err)
	h.test, err = commands.NewTestConnectionHandler(d)
	errs = append(errs, err)
	h.start, err = commands.NewStartConnectionAuthorizationHandler(d)
	errs = append(errs, err)
	h.authorize, err = commands.NewCompleteConnectionAuthorizationHandler(d)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("connection handlers: %w", err)
	}
	if err := c.openPlans(d); err != nil {
		return err
	}
	return c.openExecutions(d)
}

// connectionsAPI adapts the connection commands and the connections view
// to the HTTP layer's interfaces (api.ConnectionCommands, api.ConnectionQueries).
// A command's answer shows the connection once the view includes the change.
type connectionsAPI struct {
	db     projections.QueryDB
	cmds   connectionHandlers
	runner *projections.Runner
	// viewTimeout bounds the wait for the view after a command.
	viewTimeout time.Duration
}

var (
	_ api.ConnectionCommands = (*connectionsAPI)(nil)
	_ api.ConnectionQueries  = (*connectionsAPI)(nil)
)

// RegisterConnection implements api.ConnectionCommands.
func (a *connectionsAPI) RegisterConnection(ctx context.Context, md eventstore.Metadata, in api.NewConnection) (api.Connection, error) {
	res, err := a.cmds.register.Handle(ctx, commands.MetaFromMetadata(md), commands.RegisterConnection{
		Name: in.Name, BaseURL: in.BaseURL, Auth: authInput(in.Auth),
		Document: commands.DocumentSource{Text: in.Document.Text, URL: in.Document.URL},
	})
	if err != nil {
		return api.Connection{}, err
	}
	return a.view(ctx, md.TenantID, res.ConnectionID, res.Position)
}

// UpdateConnection implements api.ConnectionCommands.
func (a *connectionsAPI) UpdateConnection(ctx context.Context, md eventstore.Metadata, id string, in api.ConnectionChanges) (api.Connection, error) {
	res, err := a.cmds.update.Handle(ctx, commands.MetaFromMetadata(md), commands.UpdateConnection{
		ConnectionID: id, Name: in.Name, BaseURL: in.BaseURL, Auth: authInput(in.Auth),
	})
	if err != nil {
		return api.Connection{}, err
	}
	return a.view(ctx, md.TenantID, id, res.Position)
}

// ReimportDocument implements api.ConnectionCommands.
func (a *connectionsAPI) ReimportDocument(ctx context.Context, md eventstore.Metadata, id string, in api.DocumentInput) (api.Connection, error) {
	res, err := a.cmds.reimport.Handle(ctx, commands.MetaFromMetadata(md), commands.ReimportConnectionDocument{
		ConnectionID: id, Document: commands.DocumentSource{Text: in.Text, URL: in.URL},
	})
	if err != nil {
		return api.Connection{}, err
	}
	return a.view(ctx, md.TenantID, id, res.Position)
}

// DisableConnection implements api.ConnectionCommands.
func (a *connectionsAPI) DisableConnection(ctx context.Context, md eventstore.Metadata, id, reason string) (api.Connection, error) {
	res, err := a.cmds.disable.Handle(ctx, commands.MetaFromMetadata(md), commands.DisableConnection{ConnectionID: id, Reason: reason})
	if err != nil {
		return api.Connection{}, err
	}
	return a.view(ctx, md.TenantID, id, res.Position)
}

// EnableConnection implements api.ConnectionCommands.
func (a *connectionsAPI) EnableConnection(ctx context.Context, md eventstore.Metadata, id string) (api.Connection, error) {
	res, err := a.cmds.enable.Handle(ctx, commands.MetaFromMetadata(md), commands.EnableConnection{ConnectionID: id})
	if err != nil {
		return api.Connection{}, err
	}
	return a.view(ctx, md.TenantID, id, res.Position)
}

// DeleteConnection implements api.ConnectionCommands.
func (a *connectionsAPI) DeleteConnection(ctx context.Context, md eventstore.Metadata, id string) (eventstore.Position, error) {
	res, err := a.cmds.remove.Handle(ctx, commands.MetaFromMetadata(md), commands.DeleteConnection{ConnectionID: id})
	return res.Position, err
}

// TestConnection implements api.ConnectionCommands.
func (a *connectionsAPI) TestConnection(ctx context.Context, md eventstore.Metadata, id string, in api.ConnectionTest) (api.ConnectionTestResult, error) {
	res, err := a.cmds.test.Handle(ctx, commands.MetaFromMetadata(md), commands.TestConnection{
		ConnectionID: id, OperationID: in.OperationID, Params: in.Params,
	})
	if err != nil {
		return api.ConnectionTestResult{}, err
	}
	t := res.Tested
	return api.ConnectionTestResult{
		OK: t.OK, OperationID: res.OperationID, Method: t.Method, Path: t.Path, Status: t.Status,
		DurationMS: t.DurationMS, Error: t.Error, NeedsReauthorization: res.NeedsReauthorization,
		Position: res.Position.String(),
	}, nil
}

// StartAuthorization implements api.ConnectionCommands.
func (a *connectionsAPI) StartAuthorization(ctx context.Context, md eventstore.Metadata, id, redirectURI string) (string, error) {
	res, err := a.cmds.start.Handle(ctx, commands.MetaFromMetadata(md), commands.StartConnectionAuthorization{
		ConnectionID: id, RedirectURI: redirectURI,
	})
	return res.AuthorizeURL, err
}

// CompleteAuthorization implements api.ConnectionCommands.
func (a *connectionsAPI) CompleteAuthorization(ctx context.Context, md eventstore.Metadata, state, code string) (string, eventstore.Position, error) {
	res, err := a.cmds.authorize.Handle(ctx, commands.MetaFromMetadata(md), commands.CompleteConnectionAuthorization{State: state, Code: code})
	return res.ConnectionID, res.Position, err
}

// GetConnection implements api.ConnectionQueries.
func (a *connectionsAPI) GetConnection(ctx context.Context, tenantID, id string) (api.Connection, error) {
	v, err := projections.GetConnection(ctx, a.db, tenantID, id)
	if err != nil {
		return api.Connection{}, err
	}
	return apiConnection(v), nil
}

// ListConnections implements api.ConnectionQueries.
func (a *connectionsAPI) ListConnections(ctx context.Context, tenantID string, page api.Page) ([]api.Connection, string, error) {
	res, err := projections.ListConnections(ctx, a.db, tenantID, projections.ListConnectionsOptions{Limit: page.Limit, After: page.After})
	if err != nil {
		return nil, "", err
	}
	out := make([]api.Connection, len(res.Connections))
	for i, v := range res.Connections {
		out[i] = apiConnection(v)
	}
	return out, res.Next, nil
}

// view waits until the connections view includes pos and reads the connection.
func (a *connectionsAPI) view(ctx context.Context, tenantID, id string, pos eventstore.Position) (api.Connection, error) {
	wait, cancel := context.WithTimeout(ctx, a.viewTimeout)
	defer cancel()
	if err := a.runner.WaitForPosition(wait, pos, projections.NewConnectionsProjector().Name()); err != nil {
		return api.Connection{}, fmt.Errorf("wait for connection %s: %w", id, err)
	}
	c, err := a.GetConnection(ctx, tenantID, id)
	c.Position = pos.String()
	return c, err
}

// authInput converts the HTTP layer's auth object (nil: none given).
func authInput(in *api.AuthInput) *credentials.Input {
	if in == nil {
		return nil
	}
	out := credentials.Input(*in)
	return &out
}

func apiConnection(v projections.ConnectionView) api.Connection {
	c := api.Connection{
		ID: v.ID, Name: v.Name, BaseURL: v.BaseURL, DocumentURL: v.DocumentURL, Status: string(v.Status),
		Auth: api.ConnectionAuth{Type: v.Auth.Type, Hint: v.Auth.Hint, KeyID: v.Auth.KeyID, ExpiresAt: v.Auth.ExpiresAt},
		Document: api.ConnectionDocument{
			Hash: v.Document.Hash, Bytes: v.Document.Bytes, OpenAPIVersion: v.Document.OpenAPIVersion,
			Title: v.Document.Title, APIVersion: v.Document.APIVersion, OperationCount: v.Document.OperationCount,
			Warnings: make([]api.ConnectionWarning, len(v.Document.Warnings)),
		},
		CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt, Version: v.Version,
	}
	if c.Auth.Type == "" {
		c.Auth.Type = credentials.TypeNone
	}
	if c.Auth.Type == credentials.TypeOAuth2AuthorizationCode {
		authorized := v.Auth.Authorized
		c.Auth.Authorized = &authorized
	}
	for i, w := range v.Document.Warnings {
		c.Document.Warnings[i] = api.ConnectionWarning(w)
	}
	if imp := v.LastImport; imp != nil {
		c.LastImport = &api.ConnectionImport{At: imp.At, Added: make([]api.ConnectionOperation, len(imp.Added)),
			Removed: make([]api.ConnectionOperation, len(imp.Removed)), Changed: make([]api.ConnectionOperationChange, len(imp.Changed))}
		for i, r := range imp.Added {
			c.LastImport.Added[i] = api.ConnectionOperation(r)
		}
		for i, r := range imp.Removed {
			c.LastImport.Removed[i] = api.ConnectionOperation(r)
		}
		for i, ch := range imp.Changed {
			c.LastImport.Changed[i] = api.ConnectionOperationChange{ConnectionOperation: api.ConnectionOperation(ch.OperationRef), Changes: ch.Changes}
		}
	}
	if t := v.LastTest; t != nil {
		c.LastTest = &api.ConnectionTested{At: t.At, OK: t.OK, Method: t.Method, Path: t.Path, Status: t.Status,
			DurationMS: t.DurationMS, Error: t.Error}
	}
	return c
}
