package outbound

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the outbound caller's Prometheus metrics. Labels are bounded
// (method, outcome, reason, state): keys such as connection ids are not labels.
type Metrics struct {
	attempts    *prometheus.CounterVec
	attemptTime *prometheus.HistogramVec
	retries     *prometheus.CounterVec
	refused     *prometheus.CounterVec
	breaker     *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg (a private
// registry when reg is nil, so nothing global is touched).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "apiq", Subsystem: "outbound", Name: "attempts_total",
			Help: "Outbound HTTP attempts by method and outcome (status class, timeout, network, refused).",
		}, []string{"method", "outcome"}),
		attemptTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "apiq", Subsystem: "outbound", Name: "attempt_duration_seconds",
			Help:    "Duration of one outbound attempt, from dial to the last body byte.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"method"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "apiq", Subsystem: "outbound", Name: "retries_total",
			Help: "Retries scheduled, by what caused them.",
		}, []string{"reason"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "apiq", Subsystem: "outbound", Name: "refused_total",
			Help: "Calls stopped by a safety guard (blocked address, open circuit, rate limit, redirects, size caps).",
		}, []string{"reason"}),
		breaker: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "apiq", Subsystem: "outbound", Name: "breaker_transitions_total",
			Help: "Circuit breaker state changes, by the state entered.",
		}, []string{"state"}),
	}
	for _, c := range []prometheus.Collector{m.attempts, m.attemptTime, m.retries, m.refused, m.breaker} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register outbound metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) attemptDone(method, outcome string, took time.Duration) {
	if m == nil {
		return
	}
	m.attempts.WithLabelValues(method, outcome).Inc()
	m.attemptTime.WithLabelValues(method).Observe(took.Seconds())
}

func (m *Metrics) retryScheduled(reason string) {
	if m == nil {
		return
	}
	m.retries.WithLabelValues(reason).Inc()
}

func (m *Metrics) callRefused(reason string) {
	if m == nil {
		return
	}
	m.refused.WithLabelValues(reason).Inc()
}

func (m *Metrics) breakerChanged(state string) {
	if m == nil {
		return
	}
	m.breaker.WithLabelValues(state).Inc()
}
