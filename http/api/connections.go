package api

import (
	"context"
	"time"

	"github.com/apiq/apiq/adapters/eventstore"
)

// ConnectionCommands changes connections of the caller's tenant (meta's).
// Commands that leave a connection return it as the read model shows it
// once it includes the change.
type ConnectionCommands interface {
	RegisterConnection(ctx context.Context, meta eventstore.Metadata, in NewConnection) (Connection, error)
	UpdateConnection(ctx context.Context, meta eventstore.Metadata, id string, in ConnectionChanges) (Connection, error)
	ReimportDocument(ctx context.Context, meta eventstore.Metadata, id string, in DocumentInput) (Connection, error)
	DisableConnection(ctx context.Context, meta eventstore.Metadata, id, reason string) (Connection, error)
	EnableConnection(ctx context.Context, meta eventstore.Metadata, id string) (Connection, error)
	DeleteConnection(ctx context.Context, meta eventstore.Metadata, id string) (eventstore.Position, error)
	TestConnection(ctx context.Context, meta eventstore.Metadata, id string, in ConnectionTest) (ConnectionTestResult, error)
	// StartAuthorization returns the provider URL that begins the OAuth2
	// authorization-code flow; the provider sends the user back to redirectURI.
	StartAuthorization(ctx context.Context, meta eventstore.Metadata, id, redirectURI string) (string, error)
	// CompleteAuthorization exchanges the callback's code; meta has no
	// tenant or actor: the state names them.
	CompleteAuthorization(ctx context.Context, meta eventstore.Metadata, state, code string) (connectionID string, pos eventstore.Position, err error)
}

// ConnectionQueries reads the connections read model, scoped to a tenant:
// a connection of another tenant is not found.
type ConnectionQueries interface {
	GetConnection(ctx context.Context, tenantID, id string) (Connection, error)
	// ListConnections returns a page of connections and the cursor of the
	// next page ("" on the last).
	ListConnections(ctx context.Context, tenantID string, page Page) (connections []Connection, next string, err error)
}

// DocumentInput is an OpenAPI document given inline (Text) or by URL.
type DocumentInput struct {
	Text []byte
	URL  string
}

// NewConnection is the body of POST /v1/connections.
type NewConnection struct {
	Name     string
	BaseURL  string
	Document DocumentInput
	// Auth is nil when the request gives no credentials.
	Auth *AuthInput
}

// ConnectionChanges is the body of PATCH /v1/connections/{id}; nil fields
// stay unchanged.
type ConnectionChanges struct {
	Name    *string    `json:"name,omitempty"`
	BaseURL *string    `json:"base_url,omitempty"`
	Auth    *AuthInput `json:"auth,omitempty"`
}

// AuthInput is a connection's auth object as clients send it; which
// fields each type needs is the credentials' business.
type AuthInput struct {
	Type          string   `json:"type"`
	Scheme        string   `json:"scheme,omitempty"`
	Key           string   `json:"key,omitempty"`
	Name          string   `json:"name,omitempty"`
	In            string   `json:"in,omitempty"`
	Token         string   `json:"token,omitempty"`
	Username      string   `json:"username,omitempty"`
	Password      string   `json:"password,omitempty"`
	ClientID      string   `json:"client_id,omitempty"`
	ClientSecret  string   `json:"client_secret,omitempty"`
	TokenURL      string   `json:"token_url,omitempty"`
	AuthorizeURL  string   `json:"authorize_url,omitempty"`
	RevocationURL string   `json:"revocation_url,omitempty"`
	Scopes        []string `json:"scopes,omitempty"`
	AuthStyle     string   `json:"auth_style,omitempty"`
}

// ConnectionTest is the body of POST /v1/connections/{id}/test.
type ConnectionTest struct {
	OperationID string            `json:"operation_id,omitempty"`
	Params      map[string]string `json:"params,omitempty"`
}

// ConnectionTestResult is a test call's recorded outcome.
type ConnectionTestResult struct {
	OK                   bool   `json:"ok"`
	OperationID          string `json:"operation_id"`
	Method               string `json:"method"`
	Path                 string `json:"path"`
	Status               int    `json:"status,omitempty"`
	DurationMS           int64  `json:"duration_ms"`
	Error                string `json:"error,omitempty"`
	NeedsReauthorization bool   `json:"needs_reauthorization"`
	Position             string `json:"position"`
}

// Connection is a connection as the API shows it: never a secret.
type Connection struct {
	ID          string             `json:"id"`
	Name        string             `json:"name"`
	BaseURL     string             `json:"base_url"`
	DocumentURL string             `json:"document_url,omitempty"`
	Status      string             `json:"status"`
	Auth        ConnectionAuth     `json:"auth"`
	Document    ConnectionDocument `json:"document"`
	LastImport  *ConnectionImport  `json:"last_import,omitempty"`
	LastTest    *ConnectionTested  `json:"last_test,omitempty"`
	CreatedAt   time.Time          `json:"created_at"`
	UpdatedAt   time.Time          `json:"updated_at"`
	Version     int64              `json:"version"`
	// Position is set in command responses.
	Position string `json:"position,omitempty"`
}

// ConnectionAuth is what may be shown of credentials.
type ConnectionAuth struct {
	Type       string     `json:"type"`
	Hint       string     `json:"hint,omitempty"`
	KeyID      string     `json:"key_id,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	Authorized *bool      `json:"authorized,omitempty"`
}

// ConnectionDocument is what the imported document says of itself.
type ConnectionDocument struct {
	Hash           string              `json:"hash"`
	Bytes          int64               `json:"bytes"`
	OpenAPIVersion string              `json:"openapi_version"`
	Title          string              `json:"title"`
	APIVersion     string              `json:"api_version,omitempty"`
	OperationCount int                 `json:"operation_count"`
	Warnings       []ConnectionWarning `json:"warnings"`
}

// ConnectionWarning is a located problem of an imported document.
type ConnectionWarning struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Pointer string `json:"pointer,omitempty"`
	Line    int    `json:"line,omitempty"`
}

// ConnectionImport is the latest import's diff against the catalogue before.
type ConnectionImport struct {
	At      time.Time                   `json:"at"`
	Added   []ConnectionOperation       `json:"added"`
	Removed []ConnectionOperation       `json:"removed"`
	Changed []ConnectionOperationChange `json:"changed"`
}

// ConnectionOperation names an operation of a connection.
type ConnectionOperation struct {
	Method      string `json:"method"`
	Path        string `json:"path"`
	OperationID string `json:"operation_id"`
}

// ConnectionOperationChange is an operation that changed, and how.
type ConnectionOperationChange struct {
	ConnectionOperation
	Changes []string `json:"changes"`
}

// ConnectionTested is the latest test call.
type ConnectionTested struct {
	At         time.Time `json:"at"`
	OK         bool      `json:"ok"`
	Method     string    `json:"method"`
	Path       string    `json:"path"`
	Status     int       `json:"status,omitempty"`
	DurationMS int64     `json:"duration_ms"`
	Error      string    `json:"error,omitempty"`
}
