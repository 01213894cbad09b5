package security

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/apiq/apiq/adapters/quota"
	"github.com/apiq/apiq/http/apierror"
)

// QuotaMiddleware consumes one unit of kind for key(c) (a tenant) per
// request, with RateLimit-* headers, and refuses with 429 once the quota
// is spent; an empty key is not counted.
func QuotaMiddleware(q quota.Quotas, kind quota.Kind, key func(*gin.Context) string) gin.HandlerFunc {
	return func(c *gin.Context) {
		k := key(c)
		if k == "" {
			c.Next()
			return
		}
		u, err := q.Consume(c.Request.Context(), k, kind, 1)
		if err != nil && !errors.Is(err, quota.ErrExceeded) {
			apierror.Abort(c, apierror.New(http.StatusInternalServerError, apierror.CodeInternal, "internal error").Wrap(err))
			return
		}
		reset := time.Until(u.Reset)
		SetRateLimitHeaders(c, int(u.Limit), int(u.Remaining), reset)
		if err != nil {
			AbortTooManyRequests(c, string(kind), reset, string(kind)+" quota exceeded")
			return
		}
		c.Next()
	}
}
