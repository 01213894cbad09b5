package commands

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/apiq/apiq/adapters/authtoken"
	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/reservation"
	"github.com/apiq/apiq/domain/tenant"
	"github.com/apiq/apiq/domain/user"
)

// MethodSSO is the auth method recorded for single sign-on logins.
const MethodSSO = "sso"

// ErrSSOEmailUnverified means the provider did not vouch for the email of
// an existing user, so the identity may not be linked to it (403).
var ErrSSOEmailUnverified = domain.NewError(domain.ErrForbidden, "sso_email_unverified",
	"the provider did not verify this email; it cannot be linked to an existing user")

// SSOLogin signs in the identity an OpenID provider vouched for (after
// adapters/oidc verified it).
type SSOLogin struct {
	TenantID      string
	Issuer        string
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	// Role is the role the provider's mapping grants a new user; an
	// existing user keeps theirs.
	Role user.Role
}

// SSOLoginHandler handles SSOLogin.
type SSOLoginHandler = Handler[SSOLogin, LoginResult]

type ssoLoginHandler struct{ d Deps }

// NewSSOLoginHandler needs Store, Vault, Passwords and Tokens.
func NewSSOLoginHandler(d Deps) (SSOLoginHandler, error) {
	if err := d.require("SSOLogin", true, true, true, true, false); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[SSOLogin, LoginResult]("SSOLogin", ssoLoginHandler{d}, d), nil
}

// Handle finds the user the identity is linked to; else links it to the
// tenant's user with the email when the provider verified the email; else
// creates the user just in time. It records the login on the user's stream
// with the issuer and subject in the actor; a disabled user's login is
// recorded as failed and refused.
func (h ssoLoginHandler) Handle(ctx context.Context, meta Meta, cmd SSOLogin) (LoginResult, error) {
	if cmd.TenantID == "" || cmd.Issuer == "" || cmd.Subject == "" {
		return LoginResult{}, domain.Invalid("", "invalid_identity", "tenant, issuer and subject are required")
	}
	if _, err := user.ParseRole(string(cmd.Role)); err != nil {
		return LoginResult{}, err
	}
	actor := eventstore.Actor{AuthMethod: MethodSSO, SSOIssuer: cmd.Issuer, SSOSubject: cmd.Subject}
	meta = meta.forTenant(cmd.TenantID).withActor(actor)
	identity := user.SSOIdentityStream(h.d.Vault.BlindIndex(cmd.TenantID, user.SSOIdentityKey(cmd.Issuer, cmd.Subject)))
	linked, err := load(ctx, h.d.Store, identity, reservationAggregate())
	if err != nil {
		return LoginResult{}, err
	}
	userID := linked.state.Owner
	if linked.state.Held {
		owner, err := load(ctx, h.d.Store, user.Stream(userID), userAggregate())
		if err != nil {
			return LoginResult{}, err
		}
		if !owner.state.Live() {
			userID = "" // linked to a deleted user: link afresh
		}
	}
	if userID == "" || !linked.state.Held {
		if userID, err = h.link(ctx, meta, identity, linked.state, cmd); err != nil {
			return LoginResult{}, err
		}
	}
	return h.record(ctx, meta, userID, actor)
}

// link finds or creates the user for an identity not linked yet and
// reserves the identity for it.
func (h ssoLoginHandler) link(ctx context.Context, meta Meta, identity string, prior reservation.State, cmd SSOLogin) (string, error) {
	email, err := user.ValidateEmail(cmd.Email)
	if err != nil {
		return "", err
	}
	emailIndex := h.d.Vault.BlindIndex(cmd.TenantID, user.NormalizeEmail(email))
	owner, err := load(ctx, h.d.Store, user.EmailReservationStream(emailIndex), reservationAggregate())
	if err != nil {
		return "", err
	}
	userID := owner.state.Owner
	if owner.state.Held && !cmd.EmailVerified {
		return "", ErrSSOEmailUnverified
	}
	if !owner.state.Held {
		if userID, err = h.create(ctx, meta, email, cmd); err != nil {
			return "", err
		}
	}
	_, err = change(ctx, h.d, meta.atStep("link"), identity, reservationAggregate(), func(s reservation.State) ([]domain.Event, error) {
		var out []domain.Event
		if s.Held && s.Owner != userID {
			out = append(out, reservation.Released{Owner: s.Owner})
			s = reservation.State{}
		}
		evs, err := reservation.Decide(s, reservation.Reserve{Owner: userID})
		return append(out, evs...), err
	})
	if err != nil {
		return "", fmt.Errorf("link sso identity: %w", err)
	}
	return userID, nil
}

// create makes the user just in time, with the mapped role and a random
// password nobody knows (the user signs in through the provider).
func (h ssoLoginHandler) create(ctx context.Context, meta Meta, email string, cmd SSOLogin) (string, error) {
	ten, err := load(ctx, h.d.Store, tenant.Stream(cmd.TenantID), tenantAggregate())
	if err != nil {
		return "", err
	}
	if !ten.state.Exists {
		return "", tenant.ErrNotFound
	}
	name := strings.TrimSpace(cmd.Name)
	if name == "" {
		name, _, _ = strings.Cut(email, "@")
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", fmt.Errorf("random password: %w", err)
	}
	spec, err := newUserSpec(email, name, base64.RawURLEncoding.EncodeToString(secret), cmd.Role)
	if err != nil {
		return "", err
	}
	userID := meta.derivedID("user")
	if _, _, err := createUser(ctx, h.d, meta.atStep("create"), userID, spec, false); err != nil {
		return "", fmt.Errorf("create sso user: %w", err)
	}
	return userID, nil
}

// record appends the login to the user's stream and issues the token.
func (h ssoLoginHandler) record(ctx context.Context, meta Meta, userID string, actor eventstore.Actor) (LoginResult, error) {
	ls, err := load(ctx, h.d.Store, user.Stream(userID), userAggregate())
	if err != nil {
		return LoginResult{}, err
	}
	actor.Subject, actor.Role = userID, string(ls.state.Role)
	res, err := change(ctx, h.d, meta.withActor(actor).atStep("login"), user.Stream(userID), userAggregate(),
		func(s user.State) ([]domain.Event, error) {
			return user.Decide(s, user.RecordLogin{PasswordOK: true, Method: MethodSSO})
		})
	if errors.Is(err, user.ErrNotFound) {
		return LoginResult{}, user.ErrInvalidCredentials
	}
	if err != nil {
		return LoginResult{}, fmt.Errorf("record sso login: %w", err)
	}
	for _, ev := range res.Events {
		if _, ok := ev.(user.LoggedIn); !ok {
			return LoginResult{}, user.ErrInvalidCredentials
		}
	}
	if len(res.Events) == 0 {
		return LoginResult{}, user.ErrInvalidCredentials
	}
	tok, err := h.d.Tokens.Issue(authtoken.Claims{
		UserID: userID, TenantID: meta.TenantID, Role: string(res.State.Role), AuthMethod: MethodSSO,
	})
	if err != nil {
		return LoginResult{}, fmt.Errorf("issue access token: %w", err)
	}
	return LoginResult{
		AccessToken: tok.Token, TokenType: "Bearer", ExpiresIn: tok.ExpiresIn, ExpiresAt: tok.ExpiresAt,
		UserID: userID, TenantID: meta.TenantID, Role: res.State.Role, Position: res.Position,
	}, nil
}
