package outbound_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/outbound"
)

func TestMetricsCountAttemptsRetriesAndRefusals(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	metrics, err := outbound.NewMetrics(reg)
	require.NoError(t, err)
	client, err := outbound.New(testConfig(), testLogger(t), metrics)
	require.NoError(t, err)
	t.Cleanup(client.Close)
	_, srv := flakyBin(t, 1, http.StatusServiceUnavailable, nil)

	_, err = client.Do(context.Background(), outbound.Request{URL: srv.URL + "/get"})
	require.NoError(t, err)
	_, err = client.Do(context.Background(), outbound.Request{URL: "http://169.254.169.254/"})
	require.ErrorIs(t, err, outbound.ErrBlockedAddress)

	families, err := reg.Gather()
	require.NoError(t, err)
	counts := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case m.GetCounter() != nil:
				counts[key] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				counts[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	assert.Equal(t, map[string]float64{
		"apiq_outbound_attempts_total,method=GET,outcome=5xx":     1,
		"apiq_outbound_attempts_total,method=GET,outcome=2xx":     1,
		"apiq_outbound_attempts_total,method=GET,outcome=refused": 1,
		"apiq_outbound_attempt_duration_seconds,method=GET":       3,
		"apiq_outbound_retries_total,reason=status_503":           1,
		"apiq_outbound_refused_total,reason=blocked_address":      1,
	}, counts)

	_, err = outbound.NewMetrics(reg)
	assert.Error(t, err, "registering twice on one registry is refused")
}
