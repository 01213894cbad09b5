package commands

import (
	"context"
	"fmt"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/vault"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/tenant"
	"github.com/apiq/apiq/domain/user"
)

// ErrTOTPResetNeedsAdmin refuses a TOTP reset by anyone but an ADMIN.
var ErrTOTPResetNeedsAdmin = domain.NewError(domain.ErrForbidden, "totp_reset_requires_admin",
	"only an ADMIN resets another user's TOTP")

// totpIssuer labels APIQ's entries in authenticator apps.
const totpIssuer = "APIQ"

// StartTOTP starts the caller's TOTP enrolment (Meta.Actor.Subject).
type StartTOTP struct {
	// Account labels the entry in the authenticator app (the user id when empty).
	Account string
}

// StartTOTPResult is the new secret and its otpauth:// URL, shown this once.
type StartTOTPResult struct {
	Secret   string
	URL      string
	Position eventstore.Position
}

// ConfirmTOTP confirms the caller's pending enrolment with its first code.
type ConfirmTOTP struct{ Code string }

// DisableTOTP turns the caller's TOTP off with a current code.
type DisableTOTP struct{ Code string }

// ResetTOTP turns a user's TOTP off without a code (an ADMIN's answer to a
// lost device).
type ResetTOTP struct{ UserID string }

// TOTPResult is where a TOTP change was recorded.
type TOTPResult struct{ Position eventstore.Position }

// Handlers of the TOTP commands.
type (
	StartTOTPHandler   = Handler[StartTOTP, StartTOTPResult]
	ConfirmTOTPHandler = Handler[ConfirmTOTP, TOTPResult]
	DisableTOTPHandler = Handler[DisableTOTP, TOTPResult]
	ResetTOTPHandler   = Handler[ResetTOTP, TOTPResult]
)

type totpHandler struct{ d Deps }

// NewStartTOTPHandler needs Store and Vault.
func NewStartTOTPHandler(d Deps) (StartTOTPHandler, error) {
	if err := d.require("StartTOTP", true, true, false, false, false); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[StartTOTP, StartTOTPResult]("StartTOTP", startTOTP{totpHandler{d}}, d), nil
}

// NewConfirmTOTPHandler needs Store and Vault.
func NewConfirmTOTPHandler(d Deps) (ConfirmTOTPHandler, error) {
	if err := d.require("ConfirmTOTP", true, true, false, false, false); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[ConfirmTOTP, TOTPResult]("ConfirmTOTP", confirmTOTP{totpHandler{d}}, d), nil
}

// NewDisableTOTPHandler needs Store and Vault.
func NewDisableTOTPHandler(d Deps) (DisableTOTPHandler, error) {
	if err := d.require("DisableTOTP", true, true, false, false, false); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[DisableTOTP, TOTPResult]("DisableTOTP", disableTOTP{totpHandler{d}}, d), nil
}

// NewResetTOTPHandler needs Store.
func NewResetTOTPHandler(d Deps) (ResetTOTPHandler, error) {
	if err := d.require("ResetTOTP", true, false, false, false, false); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[ResetTOTP, TOTPResult]("ResetTOTP", resetTOTP{totpHandler{d}}, d), nil
}

type (
	startTOTP   struct{ totpHandler }
	confirmTOTP struct{ totpHandler }
	disableTOTP struct{ totpHandler }
	resetTOTP   struct{ totpHandler }
)

// Handle generates a secret, seals it under the user's own data key and
// records the enrolment. A retried request shows the secret it recorded.
func (h startTOTP) Handle(ctx context.Context, meta Meta, cmd StartTOTP) (StartTOTPResult, error) {
	userID := meta.Actor.Subject
	secret, err := user.NewTOTPSecret()
	if err != nil {
		return StartTOTPResult{}, err
	}
	sealed, err := h.d.Vault.EncryptString(ctx, totpScope(meta.TenantID, userID), secret)
	if err != nil {
		return StartTOTPResult{}, fmt.Errorf("seal totp secret: %w", err)
	}
	res, err := h.change(ctx, meta, userID, func(s user.State) ([]domain.Event, error) {
		return user.Decide(s, user.StartTOTP{SealedSecret: sealed})
	})
	if err != nil {
		return StartTOTPResult{}, err
	}
	if res.Replayed {
		for _, ev := range res.Events {
			if started, ok := ev.(user.TOTPEnrollmentStarted); ok {
				if secret, err = h.open(ctx, meta.TenantID, userID, started.SealedSecret); err != nil {
					return StartTOTPResult{}, err
				}
			}
		}
	}
	account := cmd.Account
	if account == "" {
		account = userID
	}
	url, err := user.TOTPURL(totpIssuer, account, secret)
	if err != nil {
		return StartTOTPResult{}, err
	}
	return StartTOTPResult{Secret: secret, URL: url, Position: res.Position}, nil
}

// Handle checks the code against the pending secret; the domain accepts
// it only while that secret is still the pending one.
func (h confirmTOTP) Handle(ctx context.Context, meta Meta, cmd ConfirmTOTP) (TOTPResult, error) {
	userID := meta.Actor.Subject
	ls, err := h.user(ctx, meta, userID)
	if err != nil {
		return TOTPResult{}, err
	}
	if ls.TOTP.Pending == "" {
		return TOTPResult{}, user.ErrTOTPNotStarted
	}
	step, err := h.match(ctx, meta.TenantID, userID, ls.TOTP.Pending, cmd.Code)
	if err != nil {
		return TOTPResult{}, err
	}
	res, err := h.change(ctx, meta, userID, func(s user.State) ([]domain.Event, error) {
		return user.Decide(s, user.ConfirmTOTP{SealedSecret: ls.TOTP.Pending, Step: step})
	})
	return TOTPResult{Position: res.Position}, err
}

// Handle checks the code against the confirmed secret and turns TOTP off,
// unless the tenant requires it.
func (h disableTOTP) Handle(ctx context.Context, meta Meta, cmd DisableTOTP) (TOTPResult, error) {
	userID := meta.Actor.Subject
	ls, err := h.user(ctx, meta, userID)
	if err != nil {
		return TOTPResult{}, err
	}
	if !ls.TOTPEnabled() {
		return TOTPResult{}, user.ErrTOTPNotEnabled
	}
	required, err := h.tenantRequires(ctx, meta.TenantID)
	if err != nil {
		return TOTPResult{}, err
	}
	step, err := h.match(ctx, meta.TenantID, userID, ls.TOTP.Secret, cmd.Code)
	if err != nil {
		return TOTPResult{}, err
	}
	res, err := h.change(ctx, meta, userID, func(s user.State) ([]domain.Event, error) {
		return user.Decide(s, user.DisableTOTP{SealedSecret: ls.TOTP.Secret, Step: step, TenantRequires: required})
	})
	return TOTPResult{Position: res.Position}, err
}

// Handle turns a user's TOTP off for an ADMIN of the user's tenant (or
// the CLI, for a tenant whose only ADMIN lost the device). In a
// tenant that requires TOTP the user's next password login is a restricted
// one again, to enrol a new device.
func (h resetTOTP) Handle(ctx context.Context, meta Meta, cmd ResetTOTP) (TOTPResult, error) {
	if meta.Actor.Role != string(user.RoleAdmin) && meta.Actor != SystemActor() {
		return TOTPResult{}, ErrTOTPResetNeedsAdmin
	}
	res, err := h.change(ctx, meta, cmd.UserID, func(s user.State) ([]domain.Event, error) {
		return user.Decide(s, user.DisableTOTP{Reset: true})
	})
	return TOTPResult{Position: res.Position}, err
}

// change changes a user of the caller's tenant; users of other tenants are
// not found.
func (h totpHandler) change(ctx context.Context, meta Meta, userID string, decide func(user.State) ([]domain.Event, error)) (outcome[user.State], error) {
	if userID == "" || meta.TenantID == "" {
		return outcome[user.State]{}, user.ErrNotFound
	}
	return change(ctx, h.d, meta, user.Stream(userID), userAggregate(), func(s user.State) ([]domain.Event, error) {
		if s.TenantID != meta.TenantID {
			return nil, user.ErrNotFound
		}
		return decide(s)
	})
}

// user loads a live user of the caller's tenant.
func (h totpHandler) user(ctx context.Context, meta Meta, userID string) (user.State, error) {
	if userID == "" || meta.TenantID == "" {
		return user.State{}, user.ErrNotFound
	}
	ls, err := load(ctx, h.d.Store, user.Stream(userID), userAggregate())
	if err != nil {
		return user.State{}, err
	}
	if !ls.state.Live() || ls.state.TenantID != meta.TenantID {
		return user.State{}, user.ErrNotFound
	}
	return ls.state, nil
}

func (h totpHandler) tenantRequires(ctx context.Context, tenantID string) (bool, error) {
	ten, err := load(ctx, h.d.Store, tenant.Stream(tenantID), tenantAggregate())
	if err != nil {
		return false, err
	}
	return ten.state.TOTPRequired, nil
}

// match opens a sealed secret and returns the time step of code (0: wrong).
func (h totpHandler) match(ctx context.Context, tenantID, userID, sealed, code string) (int64, error) {
	secret, err := h.open(ctx, tenantID, userID, sealed)
	if err != nil {
		return 0, err
	}
	return user.MatchTOTP(secret, code, h.d.Now()), nil
}

func (h totpHandler) open(ctx context.Context, tenantID, userID, sealed string) (string, error) {
	secret, err := h.d.Vault.DecryptString(ctx, totpScope(tenantID, userID), sealed)
	if err != nil {
		return "", fmt.Errorf("open totp secret: %w", err)
	}
	return secret, nil
}

func totpScope(tenantID, userID string) vault.Scope {
	return vault.Scope{Tenant: tenantID, Owner: user.KeyOwner(userID), Field: user.TOTPSecretField}
}
