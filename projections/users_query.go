package projections

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/user"
)

// QueryDB is what query functions read through (a *pgxpool.Pool satisfies it).
type QueryDB interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// UserView is a user as the users view holds it (without its password hash).
type UserView struct {
	ID       string
	TenantID string
	Email    string
	Name     string
	// Forgotten is set when the user's personal data can no longer be
	// decrypted (its key was destroyed); Email and Name are blank then.
	Forgotten bool
	Role      user.Role
	Disabled  bool
	// TOTPEnabled says the user's password logins need a one-time code.
	TOTPEnabled bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
	LastLoginAt *time.Time
	// Version is the user stream's version the row reflects.
	Version int64
}

// Users page sizes.
const (
	DefaultUsersPageSize = 50
	MaxUsersPageSize     = 200
)

// ListUsersOptions selects a page of users: up to Limit users after the
// cursor After (from a previous page's Next; empty for the first page).
type ListUsersOptions struct {
	Limit int
	After string
}

// UsersPage is one page of users in creation order; Next is the cursor of
// the following page, empty on the last one.
type UsersPage struct {
	Users []UserView
	Next  string
}

func usersTable() string { return SchemaName(&UsersProjector{}) + ".users" }

const userColumns = `id, tenant_id, email, name, forgotten, role, disabled, totp_enabled, created_at, updated_at, last_login_at, last_version`

func scanUser(row pgx.Row) (UserView, error) {
	var u UserView
	var role string
	err := row.Scan(&u.ID, &u.TenantID, &u.Email, &u.Name, &u.Forgotten, &role, &u.Disabled, &u.TOTPEnabled,
		&u.CreatedAt, &u.UpdatedAt, &u.LastLoginAt, &u.Version)
	u.Role = user.Role(role)
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC(), utcPtr(u.LastLoginAt)
	return u, err
}

// utcPtr returns t in UTC (nil stays nil), so views compare and print alike.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// GetUser returns a live (not deleted) user of the tenant, or user.ErrNotFound.
func GetUser(ctx context.Context, db QueryDB, tenantID, userID string) (UserView, error) {
	u, err := scanUser(db.QueryRow(ctx, `SELECT `+userColumns+` FROM `+usersTable()+`
		WHERE tenant_id = $1 AND id = $2 AND NOT deleted`, tenantID, userID))
	if errors.Is(err, pgx.ErrNoRows) {
		return UserView{}, user.ErrNotFound
	}
	if err != nil {
		return UserView{}, fmt.Errorf("get user %s: %w", userID, err)
	}
	return u, nil
}

// ListUsers returns a page of the tenant's live users in creation order
// (keyset pagination: stable while users are added).
func ListUsers(ctx context.Context, db QueryDB, tenantID string, opts ListUsersOptions) (UsersPage, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = DefaultUsersPageSize
	}
	if limit > MaxUsersPageSize {
		limit = MaxUsersPageSize
	}
	afterTime, afterID, err := decodeCursor(opts.After)
	if err != nil {
		return UsersPage{}, err
	}
	rows, err := db.Query(ctx, `SELECT `+userColumns+` FROM `+usersTable()+`
		WHERE tenant_id = $1 AND NOT deleted AND (created_at, id) > ($2, $3)
		ORDER BY created_at, id LIMIT $4`, tenantID, afterTime, afterID, limit+1)
	if err != nil {
		return UsersPage{}, fmt.Errorf("list users: %w", err)
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (UserView, error) { return scanUser(r) })
	if err != nil {
		return UsersPage{}, fmt.Errorf("list users: %w", err)
	}
	page := UsersPage{Users: users}
	if len(users) > limit {
		page.Users = users[:limit]
		last := page.Users[limit-1]
		page.Next = encodeCursor(last.CreatedAt, last.ID)
	}
	return page, nil
}

func encodeCursor(t time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(t.UTC().Format(time.RFC3339Nano) + "|" + id))
}

func decodeCursor(s string) (time.Time, string, error) {
	if s == "" {
		return time.Time{}, "", nil
	}
	bad := domain.Invalid("after", "invalid_cursor", "the page cursor is not one this API returned")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, "", bad
	}
	ts, id, ok := strings.Cut(string(raw), "|")
	if !ok {
		return time.Time{}, "", bad
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return time.Time{}, "", bad
	}
	return t, id, nil
}

// FindLoginCandidates returns the live users, in any tenant, whose email
// is the given one (compared lower-cased). It is the one user lookup not
// scoped to a tenant: a login names an email before anyone knows the tenant.
func FindLoginCandidates(ctx context.Context, db QueryDB, email string) ([]user.LoginCandidate, error) {
	rows, err := db.Query(ctx, `SELECT tenant_id, id FROM `+usersTable()+`
		WHERE email_lower = $1 AND NOT deleted ORDER BY tenant_id, id LIMIT 20`, user.NormalizeEmail(email))
	if err != nil {
		return nil, fmt.Errorf("find login candidates: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (user.LoginCandidate, error) {
		var c user.LoginCandidate
		err := r.Scan(&c.TenantID, &c.UserID)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("find login candidates: %w", err)
	}
	return out, nil
}

// UserDirectory answers the command side's read-model lookups
// (commands.Directory): login candidates and API token owners.
type UserDirectory struct {
	db QueryDB
}

// NewUserDirectory returns a directory reading through db.
func NewUserDirectory(db QueryDB) *UserDirectory { return &UserDirectory{db: db} }

// FindLoginCandidates implements commands.Directory.
func (d *UserDirectory) FindLoginCandidates(ctx context.Context, email string) ([]user.LoginCandidate, error) {
	return FindLoginCandidates(ctx, d.db, email)
}

// APITokenOwner implements commands.Directory: the user id of a token of
// the tenant, or user.ErrTokenNotFound.
func (d *UserDirectory) APITokenOwner(ctx context.Context, tenantID, tokenID string) (string, error) {
	tok, err := GetAPIToken(ctx, d.db, tenantID, tokenID)
	if err != nil {
		return "", err
	}
	return tok.UserID, nil
}
