package api

import (
	"context"
	"errors"
	"sync"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/domain/connection"
)

// fakeFetchError stands in for the commands' fetch failure.
type fakeFetchError struct{ reason string }

func (e fakeFetchError) Error() string               { return "fetch document: " + e.reason }
func (e fakeFetchError) FetchFailure() (string, int) { return e.reason, 0 }

// fakeConnections is an in-memory connection side for router tests: it
// records what the handlers passed and fails on request by name.
type fakeConnections struct {
	mu         sync.Mutex
	registered []NewConnection
	updates    []ConnectionChanges
	reimports  []DocumentInput
	tests      []ConnectionTest
	redirects  []string
	completed  []string
	metas      []eventstore.Metadata
	// fail maps a connection name (register) or id (other commands) to an error.
	fail map[string]error
}

func newFakeConnections() *fakeConnections {
	return &fakeConnections{fail: map[string]error{
		"bad-document": &openapi.ImportError{Code: openapi.CodeDanglingRef, Message: "the $ref points at nothing",
			Pointer: "/paths/~1pets/get", Line: 12, Column: 9,
			Others: []openapi.Problem{{Code: openapi.CodeDanglingRef, Message: "again", Pointer: "/x", Line: 30, Column: 2}}},
		"huge-document": &openapi.ImportError{Code: openapi.CodeTooLarge, Message: "too large"},
		"blocked":       fakeFetchError{reason: "blocked_address"},
		"moved":         connection.ErrBaseURLChangeNeedsAdmin,
		"moved-admin":   connection.ErrCredentialsRequired,
		"missing":       connection.ErrNotFound,
	}}
}

func (f *fakeConnections) view(id, name string, meta eventstore.Metadata) Connection {
	return Connection{ID: id, Name: name, BaseURL: "https://api.example.com", Status: "active",
		Auth: ConnectionAuth{Type: "none"}, Document: ConnectionDocument{Warnings: []ConnectionWarning{}},
		Position: "00000000000000010000000000000002"}
}

func (f *fakeConnections) failure(key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fail[key]
}

func (f *fakeConnections) RegisterConnection(_ context.Context, meta eventstore.Metadata, in NewConnection) (Connection, error) {
	if err := f.failure(in.Name); err != nil {
		return Connection{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.registered = append(f.registered, in)
	f.metas = append(f.metas, meta)
	return f.view("conn-1", in.Name, meta), nil
}

func (f *fakeConnections) UpdateConnection(_ context.Context, meta eventstore.Metadata, id string, in ConnectionChanges) (Connection, error) {
	if err := f.failure(id); err != nil {
		return Connection{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates = append(f.updates, in)
	return f.view(id, "updated", meta), nil
}

func (f *fakeConnections) ReimportDocument(_ context.Context, meta eventstore.Metadata, id string, in DocumentInput) (Connection, error) {
	if err := f.failure(id); err != nil {
		return Connection{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reimports = append(f.reimports, in)
	return f.view(id, "reimported", meta), nil
}

func (f *fakeConnections) DisableConnection(_ context.Context, meta eventstore.Metadata, id, _ string) (Connection, error) {
	if err := f.failure(id); err != nil {
		return Connection{}, err
	}
	return f.view(id, "disabled", meta), nil
}

func (f *fakeConnections) EnableConnection(_ context.Context, meta eventstore.Metadata, id string) (Connection, error) {
	if err := f.failure(id); err != nil {
		return Connection{}, err
	}
	return f.view(id, "enabled", meta), nil
}

func (f *fakeConnections) DeleteConnection(_ context.Context, _ eventstore.Metadata, id string) (eventstore.Position, error) {
	if err := f.failure(id); err != nil {
		return eventstore.Position{}, err
	}
	return eventstore.Position{Commit: 1, Prepare: 3}, nil
}

func (f *fakeConnections) TestConnection(_ context.Context, _ eventstore.Metadata, id string, in ConnectionTest) (ConnectionTestResult, error) {
	if err := f.failure(id); err != nil {
		return ConnectionTestResult{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tests = append(f.tests, in)
	return ConnectionTestResult{OK: true, OperationID: "getPets", Method: "GET", Path: "/pets", Status: 200}, nil
}

func (f *fakeConnections) StartAuthorization(_ context.Context, _ eventstore.Metadata, id, redirectURI string) (string, error) {
	if err := f.failure(id); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.redirects = append(f.redirects, redirectURI)
	return "https://provider.example/auth?state=s", nil
}

func (f *fakeConnections) CompleteAuthorization(_ context.Context, meta eventstore.Metadata, state, code string) (string, eventstore.Position, error) {
	if state != "good-state" {
		return "", eventstore.Position{}, errors.New("unknown state")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.completed = append(f.completed, code)
	f.metas = append(f.metas, meta)
	return "conn-1", eventstore.Position{Commit: 1, Prepare: 4}, nil
}

func (f *fakeConnections) GetConnection(_ context.Context, tenantID, id string) (Connection, error) {
	if err := f.failure(id); err != nil || tenantID != "tenant-1" {
		return Connection{}, connection.ErrNotFound
	}
	return f.view(id, "one", eventstore.Metadata{}), nil
}

func (f *fakeConnections) ListConnections(_ context.Context, _ string, page Page) ([]Connection, string, error) {
	if page.After != "" {
		return nil, "", nil
	}
	return []Connection{f.view("conn-1", "one", eventstore.Metadata{})}, "cursor-2", nil
}

func (f *fakeConnections) lastRegistered() NewConnection {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.registered) == 0 {
		return NewConnection{}
	}
	return f.registered[len(f.registered)-1]
}
