package outbound_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/outbound"
)

func TestParseAllowlist(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in      string
		want    []string
		wantErr []string
	}{
		{in: "", want: nil},
		{in: " , ", want: nil},
		{in: "127.0.0.1/32,::1/128", want: []string{"127.0.0.1/32", "::1/128"}},
		{in: " 10.1.2.3 , fd00::1 ", want: []string{"10.1.2.3/32", "fd00::1/128"}},
		{in: "192.168.7.9/16", want: []string{"192.168.0.0/16"}},
		{in: "::ffff:127.0.0.1/128", want: []string{"127.0.0.1/32"}},
		{in: "bogus,1.2.3.4/33,127.0.0.1", wantErr: []string{`"bogus"`, `"1.2.3.4/33"`}},
		{in: "fe80::1%eth0", wantErr: []string{"zones"}},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := outbound.ParseAllowlist(tc.in)
			if tc.wantErr != nil {
				require.Error(t, err)
				for _, w := range tc.wantErr {
					assert.Contains(t, err.Error(), w)
				}
				return
			}
			require.NoError(t, err)
			var want []netip.Prefix
			for _, w := range tc.want {
				want = append(want, netip.MustParsePrefix(w))
			}
			assert.Equal(t, want, got)
		})
	}
}

func TestConfigValidateListsEveryProblem(t *testing.T) {
	t.Parallel()
	cfg := outbound.Config{
		ConnectTimeout:   -time.Second,
		MaxResponseBytes: -1,
		Retry:            outbound.RetryConfig{MaxAttempts: -1, BaseDelay: time.Second, MaxDelay: time.Millisecond},
		RateLimit:        outbound.RateLimitConfig{PerSecond: -3},
	}
	_, err := outbound.New(cfg, testLogger(t), nil)
	require.Error(t, err)
	for _, want := range []string{"connect timeout", "max response bytes", "retry max attempts", "retry max delay", "rate limit"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestNewNeedsALogger(t *testing.T) {
	t.Parallel()
	_, err := outbound.New(outbound.Config{}, nil, nil)
	assert.Error(t, err)
}

func TestZeroConfigIsValidAfterDefaults(t *testing.T) {
	t.Parallel()
	_, err := outbound.New(outbound.Config{RateLimit: outbound.RateLimitConfig{Unlimited: true}, Breaker: outbound.BreakerConfig{Disabled: true}}, testLogger(t), nil)
	assert.NoError(t, err)
	assert.Error(t, outbound.Config{}.Validate(), "without defaults the zero config is incomplete")
}
