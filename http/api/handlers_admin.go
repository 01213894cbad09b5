package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/apiq/apiq/http/apierror"
	"github.com/apiq/apiq/http/auth"
)

// TokenQueries reads the API tokens read model, scoped to a tenant.
type TokenQueries interface {
	// ListTokens returns every token of the tenant (revoked and expired
	// ones included), oldest first; never a secret or its hash.
	ListTokens(ctx context.Context, tenantID string) ([]Token, error)
}

// Token is an API token as the API shows it.
type Token struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	UserID    string     `json:"user_id"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Revoked   bool       `json:"revoked"`
}

// KeyStatus reports the state of the master keys, never their material.
type KeyStatus interface {
	KeyStatus(ctx context.Context, tenantID string) (KeyRotationStatus, error)
}

// KeyRotationStatus is the body of GET /v1/keys.
type KeyRotationStatus struct {
	// ActiveKEK is the id of the master key new data keys are wrapped under.
	ActiveKEK string `json:"active_kek"`
	// KEKs are the master keys of the keyring, the active one included,
	// and any KEK that still wraps data keys of the tenant.
	KEKs []KEKUsage `json:"keks"`
	// RotationComplete says no live data key of the tenant is wrapped
	// under another KEK than the active one.
	RotationComplete bool `json:"rotation_complete"`
}

// KEKUsage is how many of the tenant's live data keys a KEK wraps.
type KEKUsage struct {
	ID       string `json:"id"`
	Active   bool   `json:"active"`
	InRing   bool   `json:"in_keyring"`
	DataKeys int    `json:"data_keys"`
}

var (
	tokensUnavailable = apierror.New(http.StatusNotFound, apierror.CodeNotFound, "token listing is not configured")
	keysUnavailable   = apierror.New(http.StatusNotFound, apierror.CodeNotFound, "key status is not configured")
)

func (s *server) listTokens(c *gin.Context) {
	if s.deps.TokenQueries == nil {
		apierror.Abort(c, tokensUnavailable)
		return
	}
	p, _ := auth.PrincipalFrom(c)
	tokens, err := s.deps.TokenQueries.ListTokens(c.Request.Context(), p.TenantID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if tokens == nil {
		tokens = []Token{}
	}
	c.JSON(http.StatusOK, gin.H{"tokens": tokens})
}

func (s *server) keyStatus(c *gin.Context) {
	if s.deps.Keys == nil {
		apierror.Abort(c, keysUnavailable)
		return
	}
	p, _ := auth.PrincipalFrom(c)
	st, err := s.deps.Keys.KeyStatus(c.Request.Context(), p.TenantID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if st.KEKs == nil {
		st.KEKs = []KEKUsage{}
	}
	c.JSON(http.StatusOK, st)
}
