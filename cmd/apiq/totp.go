package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/domain/user"
	"github.com/apiq/apiq/http/api"
	"github.com/apiq/apiq/projections"
)

// totpAPI adapts the TOTP commands and the tenants read model to api.TOTP.
type totpAPI struct {
	db       projections.QueryDB
	start    commands.StartTOTPHandler
	confirm  commands.ConfirmTOTPHandler
	disable  commands.DisableTOTPHandler
	reset    commands.ResetTOTPHandler
	security commands.SetTenantSecurityHandler
}

// openTOTP wires the TOTP commands on the core's store and vault.
func (c *core) openTOTP() (*totpAPI, error) {
	d := commands.Deps{Store: c.store, Vault: c.vault, Logger: c.logger}
	t := &totpAPI{db: c.pool}
	var errs []error
	var err error
	t.start, err = commands.NewStartTOTPHandler(d)
	errs = append(errs, err)
	t.confirm, err = commands.NewConfirmTOTPHandler(d)
	errs = append(errs, err)
	t.disable, err = commands.NewDisableTOTPHandler(d)
	errs = append(errs, err)
	t.reset, err = commands.NewResetTOTPHandler(d)
	errs = append(errs, err)
	t.security, err = commands.NewSetTenantSecurityHandler(d)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("totp: %w", err)
	}
	return t, nil
}

// StartTOTP implements api.TOTP: the authenticator app's entry is labelled
// with the user's email when the read model has it.
func (t *totpAPI) StartTOTP(ctx context.Context, md eventstore.Metadata) (api.TOTPEnrollment, error) {
	var account string
	if u, err := projections.GetUser(ctx, t.db, md.TenantID, md.Actor.Subject); err == nil {
		account = u.Email
	} else if !errors.Is(err, user.ErrNotFound) {
		return api.TOTPEnrollment{}, err
	}
	res, err := t.start.Handle(ctx, commands.MetaFromMetadata(md), commands.StartTOTP{Account: account})
	if err != nil {
		return api.TOTPEnrollment{}, err
	}
	return api.TOTPEnrollment{Secret: res.Secret, URL: res.URL, Position: res.Position}, nil
}

// ConfirmTOTP implements api.TOTP.
func (t *totpAPI) ConfirmTOTP(ctx context.Context, md eventstore.Metadata, code string) (eventstore.Position, error) {
	res, err := t.confirm.Handle(ctx, commands.MetaFromMetadata(md), commands.ConfirmTOTP{Code: code})
	return res.Position, err
}

// DisableTOTP implements api.TOTP.
func (t *totpAPI) DisableTOTP(ctx context.Context, md eventstore.Metadata, code string) (eventstore.Position, error) {
	res, err := t.disable.Handle(ctx, commands.MetaFromMetadata(md), commands.DisableTOTP{Code: code})
	return res.Position, err
}

// ResetTOTP implements api.TOTP.
func (t *totpAPI) ResetTOTP(ctx context.Context, md eventstore.Metadata, userID string) (eventstore.Position, error) {
	res, err := t.reset.Handle(ctx, commands.MetaFromMetadata(md), commands.ResetTOTP{UserID: userID})
	return res.Position, err
}

// TenantSecurity implements api.TOTP.
func (t *totpAPI) TenantSecurity(ctx context.Context, tenantID string) (api.TenantSecurity, error) {
	ten, err := projections.GetTenant(ctx, t.db, tenantID)
	if err != nil {
		return api.TenantSecurity{}, err
	}
	return api.TenantSecurity{TOTPRequired: ten.TOTPRequired}, nil
}

// SetTenantSecurity implements api.TOTP.
func (t *totpAPI) SetTenantSecurity(ctx context.Context, md eventstore.Metadata, in api.TenantSecurity) (eventstore.Position, error) {
	res, err := t.security.Handle(ctx, commands.MetaFromMetadata(md), commands.SetTenantSecurity{TOTPRequired: in.TOTPRequired})
	return res.Position, err
}

// passwordLogin runs the Login command for the HTTP layer: refusals by the
// second factor become their stable API errors, and a login restricted to
// enrolling TOTP becomes api.EnrollmentRequired with its token.
func passwordLogin(ctx context.Context, login commands.LoginHandler, md eventstore.Metadata, in api.Login) (commands.LoginResult, error) {
	res, err := login.Handle(ctx, commands.MetaFromMetadata(md),
		commands.Login{Email: in.Email, Password: in.Password, TenantID: in.TenantID, OTP: in.OTP})
	switch {
	case errors.Is(err, user.ErrOTPRequired):
		return res, api.ErrOTPRequired
	case errors.Is(err, user.ErrInvalidOTP):
		return res, api.ErrInvalidOTP
	case err != nil:
		return res, err
	case res.Scope != "":
		return res, api.EnrollmentRequired(api.AccessToken{Token: res.AccessToken, ExpiresIn: res.ExpiresIn})
	}
	return res, nil
}
