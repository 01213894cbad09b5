package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apiq/apiq/adapters/outbound"
)

// Config is APIQ's configuration, read from APIQ_* environment variables.
type Config struct {
	HTTPAddr           string         // APIQ_HTTP_ADDR
	DatabaseURL        string         // APIQ_DATABASE_URL: the service role
	MigrateDatabaseURL string         // APIQ_MIGRATE_DATABASE_URL: the owner role, optional
	DataDir            string         // APIQ_DATA_DIR: generated keys
	BootstrapEmail     string         // APIQ_BOOTSTRAP_EMAIL
	BootstrapPassword  string         // APIQ_BOOTSTRAP_PASSWORD
	BootstrapTenant    string         // APIQ_BOOTSTRAP_TENANT: the first tenant's name
	ESDBURL            string         // APIQ_ESDB_URL: use EventStoreDB as the event store
	MasterKey          string         // APIQ_MASTER_KEY: base64 key-encryption key
	MasterKeyFile      string         // APIQ_MASTER_KEY_FILE
	LogLevel           slog.Level     // APIQ_LOG_LEVEL: debug, info, warn, error
	LogFormat          string         // APIQ_LOG_FORMAT: json or text
	AccessTokenTTL     time.Duration  // APIQ_ACCESS_TOKEN_TTL
	ShutdownTimeout    time.Duration  // APIQ_SHUTDOWN_TIMEOUT
	MaxBodyBytes       int64          // APIQ_MAX_BODY_BYTES
	ReadyMaxLag        int64          // APIQ_READY_MAX_LAG: events a projector may trail by and stay ready
	TrustedProxies     []string       // APIQ_TRUSTED_PROXIES: comma-separated CIDRs or IPs
	OTLPEndpoint       string         // OTEL_EXPORTER_OTLP_ENDPOINT: traces exported when set
	OutboundAllow      []netip.Prefix // APIQ_OUTBOUND_ALLOW: blocked ranges outbound calls may reach
	MaxDocumentBytes   int64          // APIQ_MAX_DOCUMENT_BYTES: OpenAPI document size limit
	PublicURL          string         // APIQ_PUBLIC_URL: where browsers and OAuth providers reach APIQ
	AuditSignInterval  time.Duration  // APIQ_AUDIT_SIGN_INTERVAL: how often audit chain heads are signed
	AuditRetention     time.Duration  // APIQ_AUDIT_RETENTION: audit rows (copies) kept this long; 0 keeps them forever
	ExecutionLease     time.Duration  // APIQ_EXECUTION_LEASE: how long a claim on an execution holds unrenewed
	Security           SecurityConfig // APIQ_CORS_ORIGINS, APIQ_RATE_*, APIQ_LOGIN_*, APIQ_QUOTA_*
	Planning           PlanningConfig // APIQ_LLM_BASE_URL, APIQ_LLM_API_KEY, APIQ_LLM_MODEL, APIQ_LLM_TIMEOUT
}

// Defaults of the configuration.
const (
	DefaultHTTPAddr    = "127.0.0.1:8080"
	DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/apiq?sslmode=disable"
	DefaultDataDir     = "./.apiq"
)

// envVar documents one configuration variable (the README table mirrors it).
type envVar struct {
	name, def, help string
}

// configVars lists every variable LoadConfig reads.
func configVars() []envVar {
	return append([]envVar{
		{"APIQ_HTTP_ADDR", DefaultHTTPAddr, "address the HTTP API listens on"},
		{"APIQ_DATABASE_URL", DefaultDatabaseURL, "PostgreSQL URL of the service role"},
		{"APIQ_MIGRATE_DATABASE_URL", "(APIQ_DATABASE_URL)", "PostgreSQL URL of the role owning the schema; runs migrations and grants the service role its privileges"},
		{"APIQ_DATA_DIR", DefaultDataDir, "directory of generated keys (signing key, master keyring)"},
		{"APIQ_BOOTSTRAP_EMAIL", "", "first ADMIN's email on first start [admin@apiq.local]"},
		{"APIQ_BOOTSTRAP_PASSWORD", "", "first ADMIN's password on first start (generated and printed once when unset)"},
		{"APIQ_BOOTSTRAP_TENANT", "default", "first tenant's name on first start"},
		{"APIQ_ESDB_URL", "", "EventStoreDB connection string; selects the EventStoreDB event store"},
		{"APIQ_MASTER_KEY", "", "base64 key-encryption key; wins over the keyring file"},
		{"APIQ_MASTER_KEY_FILE", "<APIQ_DATA_DIR>/master.key", "keyring file (generated when missing)"},
		{"APIQ_LOG_LEVEL", "info", "debug, info, warn or error"},
		{"APIQ_LOG_FORMAT", "json", "json or text"},
		{"APIQ_ACCESS_TOKEN_TTL", "15m", "lifetime of access tokens"},
		{"APIQ_SHUTDOWN_TIMEOUT", "20s", "how long in-flight requests may finish on shutdown"},
		{"APIQ_MAX_BODY_BYTES", "1048576", "request body limit"},
		{"APIQ_READY_MAX_LAG", "1000", "events a projector may trail the feed by while /readyz says ready"},
		{"APIQ_TRUSTED_PROXIES", "", "comma-separated proxies whose X-Forwarded-For is trusted"},
		{"APIQ_OUTBOUND_ALLOW", "", "comma-separated CIDRs or addresses outbound calls may reach although they are loopback, private, link-local or metadata (none by default)"},
		{"APIQ_MAX_DOCUMENT_BYTES", "26214400", "largest OpenAPI document a connection may import (413 beyond)"},
		{"APIQ_PUBLIC_URL", "", "APIQ's external base URL, for the OAuth callback (the request's host when unset)"},
		{"APIQ_AUDIT_SIGN_INTERVAL", "1m", "how often the head of each tenant's audit hash chain is signed (key: <APIQ_DATA_DIR>/audit-signing.key)"},
		{"APIQ_AUDIT_RETENTION", "0", "how long the audit read model keeps its rows (a Go duration such as 8760h, pruned hourly); 0 keeps them forever. Events are never deleted"},
		{"APIQ_EXECUTION_LEASE", "15s", "how long a process's claim on an execution holds without renewal; a dead process's executions resume elsewhere (or after its restart) once it lapses"},
	}, append(securityVars(), planningVars()...)...)
}

// configHelp lists the variables for `apiq --help`.
func configHelp() string {
	var b strings.Builder
	b.WriteString("Configuration (environment variables, defaults in brackets):\n")
	for _, v := range configVars() {
		def := ""
		if v.def != "" {
			def = " [" + v.def + "]"
		}
		fmt.Fprintf(&b, "  %-27s %s%s\n", v.name, v.help, def)
	}
	return b.String()
}

// LoadConfig reads the configuration from getenv (os.Getenv in main) and
// validates it, reporting every problem at once.
func LoadConfig(getenv func(string) string) (Config, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	var errs []error
	cfg := Config{
		HTTPAddr:           get("APIQ_HTTP_ADDR", DefaultHTTPAddr),
		DatabaseURL:        get("APIQ_DATABASE_URL", DefaultDatabaseURL),
		MigrateDatabaseURL: get("APIQ_MIGRATE_DATABASE_URL", ""),
		DataDir:            get("APIQ_DATA_DIR", DefaultDataDir),
		BootstrapEmail:     get("APIQ_BOOTSTRAP_EMAIL", ""),
		BootstrapPassword:  getenv("APIQ_BOOTSTRAP_PASSWORD"),
		BootstrapTenant:    get("APIQ_BOOTSTRAP_TENANT", "default"),
		ESDBURL:            get("APIQ_ESDB_URL", ""),
		MasterKey:          get("APIQ_MASTER_KEY", ""),
		LogFormat:          get("APIQ_LOG_FORMAT", "json"),
		OTLPEndpoint:       get("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
		PublicURL:          strings.TrimRight(get("APIQ_PUBLIC_URL", ""), "/"),
	}
	cfg.MasterKeyFile = get("APIQ_MASTER_KEY_FILE", filepath.Join(cfg.DataDir, "master.key"))
	if err := cfg.LogLevel.UnmarshalText([]byte(get("APIQ_LOG_LEVEL", "info"))); err != nil {
		errs = append(errs, fmt.Errorf("APIQ_LOG_LEVEL: %w", err))
	}
	var err error
	if cfg.AccessTokenTTL, err = time.ParseDuration(get("APIQ_ACCESS_TOKEN_TTL", "15m")); err != nil {
		errs = append(errs, fmt.Errorf("APIQ_ACCESS_TOKEN_TTL: %w", err))
	}
	if cfg.ShutdownTimeout, err = time.ParseDuration(get("APIQ_SHUTDOWN_TIMEOUT", "20s")); err != nil {
		errs = append(errs, fmt.Errorf("APIQ_SHUTDOWN_TIMEOUT: %w", err))
	}
	if cfg.MaxBodyBytes, err = strconv.ParseInt(get("APIQ_MAX_BODY_BYTES", "1048576"), 10, 64); err != nil {
		errs = append(errs, fmt.Errorf("APIQ_MAX_BODY_BYTES: %w", err))
	}
	if cfg.ReadyMaxLag, err = strconv.ParseInt(get("APIQ_READY_MAX_LAG", "1000"), 10, 64); err != nil {
		errs = append(errs, fmt.Errorf("APIQ_READY_MAX_LAG: %w", err))
	}
	if cfg.AuditSignInterval, err = time.ParseDuration(get("APIQ_AUDIT_SIGN_INTERVAL", "1m")); err != nil {
		errs = append(errs, fmt.Errorf("APIQ_AUDIT_SIGN_INTERVAL: %w", err))
	}
	if cfg.AuditRetention, err = time.ParseDuration(get("APIQ_AUDIT_RETENTION", "0")); err != nil {
		errs = append(errs, fmt.Errorf("APIQ_AUDIT_RETENTION: %w", err))
	}
	if cfg.ExecutionLease, err = time.ParseDuration(get("APIQ_EXECUTION_LEASE", "15s")); err != nil {
		errs = append(errs, fmt.Errorf("APIQ_EXECUTION_LEASE: %w", err))
	}
	if cfg.MaxDocumentBytes, err = strconv.ParseInt(get("APIQ_MAX_DOCUMENT_BYTES", "26214400"), 10, 64); err != nil {
		errs = append(errs, fmt.Errorf("APIQ_MAX_DOCUMENT_BYTES: %w", err))
	}
	if cfg.OutboundAllow, err = outbound.ParseAllowlist(get("APIQ_OUTBOUND_ALLOW", "")); err != nil {
		errs = append(errs, fmt.Errorf("APIQ_OUTBOUND_ALLOW: %w", err))
	}
	for _, p := range strings.Split(get("APIQ_TRUSTED_PROXIES", ""), ",") {
		if p = strings.TrimSpace(p); p != "" {
			cfg.TrustedProxies = append(cfg.TrustedProxies, p)
		}
	}
	var securityErrs []error
	cfg.Security, securityErrs = loadSecurityConfig(get)
	errs = append(errs, securityErrs...)
	var planningErrs []error
	cfg.Planning, planningErrs = loadPlanningConfig(get)
	errs = append(errs, planningErrs...)
	if err := errors.Join(append(errs, cfg.Validate())...); err != nil {
		return Config{}, fmt.Errorf("configuration: %w", err)
	}
	return cfg, nil
}

// Validate reports every problem of the configuration.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		errs = append(errs, fmt.Errorf("APIQ_HTTP_ADDR %q: %w", c.HTTPAddr, err))
	}
	if _, err := pgx.ParseConfig(c.DatabaseURL); err != nil {
		errs = append(errs, errors.New("APIQ_DATABASE_URL is not a valid PostgreSQL URL"))
	}
	if c.MigrateDatabaseURL != "" {
		if _, err := pgx.ParseConfig(c.MigrateDatabaseURL); err != nil {
			errs = append(errs, errors.New("APIQ_MIGRATE_DATABASE_URL is not a valid PostgreSQL URL"))
		}
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("APIQ_DATA_DIR must not be empty"))
	}
	if c.BootstrapEmail != "" && !strings.Contains(c.BootstrapEmail, "@") {
		errs = append(errs, errors.New("APIQ_BOOTSTRAP_EMAIL is not an email address"))
	}
	if c.BootstrapPassword != "" && len(c.BootstrapPassword) < 8 {
		errs = append(errs, errors.New("APIQ_BOOTSTRAP_PASSWORD must have at least 8 characters"))
	}
	if c.ESDBURL != "" {
		if u, err := url.Parse(c.ESDBURL); err != nil || (u.Scheme != "esdb" && u.Scheme != "esdb+discover" && u.Scheme != "kurrentdb" && u.Scheme != "kurrentdb+discover") {
			errs = append(errs, errors.New("APIQ_ESDB_URL must be an esdb:// (or esdb+discover://) connection string"))
		}
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("APIQ_LOG_FORMAT %q: want json or text", c.LogFormat))
	}
	if c.AccessTokenTTL < time.Minute || c.AccessTokenTTL > 24*time.Hour {
		errs = append(errs, fmt.Errorf("APIQ_ACCESS_TOKEN_TTL %s: want between 1m and 24h", c.AccessTokenTTL))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("APIQ_SHUTDOWN_TIMEOUT must be positive"))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, errors.New("APIQ_MAX_BODY_BYTES must be at least 1024"))
	}
	if c.ReadyMaxLag < 0 {
		errs = append(errs, errors.New("APIQ_READY_MAX_LAG must not be negative"))
	}
	if c.AuditSignInterval < time.Second {
		errs = append(errs, errors.New("APIQ_AUDIT_SIGN_INTERVAL must be at least 1s"))
	}
	if c.AuditRetention != 0 && c.AuditRetention < time.Hour {
		errs = append(errs, errors.New("APIQ_AUDIT_RETENTION must be 0 (keep forever) or at least 1h"))
	}
	if c.ExecutionLease < time.Second {
		errs = append(errs, errors.New("APIQ_EXECUTION_LEASE must be at least 1s"))
	}
	if c.MaxDocumentBytes < 1024 || c.MaxDocumentBytes > 1<<30 {
		errs = append(errs, errors.New("APIQ_MAX_DOCUMENT_BYTES must be between 1024 and 1073741824"))
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, errors.New("APIQ_PUBLIC_URL must be an absolute http or https URL"))
		}
	}
	if err := c.Planning.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ownerURL is the URL migrations run with.
func (c Config) ownerURL() string {
	if c.MigrateDatabaseURL != "" {
		return c.MigrateDatabaseURL
	}
	return c.DatabaseURL
}

// serviceRole returns the service role's name when it differs from the
// migration owner's (then the owner grants it its privileges).
func (c Config) serviceRole() (string, bool) {
	if c.MigrateDatabaseURL == "" {
		return "", false
	}
	svc, err1 := pgx.ParseConfig(c.DatabaseURL)
	owner, err2 := pgx.ParseConfig(c.MigrateDatabaseURL)
	if err1 != nil || err2 != nil || svc.User == owner.User {
		return "", false
	}
	return svc.User, true
}
