package security

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// ThrottleConfig bounds failed logins: per account (the email) and per
// client address, each within Window.
type ThrottleConfig struct {
	AccountFailures int
	AddressFailures int
	Window          time.Duration
}

// DefaultThrottleConfig allows 5 failures per account and 20 per address
// in 15 minutes.
func DefaultThrottleConfig() ThrottleConfig {
	return ThrottleConfig{AccountFailures: 5, AddressFailures: 20, Window: 15 * time.Minute}
}

// Validate reports every problem of the configuration.
func (c ThrottleConfig) Validate() error {
	var errs []error
	if c.AccountFailures <= 0 {
		errs = append(errs, errors.New("security: AccountFailures must be positive"))
	}
	if c.AddressFailures <= 0 {
		errs = append(errs, errors.New("security: AddressFailures must be positive"))
	}
	if c.Window <= 0 {
		errs = append(errs, errors.New("security: Window must be positive"))
	}
	return errors.Join(errs...)
}

// LoginThrottle counts failed logins and refuses further attempts on an
// account or from an address that failed too often, until its window ends.
type LoginThrottle struct {
	cfg  ThrottleConfig
	now  func() time.Time
	mu   sync.Mutex
	seen map[string]*failures
}

type failures struct {
	count int
	since time.Time
}

// NewLoginThrottle returns a LoginThrottle; now is the clock (time.Now
// when nil).
func NewLoginThrottle(cfg ThrottleConfig, now func() time.Time) (*LoginThrottle, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &LoginThrottle{cfg: cfg, now: now, seen: map[string]*failures{}}, nil
}

// blocked returns how long key stays blocked (0 when it is not).
func (t *LoginThrottle) blocked(key string, limit int, now time.Time) time.Duration {
	f, ok := t.seen[key]
	if !ok {
		return 0
	}
	if end := f.since.Add(t.cfg.Window); !now.Before(end) {
		delete(t.seen, key)
		return 0
	} else if f.count >= limit {
		return end.Sub(now)
	}
	return 0
}

// Check returns the scope ("account" or "address") and the wait when an
// attempt for account from address must be refused now.
func (t *LoginThrottle) Check(account, address string) (string, time.Duration) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if wait := t.blocked("account:"+account, t.cfg.AccountFailures, now); account != "" && wait > 0 {
		return "login_account", wait
	}
	if wait := t.blocked("address:"+address, t.cfg.AddressFailures, now); wait > 0 {
		return "login_address", wait
	}
	return "", 0
}

// Failed records a failed attempt.
func (t *LoginThrottle) Failed(account, address string) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, key := range []string{"account:" + account, "address:" + address} {
		if key == "account:" {
			continue
		}
		f, ok := t.seen[key]
		if !ok || !now.Before(f.since.Add(t.cfg.Window)) {
			f = &failures{since: now}
			t.seen[key] = f
		}
		f.count++
	}
}

// Succeeded clears an account's failures.
func (t *LoginThrottle) Succeeded(account string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.seen, "account:"+account)
}

// Middleware throttles a login route whose JSON body carries "email": it
// refuses with 429 while the account or the client address is blocked,
// counts 401 answers as failures and clears the account on success.
func (t *LoginThrottle) Middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		account := loginAccount(c)
		address := c.ClientIP()
		if scope, wait := t.Check(account, address); wait > 0 {
			AbortTooManyRequests(c, scope, wait, "too many failed logins; try again later")
			return
		}
		c.Next()
		switch status := c.Writer.Status(); {
		case status == http.StatusUnauthorized:
			t.Failed(account, address)
		case status >= 200 && status < 400:
			t.Succeeded(account)
		}
	}
}

// loginAccount reads the email of a JSON login body and puts the body back.
func loginAccount(c *gin.Context) string {
	if c.Request.Body == nil {
		return ""
	}
	raw, err := io.ReadAll(c.Request.Body)
	c.Request.Body = io.NopCloser(io.MultiReader(bytes.NewReader(raw), errReader{err}))
	if err != nil {
		return ""
	}
	var body struct {
		Email string `json:"email"`
	}
	if json.Unmarshal(raw, &body) != nil {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(body.Email))
}

// errReader replays a read error after the bytes read before it.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	return 0, io.EOF
}
