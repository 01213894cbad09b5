package api

import (
	"context"
	"time"

	"github.com/apiq/apiq/adapters/eventstore"
)

// Sessions logs users in (the Login command).
type Sessions interface {
	// Login checks the password (and the one-time code of a user with
	// TOTP) and issues an access token; it returns auth.ErrInvalidCredentials
	// for a wrong email or password, ErrOTPRequired or ErrInvalidOTP for a
	// missing or wrong code, EnrollmentRequired when the tenant requires
	// TOTP and the user has none. It records the attempt either way.
	Login(ctx context.Context, meta eventstore.Metadata, in Login) (AccessToken, error)
}

// Login is the body of POST /v1/auth/login.
type Login struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	TenantID string `json:"tenant_id,omitempty"`
	// OTP is the current code of a user with TOTP.
	OTP string `json:"otp,omitempty"`
}

// AccessToken is a signed, short-lived bearer token.
type AccessToken struct {
	Token     string
	ExpiresIn time.Duration
}

// UserCommands changes users of the caller's tenant.
type UserCommands interface {
	CreateUser(ctx context.Context, meta eventstore.Metadata, in NewUser) (id string, pos eventstore.Position, err error)
	UpdateUser(ctx context.Context, meta eventstore.Metadata, id string, in UserChanges) (eventstore.Position, error)
	DeleteUser(ctx context.Context, meta eventstore.Metadata, id string) (eventstore.Position, error)
}

// NewUser is the body of POST /v1/users.
type NewUser struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

// UserChanges is the body of PATCH /v1/users/{id}; nil fields stay unchanged.
type UserChanges struct {
	Name     *string `json:"name,omitempty"`
	Role     *string `json:"role,omitempty"`
	Password *string `json:"password,omitempty"`
	Enabled  *bool   `json:"enabled,omitempty"`
}

// UserQueries reads the users read model. Both are scoped to a tenant: a
// user of another tenant is not found.
type UserQueries interface {
	GetUser(ctx context.Context, tenantID, id string) (User, error)
	// ListUsers returns a page of users and the cursor of the next page
	// ("" on the last).
	ListUsers(ctx context.Context, tenantID string, page Page) (users []User, next string, err error)
}

// Page selects a page of a list: up to Limit items (0: the default) after
// the cursor After ("" for the first page).
type Page struct {
	Limit int
	After string
}

// User is a user as the API shows it.
type User struct {
	ID      string `json:"id"`
	Email   string `json:"email"`
	Name    string `json:"name"`
	Role    string `json:"role"`
	Enabled bool   `json:"enabled"`
	// TOTPEnabled says the user's password logins need a one-time code.
	TOTPEnabled bool      `json:"totp_enabled"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// TokenCommands issues and revokes API tokens.
type TokenCommands interface {
	IssueToken(ctx context.Context, meta eventstore.Metadata, in NewToken) (IssuedToken, error)
	RevokeToken(ctx context.Context, meta eventstore.Metadata, id string) (eventstore.Position, error)
}

// NewToken is the body of POST /v1/tokens.
type NewToken struct {
	Name      string `json:"name"`
	UserID    string `json:"user_id,omitempty"` // the caller when empty
	ExpiresIn int64  `json:"expires_in,omitempty"`
}

// IssuedToken is a new API token with its secret, shown once.
type IssuedToken struct {
	ID        string
	Secret    string
	ExpiresAt *time.Time
	Position  eventstore.Position
}

// PositionWaiter waits until the read models include a feed position.
type PositionWaiter interface {
	// WaitForPosition returns nil once the read models have applied every
	// event up to pos, or an error when ctx ends first.
	WaitForPosition(ctx context.Context, pos eventstore.Position) error
}
