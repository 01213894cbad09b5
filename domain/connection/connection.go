package connection

import (
	"maps"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/apiq/apiq/domain"
)

// Stream is the event stream of a connection.
func Stream(connectionID string) string { return StreamPrefix + connectionID }

// IDFromStream returns the connection id of a connection stream.
func IDFromStream(stream string) string { return strings.TrimPrefix(stream, StreamPrefix) }

// CredentialTypeNone is the credential type of an API called anonymously.
const CredentialTypeNone = "none"

// CredentialTypeOAuth2AuthorizationCode is the credential type whose tokens
// come from a person's authorisation (OAuthTokensRefreshed).
const CredentialTypeOAuth2AuthorizationCode = "oauth2_authorization_code"

// Status is what a connection may be used for now.
type Status string

// Connection statuses, from the most to the least usable.
const (
	StatusActive               Status = "active"
	StatusNeedsReauthorization Status = "needs_reauthorization"
	StatusDisabled             Status = "disabled"
	StatusDeleted              Status = "deleted"
)

// Errors of the connection aggregate.
var (
	ErrNotFound      = domain.NewError(domain.ErrNotFound, "connection_not_found", "connection not found")
	ErrAlreadyExists = domain.NewError(domain.ErrConflict, "connection_exists", "connection already exists")
	ErrDisabled      = domain.NewError(domain.ErrConflict, "connection_disabled",
		"the connection is disabled; enable it first")
	// ErrBaseURLChangeNeedsAdmin refuses a non-ADMIN moving a connection
	// with stored credentials to another host: the credentials would follow.
	ErrBaseURLChangeNeedsAdmin = domain.NewError(domain.ErrForbidden, "base_url_change_requires_admin",
		"changing the base URL's host of a connection with stored credentials requires an ADMIN")
	// ErrCredentialsRequired refuses moving a connection with stored
	// credentials to another host without re-entering them.
	ErrCredentialsRequired = domain.Invalid("auth", "credentials_required",
		"changing the base URL's host of a connection with stored credentials requires new credentials (auth) in the same request")
	// ErrNotAuthorizationCode refuses OAuth authorisation of a connection
	// whose credentials are not of the authorization-code type.
	ErrNotAuthorizationCode = domain.NewError(domain.ErrConflict, "not_oauth_authorization_code",
		"the connection's credentials are not of type oauth2_authorization_code")
)

// Credentials' sealed fields that hold OAuth tokens (see OAuthTokensRefreshed).
const (
	sealedAccessToken  = "access_token"
	sealedRefreshToken = "refresh_token"
)

// State is a connection folded from its events.
type State struct {
	Exists  bool
	Deleted bool
	ID      string
	Name    string
	BaseURL string
	// DocumentURL is where the document was first fetched from, if it was.
	DocumentURL          string
	Disabled             bool
	NeedsReauthorization bool
	DocumentHash         string
	CatalogueHash        string
	OperationCount       int
	// Credentials are the current credentials (refreshed OAuth tokens
	// folded in); the zero value when none were ever given.
	Credentials Credentials
}

// Live reports whether the connection exists and is not deleted.
func (s State) Live() bool { return s.Exists && !s.Deleted }

// Status says what the connection may be used for.
func (s State) Status() Status {
	switch {
	case s.Deleted:
		return StatusDeleted
	case s.Disabled:
		return StatusDisabled
	case s.NeedsReauthorization:
		return StatusNeedsReauthorization
	}
	return StatusActive
}

// HasSecrets reports whether credentials other than "none" are stored.
func (s State) HasSecrets() bool { return HasSecrets(s.Credentials) }

// HasSecrets reports whether credentials carry anything to send.
func HasSecrets(c Credentials) bool { return c.Type != "" && c.Type != CredentialTypeNone }

// Authorized reports whether an authorization-code connection holds tokens.
func (s State) Authorized() bool {
	return s.Credentials.Sealed[sealedAccessToken] != "" || s.Credentials.Sealed[sealedRefreshToken] != ""
}

// GuardBaseURLChange refuses moving a connection with stored credentials
// to another origin unless an ADMIN asks and re-enters the credentials:
// otherwise an edit would send them to a new host.
func (s State) GuardBaseURLChange(newBaseURL string, withCredentials, byAdmin bool) error {
	if !s.HasSecrets() || SameOrigin(s.BaseURL, newBaseURL) {
		return nil
	}
	if !byAdmin {
		return ErrBaseURLChangeNeedsAdmin
	}
	if !withCredentials {
		return ErrCredentialsRequired
	}
	return nil
}

// Command is one of the connection commands below.
type Command interface{ isConnectionCommand() }

// Register records a new connection with its imported document, catalogue
// and, when given, credentials.
type Register struct {
	ConnectionID string
	Name         string
	BaseURL      string
	DocumentURL  string
	Document     DocumentImported
	Endpoints    EndpointsDiscovered
	Credentials  *Credentials
}

// Update changes the name, base URL or credentials (nil: unchanged).
// ByAdmin says whether an ADMIN asks (see GuardBaseURLChange).
type Update struct {
	Name        *string
	BaseURL     *string
	Credentials *Credentials
	ByAdmin     bool
}

// ImportDocument records a re-imported document and its catalogue diff.
// Base is the catalogue hash the diff was computed against.
type ImportDocument struct {
	Base      string
	Document  DocumentImported
	Endpoints EndpointsDiscovered
}

// RecordTest records a test call's outcome and, when the provider refused
// the credentials, that the connection needs re-authorisation.
type RecordTest struct {
	Result          Tested
	Reauthorization *ReauthorizationRequired
}

// RecordTokens records OAuth tokens from a completed authorisation.
type RecordTokens struct {
	Tokens OAuthTokensRefreshed
}

// Disable stops the connection from being used.
type Disable struct{ Reason string }

// Enable lets a disabled connection be used again.
type Enable struct{}

// Delete deletes the connection.
type Delete struct{}

func (Register) isConnectionCommand()       {}
func (Update) isConnectionCommand()         {}
func (ImportDocument) isConnectionCommand() {}
func (RecordTest) isConnectionCommand()     {}
func (RecordTokens) isConnectionCommand()   {}
func (Disable) isConnectionCommand()        {}
func (Enable) isConnectionCommand()         {}
func (Delete) isConnectionCommand()         {}

// ErrConcurrentImport means another import changed the catalogue since
// the diff was computed; the caller imports again.
var ErrConcurrentImport = domain.NewError(domain.ErrConflict, "concurrent_import",
	"the connection's document changed concurrently; retry the request")

// Decide returns the events a command produces in state s.
func Decide(s State, cmd Command) ([]domain.Event, error) {
	switch c := cmd.(type) {
	case Register:
		return decideRegister(s, c)
	case Update:
		return decideUpdate(s, c)
	case ImportDocument:
		if !s.Live() {
			return nil, ErrNotFound
		}
		if c.Base != s.CatalogueHash {
			return nil, ErrConcurrentImport
		}
		if err := checkImport(c.Document, c.Endpoints); err != nil {
			return nil, err
		}
		return []domain.Event{c.Document, c.Endpoints}, nil
	case RecordTest:
		if !s.Live() {
			return nil, ErrNotFound
		}
		if s.Disabled {
			return nil, ErrDisabled
		}
		out := []domain.Event{c.Result}
		if c.Reauthorization != nil && !s.NeedsReauthorization {
			out = append(out, *c.Reauthorization)
		}
		return out, nil
	case RecordTokens:
		if !s.Live() {
			return nil, ErrNotFound
		}
		if s.Credentials.Type != CredentialTypeOAuth2AuthorizationCode {
			return nil, ErrNotAuthorizationCode
		}
		if len(c.Tokens.Sealed) == 0 {
			return nil, domain.Invalid("tokens", "tokens_required", "the authorisation issued no tokens")
		}
		return []domain.Event{c.Tokens}, nil
	case Disable:
		if !s.Live() {
			return nil, ErrNotFound
		}
		if s.Disabled {
			return nil, nil
		}
		return []domain.Event{Disabled(c)}, nil
	case Enable:
		if !s.Live() {
			return nil, ErrNotFound
		}
		if !s.Disabled {
			return nil, nil
		}
		return []domain.Event{Enabled{}}, nil
	case Delete:
		if !s.Live() {
			return nil, ErrNotFound
		}
		return []domain.Event{Deleted{}}, nil
	}
	return nil, domain.Invalid("", "unknown_command", "unknown connection command")
}

func decideRegister(s State, c Register) ([]domain.Event, error) {
	if s.Exists {
		return nil, ErrAlreadyExists
	}
	if c.ConnectionID == "" {
		return nil, domain.Invalid("", "missing_id", "the connection id is required")
	}
	name, err := ValidateName(c.Name)
	if err != nil {
		return nil, err
	}
	base, err := ValidateBaseURL(c.BaseURL)
	if err != nil {
		return nil, err
	}
	if err := checkImport(c.Document, c.Endpoints); err != nil {
		return nil, err
	}
	out := []domain.Event{
		Registered{ConnectionID: c.ConnectionID, Name: name, BaseURL: base, DocumentURL: c.DocumentURL},
		c.Document, c.Endpoints,
	}
	if c.Credentials != nil {
		if c.Credentials.Type == "" {
			return nil, domain.Invalid("auth.type", "invalid_auth_type", "the credentials' type is required")
		}
		out = append(out, CredentialsSet{Credentials: *c.Credentials})
	}
	return out, nil
}

func checkImport(doc DocumentImported, eps EndpointsDiscovered) error {
	if doc.DocumentHash == "" || eps.CatalogueHash == "" || eps.DocumentHash != doc.DocumentHash {
		return domain.Invalid("document", "invalid_import", "an import needs the document and catalogue hashes")
	}
	return nil
}

func decideUpdate(s State, c Update) ([]domain.Event, error) {
	if !s.Live() {
		return nil, ErrNotFound
	}
	var ev Updated
	changed := false
	if c.Name != nil {
		name, err := ValidateName(*c.Name)
		if err != nil {
			return nil, err
		}
		if name != s.Name {
			ev.Name, changed = &name, true
		}
	}
	moved := false
	if c.BaseURL != nil {
		base, err := ValidateBaseURL(*c.BaseURL)
		if err != nil {
			return nil, err
		}
		if err := s.GuardBaseURLChange(base, c.Credentials != nil, c.ByAdmin); err != nil {
			return nil, err
		}
		if base != s.BaseURL {
			ev.BaseURL, changed = &base, true
			moved = !SameOrigin(s.BaseURL, base)
		}
	}
	var out []domain.Event
	if changed {
		out = append(out, ev)
	}
	if c.Credentials != nil {
		if c.Credentials.Type == "" {
			return nil, domain.Invalid("auth.type", "invalid_auth_type", "the credentials' type is required")
		}
		if s.Credentials.Type == "" || moved {
			out = append(out, CredentialsSet{Credentials: *c.Credentials})
		} else {
			out = append(out, CredentialsRotated{Credentials: *c.Credentials})
		}
	}
	return out, nil
}

// Evolve folds one event into the state without changing s.
func Evolve(s State, ev domain.Event) State {
	switch e := ev.(type) {
	case Registered:
		return State{Exists: true, ID: e.ConnectionID, Name: e.Name, BaseURL: e.BaseURL, DocumentURL: e.DocumentURL}
	case Updated:
		if e.Name != nil {
			s.Name = *e.Name
		}
		if e.BaseURL != nil {
			s.BaseURL = *e.BaseURL
		}
	case DocumentImported:
		s.DocumentHash = e.DocumentHash
		s.OperationCount = e.OperationCount
	case EndpointsDiscovered:
		s.CatalogueHash = e.CatalogueHash
		s.OperationCount = e.OperationCount
	case CredentialsSet:
		s.Credentials = cloneCredentials(e.Credentials)
		s.NeedsReauthorization = false
	case CredentialsRotated:
		s.Credentials = cloneCredentials(e.Credentials)
		s.NeedsReauthorization = false
	case OAuthTokensRefreshed:
		c := cloneCredentials(s.Credentials)
		if c.Sealed == nil {
			c.Sealed = map[string]string{}
		}
		maps.Copy(c.Sealed, e.Sealed)
		c.KeyID = e.KeyID
		c.ExpiresAt = e.ExpiresAt
		s.Credentials = c
		s.NeedsReauthorization = false
	case ReauthorizationRequired:
		s.NeedsReauthorization = true
	case Disabled:
		s.Disabled = true
	case Enabled:
		s.Disabled = false
	case Deleted:
		s.Deleted = true
	}
	return s
}

func cloneCredentials(c Credentials) Credentials {
	c.Public = maps.Clone(c.Public)
	c.Sealed = maps.Clone(c.Sealed)
	if c.ExpiresAt != nil {
		at := *c.ExpiresAt
		c.ExpiresAt = &at
	}
	return c
}

// ValidateName checks a connection's display name and returns it trimmed.
func ValidateName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 200 {
		return "", domain.Invalid("name", "invalid_name", "name must have 1 to 200 characters")
	}
	return name, nil
}

// MaxBaseURLLength bounds a base URL.
const MaxBaseURLLength = 2048

// ValidateBaseURL checks that a base URL is an absolute http(s) URL
// without user info, query or fragment, and returns it without a trailing
// slash, so that operation paths append to it.
func ValidateBaseURL(raw string) (string, error) {
	bad := domain.Invalid("base_url", "invalid_base_url",
		"base_url must be an absolute http or https URL without credentials, query or fragment")
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", domain.Invalid("base_url", "base_url_required",
			"base_url is required: the document names no absolute server URL")
	}
	if len(raw) > MaxBaseURLLength {
		return "", bad
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" ||
		u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return "", bad
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	return strings.TrimRight(u.String(), "/"), nil
}

// SameOrigin reports whether two base URLs share scheme, host and port:
// credentials stored for one may be sent to the other.
func SameOrigin(a, b string) bool {
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	if errA != nil || errB != nil {
		return false
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(hostPort(ua), hostPort(ub))
}

// hostPort is the URL's host with its scheme's default port made explicit.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	return strings.ToLower(u.Hostname()) + ":" + port
}
