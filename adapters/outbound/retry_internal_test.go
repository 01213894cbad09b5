package outbound

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"  7 ", 7 * time.Second, true},
		{"999999999999", 24 * time.Hour, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{now.Add(30 * time.Second).Format(time.RFC850), 30 * time.Second, true},
	}
	for _, tc := range cases {
		got, ok := parseRetryAfter(tc.in, now)
		assert.Equal(t, tc.ok, ok, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

func TestFullJitterStaysUnderTheGrowingCeiling(t *testing.T) {
	t.Parallel()
	f := &fullJitter{base: 10 * time.Millisecond, max: 80 * time.Millisecond}
	ceilings := []time.Duration{10, 20, 40, 80, 80, 80}
	for round := range 200 {
		f.Reset()
		for i, c := range ceilings {
			d := f.NextBackOff()
			assert.GreaterOrEqual(t, d, time.Duration(0))
			assert.LessOrEqual(t, d, c*time.Millisecond, "round %d retry %d", round, i)
		}
	}
	f.retries = 200
	assert.LessOrEqual(t, f.NextBackOff(), f.max, "no overflow on long retry sequences")
}

func TestCheckNumericHost(t *testing.T) {
	t.Parallel()
	blocked := []string{"2130706433", "0177.0.0.1", "0x7f.1", "0X7F000001", "127.1", "1.2.3.04", "127.0.0.1.", "0", "0x", "example.123"}
	allowed := []string{"127.0.0.1", "::1", "api.example.com", "1e100.net", "x0x1.example", "0xdeadbeef.example", "123.example.com"}
	for _, h := range blocked {
		assert.ErrorIs(t, checkNumericHost(h), ErrBlockedAddress, h)
	}
	for _, h := range allowed {
		assert.NoError(t, checkNumericHost(h), h)
	}
}
