package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAuditRetentionConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value   string
		want    time.Duration
		wantErr bool
	}{
		{value: "", want: 0},
		{value: "0", want: 0},
		{value: "8760h", want: 365 * 24 * time.Hour},
		{value: "30m", wantErr: true},
		{value: "-24h", wantErr: true},
		{value: "a year", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			cfg, err := LoadConfig(envOf(map[string]string{"APIQ_AUDIT_RETENTION": tt.value}))
			if tt.wantErr {
				assert.ErrorContains(t, err, "APIQ_AUDIT_RETENTION")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg.AuditRetention, "the default keeps audit rows forever")
		})
	}
}
