package commands

import (
	"context"

	"github.com/apiq/apiq/domain/connection"
)

// DisableConnection stops a connection of the caller's tenant from being used.
type DisableConnection struct {
	ConnectionID string
	Reason       string
}

// EnableConnection lets a disabled connection be used again.
type EnableConnection struct {
	ConnectionID string
}

// DisableConnectionHandler handles DisableConnection.
type DisableConnectionHandler = Handler[DisableConnection, ConnectionResult]

// EnableConnectionHandler handles EnableConnection.
type EnableConnectionHandler = Handler[EnableConnection, ConnectionResult]

type disableConnectionHandler struct{ d ConnectionDeps }

type enableConnectionHandler struct{ d ConnectionDeps }

// NewDisableConnectionHandler needs Store and Vault.
func NewDisableConnectionHandler(d ConnectionDeps) (DisableConnectionHandler, error) {
	if err := d.require("DisableConnection", false, false, false); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[DisableConnection, ConnectionResult]("DisableConnection", disableConnectionHandler{d}, d.Deps), nil
}

// NewEnableConnectionHandler needs Store and Vault.
func NewEnableConnectionHandler(d ConnectionDeps) (EnableConnectionHandler, error) {
	if err := d.require("EnableConnection", false, false, false); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[EnableConnection, ConnectionResult]("EnableConnection", enableConnectionHandler{d}, d.Deps), nil
}

// Handle records the connection as disabled (nothing when it already is).
func (h disableConnectionHandler) Handle(ctx context.Context, meta Meta, cmd DisableConnection) (ConnectionResult, error) {
	if _, err := loadConnection(ctx, h.d.Store, meta.TenantID, cmd.ConnectionID, false); err != nil {
		return ConnectionResult{}, err
	}
	out, err := changeConnection(ctx, h.d.Deps, meta, cmd.ConnectionID, connection.Disable{Reason: cmd.Reason})
	if err != nil {
		return ConnectionResult{}, err
	}
	return connectionResult(cmd.ConnectionID, out), nil
}

// Handle records the connection as enabled (nothing when it already is).
func (h enableConnectionHandler) Handle(ctx context.Context, meta Meta, cmd EnableConnection) (ConnectionResult, error) {
	if _, err := loadConnection(ctx, h.d.Store, meta.TenantID, cmd.ConnectionID, false); err != nil {
		return ConnectionResult{}, err
	}
	out, err := changeConnection(ctx, h.d.Deps, meta, cmd.ConnectionID, connection.Enable{})
	if err != nil {
		return ConnectionResult{}, err
	}
	return connectionResult(cmd.ConnectionID, out), nil
}
