package llm_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/llm"
)

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{llm.EnvBaseURL: "http://localhost:11434/v1", llm.EnvAPIKey: "k", llm.EnvModel: "llama3.1"}
	cfg := llm.ConfigFromEnv(func(k string) string { return env[k] })
	assert.Equal(t, "http://localhost:11434/v1", cfg.BaseURL)
	assert.Equal(t, "k", cfg.APIKey)
	assert.Equal(t, "llama3.1", cfg.Model)
	assert.True(t, cfg.Configured())
	assert.False(t, llm.ConfigFromEnv(func(string) string { return "" }).Configured())
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cfg   llm.Config
		wants []string
	}{
		{"not configured is valid", llm.Config{}, nil},
		{"model alone uses OpenAI", llm.Config{Model: "gpt-4o-mini", APIKey: "k"}, nil},
		{"local server without a key", llm.Config{BaseURL: "http://127.0.0.1:11434/v1", Model: "llama3.1"}, nil},
		{"key without a model", llm.Config{APIKey: "k"}, []string{llm.EnvModel + " is required"}},
		{"relative base URL", llm.Config{BaseURL: "/v1", Model: "m"}, []string{"absolute http(s) URL"}},
		{"other scheme", llm.Config{BaseURL: "ftp://example.com", Model: "m"}, []string{"absolute http(s) URL"}},
		{"credentials in the URL", llm.Config{BaseURL: "https://user:secret@example.com/v1", Model: "m"}, []string{"must not carry credentials"}},
		{"negative durations and attempts", llm.Config{Model: "m", Timeout: -1, MaxBackoff: -time.Second, MaxAttempts: -1},
			[]string{"Timeout -1ns is negative", "MaxBackoff -1s is negative", "MaxAttempts -1 is negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if len(tt.wants) == 0 {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, want := range tt.wants {
				assert.Contains(t, err.Error(), want)
			}
			assert.NotContains(t, err.Error(), "secret")
		})
	}
}

func TestNewRefusesUnconfiguredAndInvalid(t *testing.T) {
	t.Parallel()
	_, err := llm.New(llm.Config{})
	assert.ErrorIs(t, err, llm.ErrNotConfigured)
	_, err = llm.New(llm.Config{APIKey: "k"})
	assert.ErrorContains(t, err, llm.EnvModel)
	client, err := llm.New(llm.Config{Model: "gpt-4o-mini", APIKey: "k"})
	require.NoError(t, err)
	assert.Equal(t, "gpt-4o-mini", client.Model())
}

func TestConfigNeverShowsTheKey(t *testing.T) {
	t.Parallel()
	cfg := llm.Config{BaseURL: "https://example.openai.azure.com/openai/v1?api-key=querysecret", APIKey: "sk-verysecret", Model: "gpt-4o"}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("starting", slog.Any("llm", cfg))
	for _, shown := range []string{cfg.String(), fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), logs.String()} {
		assert.NotContains(t, shown, "sk-verysecret")
		assert.NotContains(t, shown, "querysecret")
		assert.Contains(t, shown, "gpt-4o")
	}
	assert.Equal(t, "llm: model gpt-4o at https://example.openai.azure.com/openai/v1 (key set)", cfg.String())
	assert.Equal(t, "llm: not configured", llm.Config{}.String())
}
