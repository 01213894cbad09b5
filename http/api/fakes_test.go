package api

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/http/auth"
)

// errUserNotFound stands in for the domain's not-found sentinel.
var errUserNotFound = errors.New("user not found")

// fakeIdentity is an in-memory identity core for router tests that do not
// need the real one: bearer "token-<user id>" authenticates as that user.
type fakeIdentity struct {
	mu       sync.Mutex
	tenant   string
	users    map[string]User
	denials  []auth.Denial
	creates  atomic.Int64
	metas    []eventstore.Metadata
	position atomic.Uint64 // the read models' position (Prepare)
	// createGate, when set, blocks CreateUser until closed.
	createGate chan struct{}
}

func newFakeIdentity() *fakeIdentity {
	now := time.Now().UTC()
	return &fakeIdentity{tenant: "tenant-1", users: map[string]User{
		"admin": {ID: "admin", Email: "admin@example.com", Name: "Admin", Role: auth.RoleAdmin, Enabled: true, CreatedAt: now, UpdatedAt: now},
		"alice": {ID: "alice", Email: "alice@example.com", Name: "Alice", Role: auth.RoleUser, Enabled: true, CreatedAt: now, UpdatedAt: now},
		"gone":  {ID: "gone", Email: "gone@example.com", Name: "Gone", Role: auth.RoleAdmin, Enabled: false, CreatedAt: now, UpdatedAt: now},
	}}
}

func (f *fakeIdentity) Authenticate(_ context.Context, credential string) (auth.Principal, error) {
	var id string
	if _, err := fmt.Sscanf(credential, "token-%s", &id); err != nil {
		return auth.Principal{}, auth.ErrInvalidCredentials
	}
	return auth.Principal{TenantID: f.tenant, UserID: id, AuthMethod: auth.MethodPassword}, nil
}

func (f *fakeIdentity) ActiveRole(_ context.Context, tenantID, userID string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[userID]
	if !ok || !u.Enabled || tenantID != f.tenant {
		return "", auth.ErrUserInactive
	}
	return u.Role, nil
}

func (f *fakeIdentity) RecordAccessDenied(_ context.Context, d auth.Denial) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.denials = append(f.denials, d)
	return nil
}

func (f *fakeIdentity) Login(_ context.Context, _ eventstore.Metadata, in Login) (AccessToken, error) {
	for _, u := range f.users {
		if u.Email == in.Email && in.Password == "correct horse" {
			return AccessToken{Token: "token-" + u.ID, ExpiresIn: 15 * time.Minute}, nil
		}
	}
	return AccessToken{}, auth.ErrInvalidCredentials
}

func (f *fakeIdentity) CreateUser(ctx context.Context, meta eventstore.Metadata, in NewUser) (string, eventstore.Position, error) {
	if f.createGate != nil {
		select {
		case <-f.createGate:
		case <-ctx.Done():
			return "", eventstore.Position{}, ctx.Err()
		}
	}
	n := f.creates.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.metas = append(f.metas, meta)
	id := fmt.Sprintf("user-%d", n)
	f.users[id] = User{ID: id, Email: in.Email, Name: in.Name, Role: in.Role, Enabled: true}
	return id, eventstore.Position{Commit: 1, Prepare: uint64(100 + n)}, nil
}

func (f *fakeIdentity) UpdateUser(_ context.Context, _ eventstore.Metadata, id string, in UserChanges) (eventstore.Position, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[id]
	if !ok {
		return eventstore.Position{}, errUserNotFound
	}
	if in.Enabled != nil {
		u.Enabled = *in.Enabled
	}
	f.users[id] = u
	return eventstore.Position{Commit: 1, Prepare: 7}, nil
}

func (f *fakeIdentity) DeleteUser(_ context.Context, _ eventstore.Metadata, id string) (eventstore.Position, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.users[id]; !ok {
		return eventstore.Position{}, errUserNotFound
	}
	delete(f.users, id)
	return eventstore.Position{Commit: 1, Prepare: 8}, nil
}

func (f *fakeIdentity) GetUser(_ context.Context, tenantID, id string) (User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[id]
	if !ok || tenantID != f.tenant {
		return User{}, errUserNotFound
	}
	return u, nil
}

func (f *fakeIdentity) ListUsers(_ context.Context, tenantID string, page Page) ([]User, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []User
	for _, u := range f.users {
		if tenantID == f.tenant {
			out = append(out, u)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	for len(out) > 0 && page.After != "" && out[0].ID <= page.After {
		out = out[1:]
	}
	if page.Limit > 0 && len(out) > page.Limit {
		return out[:page.Limit], out[page.Limit-1].ID, nil
	}
	return out, "", nil
}

func (f *fakeIdentity) IssueToken(_ context.Context, _ eventstore.Metadata, in NewToken) (IssuedToken, error) {
	return IssuedToken{ID: "tok-" + in.Name, Secret: "apiq_secret_" + in.Name, Position: eventstore.Position{Commit: 1, Prepare: 9}}, nil
}

func (f *fakeIdentity) RevokeToken(_ context.Context, _ eventstore.Metadata, id string) (eventstore.Position, error) {
	if id != "tok-1" {
		return eventstore.Position{}, errUserNotFound
	}
	return eventstore.Position{Commit: 1, Prepare: 10}, nil
}

// WaitForPosition polls the fake read models' position.
func (f *fakeIdentity) WaitForPosition(ctx context.Context, pos eventstore.Position) error {
	for {
		if (eventstore.Position{Commit: 1, Prepare: f.position.Load()}).Compare(pos) >= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (f *fakeIdentity) denialCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.denials)
}

// failingOnce fails the first CreateUser with an internal error.
type failingOnce struct {
	UserCommands
	failed atomic.Bool
}

func (f *failingOnce) CreateUser(ctx context.Context, meta eventstore.Metadata, in NewUser) (string, eventstore.Position, error) {
	if f.failed.CompareAndSwap(false, true) {
		return "", eventstore.Position{}, errors.New("database went away")
	}
	return f.UserCommands.CreateUser(ctx, meta, in)
}
