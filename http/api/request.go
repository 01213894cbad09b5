package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/http/apierror"
	"github.com/apiq/apiq/http/auth"
	"github.com/apiq/apiq/http/idempotency"
	"github.com/apiq/apiq/http/telemetry"
)

const defaultPollInterval = 25 * time.Millisecond

// metadata is the event envelope for a command issued by this request.
// The command's request id is derived from the Idempotency-Key when there
// is one (a retry appends the same event ids), and fresh otherwise; a
// client-chosen X-Request-ID only correlates, it never deduplicates.
func (s *server) metadata(c *gin.Context) eventstore.Metadata {
	p, _ := auth.PrincipalFrom(c)
	requestID, ok := idempotency.CommandRequestIDFrom(c)
	if !ok {
		requestID = newCommandRequestID()
	}
	return eventstore.Metadata{
		TenantID:      p.TenantID,
		Actor:         p.Actor(),
		CorrelationID: telemetry.RequestIDFrom(c),
		RequestID:     requestID,
		ClientIP:      c.ClientIP(),
		UserAgent:     c.Request.UserAgent(),
		OccurredAt:    time.Now().UTC(),
	}
}

func newCommandRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return "req-" + hex.EncodeToString(b[:])
}

// decode reads the (already validated) JSON body into v, refusing unknown
// fields as a second line of defence behind the document's schemas.
func decode(c *gin.Context, v any) bool {
	body, err := io.ReadAll(c.Request.Body)
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		err = dec.Decode(v)
	}
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			apierror.Abort(c, apierror.ErrPayloadTooLarge)
			return false
		}
		apierror.Abort(c, apierror.New(http.StatusBadRequest, apierror.CodeValidationFailed, "invalid request body").
			WithDetails([]map[string]string{{"in": "body", "message": err.Error()}}))
		return false
	}
	return true
}

// fail maps err to the error body.
func (s *server) fail(c *gin.Context, err error) {
	apierror.Abort(c, s.errs.Map(err))
}

// awaitMinPosition waits, when the query names min_position, until the
// read models include it, answering 504 projection_timeout after the bound.
func (s *server) awaitMinPosition(c *gin.Context) {
	raw := c.Query("min_position")
	if raw == "" {
		c.Next()
		return
	}
	pos, err := eventstore.ParsePosition(raw)
	if err != nil {
		apierror.Abort(c, apierror.New(http.StatusBadRequest, apierror.CodeValidationFailed, "the request does not match the API description").
			WithDetails([]map[string]string{{"in": "query", "field": "min_position", "message": "not a position token"}}))
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.ReadYourWritesTimeout)
	defer cancel()
	if err := s.deps.Positions.WaitForPosition(ctx, pos); err != nil {
		if ctx.Err() != nil && c.Request.Context().Err() == nil {
			apierror.Abort(c, apierror.ErrProjectionWait.Wrap(fmt.Errorf("wait for %s: %w", raw, err)))
			return
		}
		s.fail(c, fmt.Errorf("wait for %s: %w", raw, err))
		return
	}
	c.Next()
}

// commandResult is the body of command responses without other content.
type commandResult struct {
	Position string `json:"position"`
}
