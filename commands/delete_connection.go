package commands

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/apiq/apiq/adapters/credentials"
	"github.com/apiq/apiq/domain/connection"
)

// DeleteConnection deletes a connection of the caller's tenant.
type DeleteConnection struct {
	ConnectionID string
}

// DeleteConnectionHandler handles DeleteConnection.
type DeleteConnectionHandler = Handler[DeleteConnection, ConnectionResult]

type deleteConnectionHandler struct{ d ConnectionDeps }

// NewDeleteConnectionHandler needs Store, Vault, Outbound and Credentials.
func NewDeleteConnectionHandler(d ConnectionDeps) (DeleteConnectionHandler, error) {
	if err := d.require("DeleteConnection", false, true, true); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[DeleteConnection, ConnectionResult]("DeleteConnection", deleteConnectionHandler{d}, d.Deps), nil
}

// Handle records the deletion, revokes the connection's OAuth tokens at the
// provider (best effort: crypto-shredding makes them useless to APIQ
// anyway), then destroys the connection's data key, so its sealed
// credentials can never be decrypted again while its events stay. A retry
// of the same request completes the steps a failed attempt left.
func (h deleteConnectionHandler) Handle(ctx context.Context, meta Meta, cmd DeleteConnection) (ConnectionResult, error) {
	current, err := loadConnection(ctx, h.d.Store, meta.TenantID, cmd.ConnectionID, true)
	if err != nil {
		return ConnectionResult{}, err
	}
	out, err := changeConnection(ctx, h.d.Deps, meta, cmd.ConnectionID, connection.Delete{})
	if err != nil {
		return ConnectionResult{}, err
	}
	if !out.Replayed && current.state.HasSecrets() {
		if err := h.d.Credentials.Revoke(ctx, meta.TenantID, cmd.ConnectionID, current.state.Credentials); err != nil {
			h.d.Logger.WarnContext(ctx, "revoke connection tokens", slog.String("connection_id", cmd.ConnectionID),
				slog.String("error", err.Error()))
		}
	}
	if err := h.d.Vault.DestroyOwnerKeys(ctx, meta.TenantID, credentials.KeyOwner(cmd.ConnectionID)); err != nil {
		return ConnectionResult{}, fmt.Errorf("shred connection credentials: %w", err)
	}
	h.d.Credentials.Forget(meta.TenantID, cmd.ConnectionID)
	h.d.Outbound.Forget(cmd.ConnectionID)
	return connectionResult(cmd.ConnectionID, out), nil
}
