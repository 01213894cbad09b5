package projections

import (
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the projection runner's Prometheus metrics, labelled by projector.
type Metrics struct {
	lag           *prometheus.GaugeVec
	applied       *prometheus.CounterVec
	handlerErrors *prometheus.CounterVec
	commitSeconds *prometheus.HistogramVec
	stalled       *prometheus.GaugeVec
}

// NewMetrics creates the metrics and registers them with reg (a private
// registry when reg is nil, so nothing global is touched).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	labels := []string{"projector"}
	m := &Metrics{
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "apiq", Subsystem: "projection", Name: "lag_events",
			Help: "Events in the feed after the projector's checkpoint (counted exactly up to a cap, sampled periodically).",
		}, labels),
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "apiq", Subsystem: "projection", Name: "events_applied_total",
			Help: "Events whose application was committed with the projector's checkpoint (handled or ignored).",
		}, labels),
		handlerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "apiq", Subsystem: "projection", Name: "handler_errors_total",
			Help: "Failed handler attempts (errors and recovered panics).",
		}, labels),
		commitSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "apiq", Subsystem: "projection", Name: "batch_commit_seconds",
			Help:    "Duration of a projector batch transaction, from BEGIN to COMMIT.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, labels),
		stalled: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "apiq", Subsystem: "projection", Name: "stalled",
			Help: "1 while the projector is stalled on an event it fails to apply, else 0.",
		}, labels),
	}
	var err error
	if m.lag, err = register(reg, m.lag); err != nil {
		return nil, err
	}
	if m.applied, err = register(reg, m.applied); err != nil {
		return nil, err
	}
	if m.handlerErrors, err = register(reg, m.handlerErrors); err != nil {
		return nil, err
	}
	if m.commitSeconds, err = register(reg, m.commitSeconds); err != nil {
		return nil, err
	}
	if m.stalled, err = register(reg, m.stalled); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the identical collector registered
// before (a runner re-created on the same registry keeps its series).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) {
		if existing, ok := already.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("register projection metrics: %w", err)
}

// track makes every series of projector name exist from the start, so
// dashboards and alerts see zeros rather than gaps.
func (m *Metrics) track(name string) {
	if m == nil {
		return
	}
	m.lag.WithLabelValues(name)
	m.applied.WithLabelValues(name)
	m.handlerErrors.WithLabelValues(name)
	m.commitSeconds.WithLabelValues(name)
	m.stalled.WithLabelValues(name)
}

func (m *Metrics) committed(name string, events int, took time.Duration) {
	if m == nil {
		return
	}
	m.applied.WithLabelValues(name).Add(float64(events))
	m.commitSeconds.WithLabelValues(name).Observe(took.Seconds())
}

func (m *Metrics) setStalled(name string, stalled bool) {
	if m == nil {
		return
	}
	v := 0.0
	if stalled {
		v = 1
	}
	m.stalled.WithLabelValues(name).Set(v)
}

func (m *Metrics) setLag(name string, lag int64) {
	if m == nil {
		return
	}
	m.lag.WithLabelValues(name).Set(float64(lag))
}

// countHandlerErrors is router middleware counting failed attempts per
// handler (the router names each handler after its projector).
func (m *Metrics) countHandlerErrors(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		out, err := h(msg)
		if err != nil && m != nil {
			m.handlerErrors.WithLabelValues(message.HandlerNameFromCtx(msg.Context())).Inc()
		}
		return out, err
	}
}
