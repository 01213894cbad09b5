// Package user is the user aggregate: creation with encrypted personal data,
// profile and role changes, deletion (crypto-shredding), logins and the
// user's machine API tokens.
package user

import (
	"slices"
	"time"

	"github.com/apiq/apiq/domain"
)

// Stream is the event stream of a user.
func Stream(userID string) string { return "user-" + userID }

// EmailReservationStream is the reservation stream of an email's blind
// index: it keeps emails unique within a tenant and reveals no address.
func EmailReservationStream(emailIndex string) string { return "user-email-" + emailIndex }

// KeyOwner is the vault owner of a user's data key.
func KeyOwner(userID string) string { return "user:" + userID }

// Errors of the user aggregate.
var (
	ErrNotFound           = domain.NewError(domain.ErrNotFound, "user_not_found", "user not found")
	ErrAlreadyExists      = domain.NewError(domain.ErrConflict, "user_exists", "user already exists")
	ErrEmailTaken         = domain.NewError(domain.ErrConflict, "email_taken", "a user with this email already exists in the tenant")
	ErrDisabled           = domain.NewError(domain.ErrForbidden, "user_disabled", "the user is disabled")
	ErrTokenNotFound      = domain.NewError(domain.ErrNotFound, "token_not_found", "API token not found")
	ErrTokenExists        = domain.NewError(domain.ErrConflict, "token_exists", "an API token with this id already exists")
	ErrInvalidCredentials = domain.NewError(domain.ErrUnauthenticated, "invalid_credentials", "email or password is wrong")
)

// Login failure reasons recorded in LoginFailed.
const (
	ReasonInvalidPassword = "invalid_password"
	ReasonDisabled        = "disabled"
)

// Token is what the aggregate remembers of an API token.
type Token struct {
	Name      string
	Revoked   bool
	ExpiresAt *time.Time
}

// State is a user folded from its events.
type State struct {
	Exists       bool
	Deleted      bool
	ID           string
	TenantID     string
	Role         Role
	Disabled     bool
	PasswordHash string
	EmailIndex   string
	Tokens       map[string]Token
	TOTP         TOTP
}

// Live reports whether the user exists and is not deleted.
func (s State) Live() bool { return s.Exists && !s.Deleted }

// ActiveAdmin reports whether the user counts on the tenant's admin roster.
func (s State) ActiveAdmin() bool { return s.Live() && !s.Disabled && s.Role == RoleAdmin }

// Command is one of the user commands below.
type Command interface{ isUserCommand() }

// Create creates the user; personal data arrives encrypted.
type Create struct {
	UserID         string
	TenantID       string
	EncryptedEmail string
	EncryptedName  string
	EmailIndex     string
	Role           Role
	PasswordHash   string
}

// Update changes the given fields (nil: unchanged).
type Update struct {
	EncryptedName *string
	Role          *Role
	Disabled      *bool
	PasswordHash  *string
}

// Delete deletes the user and revokes its API tokens.
type Delete struct{}

// RecordLogin records a login attempt whose password check already ran.
type RecordLogin struct {
	PasswordOK bool
	Method     string
	// SecondFactor applies the TOTP rules (password logins; single sign-on
	// leaves factors to the provider).
	SecondFactor bool
	// OTPGiven says the login presented a one-time code; OTPStep is its
	// time step against OTPSealedSecret, the secret it was checked
	// against (0: it matched none).
	OTPGiven        bool
	OTPStep         int64
	OTPSealedSecret string
	// TenantRequiresTOTP makes the login of a user without TOTP a
	// restricted one (ScopeTOTPEnrollment).
	TenantRequiresTOTP bool
}

// IssueAPIToken adds a machine token.
type IssueAPIToken struct {
	TokenID    string
	Name       string
	SecretHash string
	ExpiresAt  *time.Time
	Now        time.Time
}

// RevokeAPIToken revokes a machine token.
type RevokeAPIToken struct{ TokenID string }

func (Create) isUserCommand()         {}
func (Update) isUserCommand()         {}
func (Delete) isUserCommand()         {}
func (RecordLogin) isUserCommand()    {}
func (IssueAPIToken) isUserCommand()  {}
func (RevokeAPIToken) isUserCommand() {}

// Decide returns the events a command produces in state s.
func Decide(s State, cmd Command) ([]domain.Event, error) {
	switch c := cmd.(type) {
	case Create:
		return decideCreate(s, c)
	case Update:
		return decideUpdate(s, c)
	case Delete:
		if !s.Live() {
			return nil, ErrNotFound
		}
		var out []domain.Event
		for _, id := range s.activeTokenIDs() {
			out = append(out, APITokenRevoked{TokenID: id})
		}
		return append(out, Deleted{}), nil
	case RecordLogin:
		if !s.Live() {
			return nil, ErrNotFound
		}
		switch {
		case !c.PasswordOK:
			return []domain.Event{LoginFailed{Reason: ReasonInvalidPassword}}, nil
		case s.Disabled:
			return []domain.Event{LoginFailed{Reason: ReasonDisabled}}, nil
		case c.SecondFactor:
			return []domain.Event{decideLoginOTP(s, c)}, nil
		}
		return []domain.Event{LoggedIn{Method: c.Method}}, nil
	case StartTOTP, ConfirmTOTP, DisableTOTP:
		return decideTOTP(s, cmd)
	case IssueAPIToken:
		return decideIssueToken(s, c)
	case RevokeAPIToken:
		if !s.Live() {
			return nil, ErrNotFound
		}
		tok, ok := s.Tokens[c.TokenID]
		if !ok {
			return nil, ErrTokenNotFound
		}
		if tok.Revoked {
			return nil, nil
		}
		return []domain.Event{APITokenRevoked(c)}, nil
	}
	return nil, domain.Invalid("", "unknown_command", "unknown user command")
}

func decideCreate(s State, c Create) ([]domain.Event, error) {
	if s.Exists {
		return nil, ErrAlreadyExists
	}
	if _, err := ParseRole(string(c.Role)); err != nil {
		return nil, err
	}
	switch {
	case c.UserID == "", c.TenantID == "":
		return nil, domain.Invalid("", "missing_id", "user and tenant ids are required")
	case c.EncryptedEmail == "", c.EmailIndex == "":
		return nil, domain.Invalid("email", "invalid_email", "email is required")
	case c.EncryptedName == "":
		return nil, domain.Invalid("name", "invalid_name", "name is required")
	case c.PasswordHash == "":
		return nil, domain.Invalid("password", "invalid_password", "password is required")
	}
	return []domain.Event{Created(c)}, nil
}

func decideUpdate(s State, c Update) ([]domain.Event, error) {
	if !s.Live() {
		return nil, ErrNotFound
	}
	var ev Updated
	changed := false
	if c.EncryptedName != nil {
		ev.EncryptedName, changed = c.EncryptedName, true
	}
	if c.Role != nil && *c.Role != s.Role {
		if _, err := ParseRole(string(*c.Role)); err != nil {
			return nil, err
		}
		ev.Role, changed = c.Role, true
	}
	if c.Disabled != nil && *c.Disabled != s.Disabled {
		ev.Disabled, changed = c.Disabled, true
	}
	if c.PasswordHash != nil {
		ev.PasswordHash, changed = c.PasswordHash, true
	}
	if !changed {
		return nil, nil
	}
	return []domain.Event{ev}, nil
}

func decideIssueToken(s State, c IssueAPIToken) ([]domain.Event, error) {
	if !s.Live() {
		return nil, ErrNotFound
	}
	if s.Disabled {
		return nil, ErrDisabled
	}
	if _, exists := s.Tokens[c.TokenID]; exists {
		return nil, ErrTokenExists
	}
	name, err := ValidateTokenName(c.Name)
	if err != nil {
		return nil, err
	}
	if c.TokenID == "" || c.SecretHash == "" {
		return nil, domain.Invalid("", "invalid_token", "token id and secret hash are required")
	}
	if c.ExpiresAt != nil && !c.ExpiresAt.After(c.Now) {
		return nil, domain.Invalid("expires_at", "invalid_expiry", "expiry must be in the future")
	}
	return []domain.Event{APITokenIssued{TokenID: c.TokenID, Name: name, SecretHash: c.SecretHash, ExpiresAt: c.ExpiresAt}}, nil
}

// WouldBeActiveAdmin reports whether the user counts as an active ADMIN
// after an update, so callers know whether the tenant's roster changes.
func (s State) WouldBeActiveAdmin(u Update) bool {
	role, disabled := s.Role, s.Disabled
	if u.Role != nil {
		role = *u.Role
	}
	if u.Disabled != nil {
		disabled = *u.Disabled
	}
	return s.Live() && !disabled && role == RoleAdmin
}

func (s State) activeTokenIDs() []string {
	var ids []string
	for id, t := range s.Tokens {
		if !t.Revoked {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Evolve folds one event into the state without changing s.
func Evolve(s State, ev domain.Event) State {
	switch e := ev.(type) {
	case Created:
		return State{
			Exists: true, ID: e.UserID, TenantID: e.TenantID, Role: e.Role,
			PasswordHash: e.PasswordHash, EmailIndex: e.EmailIndex,
		}
	case Updated:
		if e.Role != nil {
			s.Role = *e.Role
		}
		if e.Disabled != nil {
			s.Disabled = *e.Disabled
		}
		if e.PasswordHash != nil {
			s.PasswordHash = *e.PasswordHash
		}
	case Deleted:
		s.Deleted = true
		s.PasswordHash = ""
		s.TOTP = TOTP{}
	case LoggedIn:
		if e.OTPStep > s.TOTP.LastStep {
			s.TOTP.LastStep = e.OTPStep
		}
	case TOTPEnrollmentStarted:
		s.TOTP.Pending = e.SealedSecret
	case TOTPConfirmed:
		s.TOTP = TOTP{Secret: s.TOTP.Pending, LastStep: e.Step}
	case TOTPDisabled:
		s.TOTP = TOTP{}
	case APITokenIssued:
		s.Tokens = withToken(s.Tokens, e.TokenID, Token{Name: e.Name, ExpiresAt: e.ExpiresAt})
	case APITokenRevoked:
		if t, ok := s.Tokens[e.TokenID]; ok {
			t.Revoked = true
			s.Tokens = withToken(s.Tokens, e.TokenID, t)
		}
	}
	return s
}

func withToken(tokens map[string]Token, id string, t Token) map[string]Token {
	out := make(map[string]Token, len(tokens)+1)
	for k, v := range tokens {
		out[k] = v
	}
	out[id] = t
	return out
}

// LoginCandidate is a user that may own an email, as the read side finds it.
type LoginCandidate struct {
	TenantID string
	UserID   string
}
