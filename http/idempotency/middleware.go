package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/apiq/apiq/http/apierror"
)

// Header is the request header carrying the client's key.
const Header = "Idempotency-Key"

// ReplayedHeader marks a response replayed from an earlier request.
const ReplayedHeader = "Idempotent-Replayed"

const commandRequestIDKey = "apiq.command_request_id"

// ScopeFunc returns the tenant and actor a request acts as (set by the
// authentication middleware that runs first).
type ScopeFunc func(c *gin.Context) (tenantID, actor string)

// MiddlewareConfig tunes Middleware.
type MiddlewareConfig struct {
	Scope ScopeFunc
	// InFlightWait bounds how long a duplicate waits for the first request
	// to finish before answering 409 idempotency_request_in_progress.
	InFlightWait time.Duration
	// PollInterval is how often a waiting duplicate looks again.
	PollInterval time.Duration
	Logger       *slog.Logger
}

// Validate reports every problem of the configuration.
func (cfg MiddlewareConfig) Validate() error {
	var errs []error
	if cfg.Scope == nil {
		errs = append(errs, errors.New("idempotency: Scope is required"))
	}
	if cfg.InFlightWait < 0 {
		errs = append(errs, errors.New("idempotency: InFlightWait must not be negative"))
	}
	if cfg.PollInterval <= 0 {
		errs = append(errs, errors.New("idempotency: PollInterval must be positive"))
	}
	if cfg.Logger == nil {
		errs = append(errs, errors.New("idempotency: Logger is required"))
	}
	return errors.Join(errs...)
}

// Middleware runs a request with an Idempotency-Key at most once per
// (tenant, actor, key): the first executes and its response is stored;
// a retry with the same route and body gets the stored response; the same
// key with another route or body gets 422 idempotency_key_reused; a
// duplicate arriving while the first runs waits for it. Responses with a
// 5xx status are not stored, so the request can be retried. Requests
// without the header pass through.
func (s *Store) Middleware(cfg MiddlewareConfig) (gin.HandlerFunc, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return func(c *gin.Context) {
		key := c.GetHeader(Header)
		if key == "" {
			c.Next()
			return
		}
		tenantID, actor := cfg.Scope(c)
		scope := Scope{TenantID: tenantID, Actor: actor, Key: key}
		hash, err := requestHash(c)
		if err != nil {
			apierror.Abort(c, apierror.New(http.StatusBadRequest, apierror.CodeValidationFailed,
				"could not read the request body").Wrap(err))
			return
		}
		ctx := c.Request.Context()
		deadline := time.Now().Add(cfg.InFlightWait)
		for {
			result, resp, err := s.Claim(ctx, scope, hash)
			if err != nil {
				apierror.Abort(c, apierror.New(http.StatusInternalServerError, apierror.CodeInternal, "internal error").Wrap(err))
				return
			}
			switch result {
			case Acquired:
				c.Set(commandRequestIDKey, CommandRequestID(scope))
				s.execute(c, scope, hash, cfg.Logger)
				return
			case Completed:
				c.Header(ReplayedHeader, "true")
				c.Data(resp.Status, resp.ContentType, resp.Body)
				c.Abort()
				return
			case Mismatch:
				apierror.Abort(c, apierror.New(http.StatusUnprocessableEntity, apierror.CodeIdempotencyKeyReused,
					"this Idempotency-Key was used for a different request"))
				return
			}
			if time.Now().After(deadline) {
				apierror.Abort(c, apierror.New(http.StatusConflict, apierror.CodeIdempotencyInFlight,
					"a request with this Idempotency-Key is still in progress; retry later"))
				return
			}
			select {
			case <-ctx.Done():
				apierror.Abort(c, apierror.New(http.StatusServiceUnavailable, apierror.CodeUnavailable,
					"request cancelled").Wrap(ctx.Err()))
				return
			case <-time.After(cfg.PollInterval):
			}
		}
	}, nil
}

// execute runs the rest of the chain, capturing the response to store it.
func (s *Store) execute(c *gin.Context, scope Scope, hash []byte, logger *slog.Logger) {
	rec := &recorder{ResponseWriter: c.Writer}
	c.Writer = rec
	c.Next()
	// Store even if the client went away: a retry must see this result.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 5*time.Second)
	defer cancel()
	status := rec.Status()
	var err error
	if status >= 500 {
		err = s.Release(ctx, scope)
	} else {
		err = s.Complete(ctx, scope, hash, Response{Status: status, ContentType: rec.Header().Get("Content-Type"), Body: rec.body.Bytes()})
	}
	if err != nil {
		logger.ErrorContext(ctx, "store idempotent response", slog.String("error", err.Error()))
	}
}

// CommandRequestIDFrom returns the request id commands should use for a
// request that acquired an Idempotency-Key, so a retried request derives the
// same event ids.
func CommandRequestIDFrom(c *gin.Context) (string, bool) {
	id := c.GetString(commandRequestIDKey)
	return id, id != ""
}

// CommandRequestID derives a request id from a key's scope: deterministic,
// and distinct for different actors or tenants using the same key.
func CommandRequestID(scope Scope) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d:%s|%d:%s|%s", len(scope.TenantID), scope.TenantID, len(scope.Actor), scope.Actor, scope.Key)
	return "idem-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// requestHash fingerprints method, route and body, restoring the body for
// the handler.
func requestHash(c *gin.Context) ([]byte, error) {
	var body []byte
	if c.Request.Body != nil {
		var err error
		body, err = io.ReadAll(c.Request.Body)
		if err != nil {
			return nil, err
		}
		c.Request.Body = io.NopCloser(bytes.NewReader(body))
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", c.Request.Method, c.Request.URL.Path)
	h.Write(body)
	return h.Sum(nil), nil
}

// recorder tees the response body into a buffer.
type recorder struct {
	gin.ResponseWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) WriteString(s string) (int, error) {
	r.body.WriteString(s)
	return r.ResponseWriter.WriteString(s)
}
