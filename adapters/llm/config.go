package llm

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Environment variables the composition root reads into a Config.
const (
	EnvBaseURL = "APIQ_LLM_BASE_URL"
	EnvAPIKey  = "APIQ_LLM_API_KEY"
	EnvModel   = "APIQ_LLM_MODEL"
)

// Defaults of Config.
const (
	// DefaultBaseURL is OpenAI's API, used when only a model is configured.
	DefaultBaseURL        = "https://api.openai.com/v1"
	DefaultTimeout        = 60 * time.Second
	DefaultMaxAttempts    = 4
	DefaultInitialBackoff = 500 * time.Millisecond
	DefaultMaxBackoff     = 8 * time.Second
	DefaultMaxRetryAfter  = 30 * time.Second
)

// Config says which OpenAI-compatible endpoint plans are made with
// (OpenAI, Azure OpenAI's v1 API, Ollama, vLLM...). The zero Config is "not
// configured", a valid state: Configured reports it, and planning then
// answers without a model.
type Config struct {
	// BaseURL is the API root, e.g. "http://localhost:11434/v1" for Ollama
	// (default DefaultBaseURL).
	BaseURL string
	// APIKey is sent as a bearer token; empty sends none (local servers).
	APIKey string
	// Model names the model, e.g. "gpt-4o-mini" or "llama3.1".
	Model string
	// Timeout bounds one Complete call, retries and waits included
	// (default DefaultTimeout).
	Timeout time.Duration
	// MaxAttempts bounds the attempts of one call (default DefaultMaxAttempts).
	MaxAttempts int
	// InitialBackoff and MaxBackoff shape the exponential, jittered wait
	// between attempts when the server gives no Retry-After.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// MaxRetryAfter is the longest Retry-After the client waits; a longer
	// one ends the call with ErrRateLimited (default DefaultMaxRetryAfter).
	MaxRetryAfter time.Duration
	// HTTPClient sends the requests (default: a plain http.Client).
	HTTPClient *http.Client
	// Logger receives retry and failure records, never prompts or keys
	// (default: slog.Default()).
	Logger *slog.Logger
}

// ConfigFromEnv reads APIQ_LLM_BASE_URL, APIQ_LLM_API_KEY and
// APIQ_LLM_MODEL through getenv (os.Getenv in production).
func ConfigFromEnv(getenv func(string) string) Config {
	return Config{BaseURL: getenv(EnvBaseURL), APIKey: getenv(EnvAPIKey), Model: getenv(EnvModel)}
}

// Configured reports whether any of base URL, key or model is set; when
// none is, there is no LLM and that is not an error.
func (c Config) Configured() bool {
	return c.BaseURL != "" || c.APIKey != "" || c.Model != ""
}

func (c *Config) setDefaults() {
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.InitialBackoff == 0 {
		c.InitialBackoff = DefaultInitialBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.MaxRetryAfter == 0 {
		c.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports every problem of a configured Config (an unconfigured
// one is valid). Messages never contain the key.
func (c Config) Validate() error {
	if !c.Configured() {
		return nil
	}
	var errs []error
	if c.Model == "" {
		errs = append(errs, fmt.Errorf("%s is required when %s or %s is set", EnvModel, EnvBaseURL, EnvAPIKey))
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s is not a URL", EnvBaseURL))
		case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
			errs = append(errs, fmt.Errorf("%s must be an absolute http(s) URL", EnvBaseURL))
		case u.User != nil:
			errs = append(errs, fmt.Errorf("%s must not carry credentials; use %s", EnvBaseURL, EnvAPIKey))
		}
	}
	for _, d := range []struct {
		name  string
		value time.Duration
	}{{"Timeout", c.Timeout}, {"InitialBackoff", c.InitialBackoff}, {"MaxBackoff", c.MaxBackoff}, {"MaxRetryAfter", c.MaxRetryAfter}} {
		if d.value < 0 {
			errs = append(errs, fmt.Errorf("%s %s is negative", d.name, d.value))
		}
	}
	if c.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("MaxAttempts %d is negative", c.MaxAttempts))
	}
	return errors.Join(errs...)
}

// String describes the configuration without the key.
func (c Config) String() string {
	if !c.Configured() {
		return "llm: not configured"
	}
	key := "no key"
	if c.APIKey != "" {
		key = "key set"
	}
	return fmt.Sprintf("llm: model %s at %s (%s)", c.Model, displayURL(c.BaseURL), key)
}

// displayURL shows a base URL without user info, query or fragment (where
// some deployments put keys).
func displayURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// GoString keeps %#v from printing the key.
func (c Config) GoString() string { return c.String() }

// LogValue logs the configuration without the key.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("model", c.Model), slog.String("base_url", displayURL(c.BaseURL)),
		slog.Bool("key_set", c.APIKey != ""), slog.Bool("configured", c.Configured()))
}
