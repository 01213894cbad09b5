// Package telemetry holds the HTTP layer's observability: request ids,
// structured access logs, Prometheus metrics and OpenTelemetry traces.
package telemetry

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/gin-gonic/gin"
)

// RequestIDHeader carries the request id in requests and responses.
const RequestIDHeader = "X-Request-ID"

const requestIDKey = "apiq.request_id"

// maxRequestIDLength bounds client-chosen ids, which end up in logs and events.
const maxRequestIDLength = 128

// RequestID honours a well-formed X-Request-ID from the client or generates
// one, stores it for handlers (RequestIDFrom) and echoes it in the response.
func RequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(RequestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		c.Set(requestIDKey, id)
		c.Header(RequestIDHeader, id)
		c.Next()
	}
}

// RequestIDFrom returns the request id RequestID assigned.
func RequestIDFrom(c *gin.Context) string { return c.GetString(requestIDKey) }

func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.' || b == ':') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
