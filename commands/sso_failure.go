package commands

import (
	"context"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/security"
)

// RecordSSOLoginFailure records a single sign-on that signed nobody in, in
// the security stream of the provider's tenant, acting as the anonymous
// SSO actor of the issuer (and subject, when the ID token verified). The
// request's metadata (client IP, user agent, request id) comes from Meta.
type RecordSSOLoginFailure struct {
	TenantID   string
	ProviderID string
	Issuer     string
	Subject    string
	// Reason is a stable code (security.ReasonSSO*, oidc.Reason*).
	Reason string
	// ProviderError is the error code the provider sent back, if any.
	ProviderError string
}

// RecordSSOLoginFailureResult reports where the record landed.
type RecordSSOLoginFailureResult struct {
	Position eventstore.Position
}

// RecordSSOLoginFailureHandler handles RecordSSOLoginFailure.
type RecordSSOLoginFailureHandler = Handler[RecordSSOLoginFailure, RecordSSOLoginFailureResult]

type recordSSOLoginFailureHandler struct{ d Deps }

// NewRecordSSOLoginFailureHandler needs Store.
func NewRecordSSOLoginFailureHandler(d Deps) (RecordSSOLoginFailureHandler, error) {
	if err := d.require("RecordSSOLoginFailure", true, false, false, false, false); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[RecordSSOLoginFailure, RecordSSOLoginFailureResult]("RecordSSOLoginFailure",
		recordSSOLoginFailureHandler{d}, d), nil
}

// Handle appends security.sso_login_failed to the tenant's security stream
// without a version check; a failure without a tenant is invalid.
func (h recordSSOLoginFailureHandler) Handle(ctx context.Context, meta Meta, cmd RecordSSOLoginFailure) (RecordSSOLoginFailureResult, error) {
	if cmd.TenantID == "" {
		return RecordSSOLoginFailureResult{}, domain.Invalid("tenant_id", "invalid_tenant", "the provider's tenant is required")
	}
	ev, err := security.NewSSOLoginFailed(cmd.ProviderID, cmd.Issuer, cmd.Reason, cmd.ProviderError)
	if err != nil {
		return RecordSSOLoginFailureResult{}, err
	}
	actor := eventstore.Actor{AuthMethod: MethodSSO, SSOIssuer: cmd.Issuer, SSOSubject: cmd.Subject}
	pos, err := appendAny(ctx, h.d, meta.forTenant(cmd.TenantID).withActor(actor), security.Stream(cmd.TenantID), ev)
	if err != nil {
		return RecordSSOLoginFailureResult{}, err
	}
	return RecordSSOLoginFailureResult{Position: pos}, nil
}
