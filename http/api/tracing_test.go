package api

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestTracingContinuesW3CTraceContext checks that a server span is
// recorded per request, as a child of the client's traceparent.
func TestTracingContinuesW3CTraceContext(t *testing.T) {
	t.Parallel()
	recorder := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder))
	h := newHarness(t, func(_ *Config, d *Deps) { d.TracerProvider = tp })

	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	rec := h.do("GET", "/v1/users/alice", "", with(asAdmin, "traceparent", "00-"+traceID+"-"+parentID+"-01")...)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

	spans := recorder.Ended()
	require.Len(t, spans, 1)
	span := spans[0]
	assert.Equal(t, traceID, span.SpanContext().TraceID().String())
	assert.Equal(t, parentID, span.Parent().SpanID().String())
	assert.Contains(t, span.Name(), "/v1/users/:id", "spans are named by route pattern")
	for _, attr := range span.Attributes() {
		assert.NotContains(t, attr.Value.String(), "token-admin", "credentials stay out of traces")
	}
}
