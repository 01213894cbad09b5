// Package authtoken issues and verifies APIQ's own credentials: short-lived
// access tokens (JWTs signed with Ed25519) and opaque API tokens for machines.
package authtoken

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Issuer and Audience of every access token.
const (
	Issuer   = "apiq"
	Audience = "apiq"
)

// DefaultTTL is how long an access token lives unless configured otherwise.
const DefaultTTL = 15 * time.Minute

// Verification errors.
var (
	// ErrInvalidToken covers every token that is not accepted.
	ErrInvalidToken = errors.New("authtoken: invalid access token")
	// ErrExpired is an ErrInvalidToken whose only fault is its age.
	ErrExpired = fmt.Errorf("%w: expired", ErrInvalidToken)
)

// Claims is what an access token asserts.
type Claims struct {
	UserID     string
	TenantID   string
	Role       string
	AuthMethod string // password, api_token, sso
	// TokenID is the API token the session derives from, if any.
	TokenID string
	// Scope, when set, restricts what the token may do (e.g.
	// "totp_enrollment": only the TOTP enrolment routes).
	Scope string
	// TTL, when positive and shorter than the signer's, is the token's
	// lifetime (restricted tokens live briefly).
	TTL time.Duration
	// ID (jti), IssuedAt and ExpiresAt are set by Issue.
	ID        string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Issued is a signed access token.
type Issued struct {
	Token     string
	ID        string
	ExpiresAt time.Time
	ExpiresIn time.Duration
}

// Config configures a Signer.
type Config struct {
	Key ed25519.PrivateKey
	TTL time.Duration    // default DefaultTTL
	Now func() time.Time // default time.Now
	// Leeway tolerates clock skew when checking exp, nbf and iat (default 0).
	Leeway time.Duration
}

// Validate reports every problem of the configuration.
func (c Config) Validate() error {
	var errs []error
	if len(c.Key) != ed25519.PrivateKeySize {
		errs = append(errs, errors.New("authtoken: an Ed25519 private key is required"))
	}
	if c.TTL < 0 || c.TTL > 24*time.Hour {
		errs = append(errs, fmt.Errorf("authtoken: ttl %v outside (0, 24h]", c.TTL))
	}
	if c.Leeway < 0 || c.Leeway > 5*time.Minute {
		errs = append(errs, fmt.Errorf("authtoken: leeway %v outside [0, 5m]", c.Leeway))
	}
	return errors.Join(errs...)
}

// Signer issues and verifies access tokens.
type Signer struct {
	key    ed25519.PrivateKey
	pub    ed25519.PublicKey
	ttl    time.Duration
	now    func() time.Time
	parser *jwt.Parser
}

// NewSigner returns a signer for the configuration.
func NewSigner(cfg Config) (*Signer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Signer{key: cfg.Key, pub: cfg.Key.Public().(ed25519.PublicKey), ttl: cfg.TTL, now: cfg.Now}
	s.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
	)
	return s, nil
}

// TTL is how long issued tokens live.
func (s *Signer) TTL() time.Duration { return s.ttl }

type jwtClaims struct {
	TenantID   string `json:"tenant"`
	Role       string `json:"role"`
	AuthMethod string `json:"auth_method"`
	TokenID    string `json:"token_id,omitempty"`
	Scope      string `json:"scope,omitempty"`
	jwt.RegisteredClaims
}

// Issue signs an access token for c, valid from now for the signer's TTL.
func (s *Signer) Issue(c Claims) (Issued, error) {
	if c.UserID == "" || c.TenantID == "" || c.Role == "" || c.AuthMethod == "" {
		return Issued{}, errors.New("authtoken: issue: user, tenant, role and auth method are required")
	}
	now := s.now().UTC().Truncate(time.Second)
	ttl := s.ttl
	if c.TTL > 0 && c.TTL < ttl {
		ttl = c.TTL
	}
	exp := now.Add(ttl)
	id := uuid.NewString()
	claims := jwtClaims{
		TenantID: c.TenantID, Role: c.Role, AuthMethod: c.AuthMethod, TokenID: c.TokenID, Scope: c.Scope,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: Issuer, Subject: c.UserID, Audience: jwt.ClaimStrings{Audience},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp), ID: id,
		},
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims).SignedString(s.key)
	if err != nil {
		return Issued{}, fmt.Errorf("authtoken: sign: %w", err)
	}
	return Issued{Token: tok, ID: id, ExpiresAt: exp, ExpiresIn: ttl}, nil
}

// Verify checks an access token's signature (EdDSA with this signer's key
// only), issuer, audience and validity window, and returns its claims.
func (s *Signer) Verify(token string) (Claims, error) {
	var claims jwtClaims
	_, err := s.parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		if _, ok := t.Method.(*jwt.SigningMethodEd25519); !ok {
			return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
		}
		return s.pub, nil
	})
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return Claims{}, ErrExpired
	case err != nil:
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if claims.Subject == "" || claims.TenantID == "" || claims.Role == "" || claims.ID == "" {
		return Claims{}, fmt.Errorf("%w: missing claims", ErrInvalidToken)
	}
	return Claims{
		UserID: claims.Subject, TenantID: claims.TenantID, Role: claims.Role,
		AuthMethod: claims.AuthMethod, TokenID: claims.TokenID, Scope: claims.Scope, ID: claims.ID,
		IssuedAt: claims.IssuedAt.UTC(), ExpiresAt: claims.ExpiresAt.UTC(),
	}, nil
}
