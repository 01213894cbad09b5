package commands

import (
	"context"
	"fmt"

	"github.com/apiq/apiq/adapters/credentials"
	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/domain/connection"
)

// UpdateConnection changes a connection of the caller's tenant (PATCH: nil
// fields stay). Auth replaces the credentials.
type UpdateConnection struct {
	ConnectionID string
	Name         *string
	BaseURL      *string
	Auth         *credentials.Input
}

// UpdateConnectionHandler handles UpdateConnection.
type UpdateConnectionHandler = Handler[UpdateConnection, ConnectionResult]

type updateConnectionHandler struct{ d ConnectionDeps }

// NewUpdateConnectionHandler needs Store, Vault, Blobs and Credentials.
func NewUpdateConnectionHandler(d ConnectionDeps) (UpdateConnectionHandler, error) {
	if err := d.require("UpdateConnection", true, false, true); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[UpdateConnection, ConnectionResult]("UpdateConnection", updateConnectionHandler{d}, d.Deps), nil
}

// Handle renames, moves or re-keys the connection. Moving a connection
// with stored credentials to another host needs an ADMIN who re-enters the
// credentials in the same request; that is checked before anything is sealed.
func (h updateConnectionHandler) Handle(ctx context.Context, meta Meta, cmd UpdateConnection) (ConnectionResult, error) {
	current, err := loadConnection(ctx, h.d.Store, meta.TenantID, cmd.ConnectionID, false)
	if err != nil {
		return ConnectionResult{}, err
	}
	byAdmin := meta.Actor.Role == "ADMIN"
	base := current.state.BaseURL
	if cmd.BaseURL != nil {
		if base, err = connection.ValidateBaseURL(*cmd.BaseURL); err != nil {
			return ConnectionResult{}, err
		}
		if err := current.state.GuardBaseURLChange(base, cmd.Auth != nil, byAdmin); err != nil {
			return ConnectionResult{}, err
		}
	}
	if cmd.Name != nil {
		if _, err := connection.ValidateName(*cmd.Name); err != nil {
			return ConnectionResult{}, err
		}
	}
	var creds *connection.Credentials
	if cmd.Auth != nil {
		if err := cmd.Auth.Validate(); err != nil {
			return ConnectionResult{}, err
		}
		schemes, err := h.securitySchemes(ctx, current.state.DocumentHash)
		if err != nil {
			return ConnectionResult{}, err
		}
		if creds, err = h.d.sealOrNil(ctx, meta.TenantID, cmd.ConnectionID, cmd.Auth,
			credentials.Document{Schemes: schemes, BaseURL: base}); err != nil {
			return ConnectionResult{}, err
		}
	}
	out, err := changeConnection(ctx, h.d.Deps, meta, cmd.ConnectionID, connection.Update{
		Name: cmd.Name, BaseURL: cmd.BaseURL, Credentials: creds, ByAdmin: byAdmin,
	})
	if err != nil {
		return ConnectionResult{}, err
	}
	if creds != nil {
		// The manager caches tokens of the old credentials.
		h.d.Credentials.Forget(meta.TenantID, cmd.ConnectionID)
	}
	return connectionResult(cmd.ConnectionID, out), nil
}

// securitySchemes reads the security schemes of the connection's stored
// document: the defaults new credentials may leave out.
func (h updateConnectionHandler) securitySchemes(ctx context.Context, documentHash string) ([]openapi.SecurityScheme, error) {
	raw, err := h.d.Blobs.Get(ctx, documentHash)
	if err != nil {
		return nil, fmt.Errorf("load document %s: %w", documentHash, err)
	}
	res, err := openapi.Import(ctx, raw, h.d.Import)
	if err != nil {
		return nil, fmt.Errorf("import stored document %s: %w", documentHash, err)
	}
	return res.SecuritySchemes, nil
}
