package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig(envOf(nil))
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:8080", cfg.HTTPAddr)
	assert.Equal(t, "postgres://postgres@127.0.0.1:5432/apiq?sslmode=disable", cfg.DatabaseURL)
	assert.Equal(t, "./.apiq", cfg.DataDir)
	assert.Equal(t, ".apiq/master.key", cfg.MasterKeyFile)
	assert.Equal(t, 15*time.Minute, cfg.AccessTokenTTL)
	assert.Equal(t, cfg.DatabaseURL, cfg.ownerURL())
	_, separate := cfg.serviceRole()
	assert.False(t, separate)
}

func TestLoadConfigReadsEveryVariable(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig(envOf(map[string]string{
		"APIQ_HTTP_ADDR":            "0.0.0.0:9000",
		"APIQ_DATABASE_URL":         "postgres://apiq_app@db:5432/apiq",
		"APIQ_MIGRATE_DATABASE_URL": "postgres://apiq_owner@db:5432/apiq",
		"APIQ_DATA_DIR":             "/var/lib/apiq",
		"APIQ_BOOTSTRAP_EMAIL":      "ops@example.com",
		"APIQ_BOOTSTRAP_PASSWORD":   "a long password",
		"APIQ_ESDB_URL":             "esdb://localhost:2113?tls=false",
		"APIQ_LOG_LEVEL":            "debug",
		"APIQ_TRUSTED_PROXIES":      "10.0.0.1, 10.0.0.2",
	}))
	require.NoError(t, err)
	assert.Equal(t, "/var/lib/apiq/master.key", cfg.MasterKeyFile)
	assert.Equal(t, "postgres://apiq_owner@db:5432/apiq", cfg.ownerURL())
	role, separate := cfg.serviceRole()
	assert.True(t, separate)
	assert.Equal(t, "apiq_app", role)
	assert.Equal(t, []string{"10.0.0.1", "10.0.0.2"}, cfg.TrustedProxies)
	assert.Equal(t, "DEBUG", cfg.LogLevel.String())
}

func TestLoadConfigListsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := LoadConfig(envOf(map[string]string{
		"APIQ_HTTP_ADDR":          "no-port",
		"APIQ_BOOTSTRAP_EMAIL":    "not-an-email",
		"APIQ_BOOTSTRAP_PASSWORD": "short",
		"APIQ_ESDB_URL":           "http://wrong",
		"APIQ_LOG_LEVEL":          "chatty",
		"APIQ_ACCESS_TOKEN_TTL":   "1s",
		"APIQ_MAX_BODY_BYTES":     "ten",
	}))
	require.Error(t, err)
	for _, want := range []string{"APIQ_HTTP_ADDR", "APIQ_BOOTSTRAP_EMAIL", "APIQ_BOOTSTRAP_PASSWORD",
		"APIQ_ESDB_URL", "APIQ_LOG_LEVEL", "APIQ_ACCESS_TOKEN_TTL", "APIQ_MAX_BODY_BYTES"} {
		assert.ErrorContains(t, err, want)
	}
}

// TestReadmeDocumentsEveryVariable keeps the README's configuration table
// complete.
func TestReadmeDocumentsEveryVariable(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	for _, v := range configVars() {
		assert.True(t, strings.Contains(string(readme), "| `"+v.name+"` |"), "README lacks %s", v.name)
	}
}

func TestSlug(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"default":               "default",
		"Acme Corp.":            "acme-corp",
		"  --Ünïcode  X ":       "n-code-x",
		"!!!":                   "default",
		strings.Repeat("a", 80): strings.Repeat("a", 63),
	}
	for in, want := range tests {
		assert.Equal(t, want, slug(in), in)
	}
}
