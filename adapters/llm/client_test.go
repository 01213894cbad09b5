package llm_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sashabaranov/go-openai"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/llm"
	"github.com/apiq/apiq/adapters/llm/llmtest"
)

const testKey = "sk-test-0123456789abcdef"

// syncBuffer collects log output from concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newClient builds a client of srv with quick backoff and a debug log.
func newClient(t *testing.T, srv *llmtest.Server, change ...func(*llm.Config)) (*llm.Client, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	cfg := llm.Config{
		BaseURL: srv.BaseURL(), APIKey: testKey, Model: "test-model",
		Timeout: 5 * time.Second, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, c := range change {
		c(&cfg)
	}
	client, err := llm.New(cfg)
	require.NoError(t, err)
	return client, logs
}

func userRequest(text string) llm.Request {
	return llm.Request{Messages: []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: text}}}
}

func TestCompleteReturnsToolCallsAndUsage(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t, llmtest.WithAPIKey(testKey))
	srv.Enqueue(llmtest.ToolCalls(llmtest.Usage(120, 30),
		llmtest.Call{Name: "tmdb__search_movie", Arguments: map[string]any{"step_id": "find", "query": "Alien"}},
		llmtest.Call{Name: "tmdb__movie_details", Arguments: `{"step_id":"details","movie_id":"${ steps.find.output.results[0].id }"}`}))
	client, logs := newClient(t, srv)
	tools := []openai.Tool{{Type: openai.ToolTypeFunction, Function: &openai.FunctionDefinition{Name: "tmdb__search_movie",
		Parameters: map[string]any{"type": "object"}}}}
	reply, err := client.Complete(context.Background(), llm.Request{
		Messages: []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: "Find Alien and its details"}},
		Tools:    tools, ToolChoice: "required", Temperature: 0,
	})
	require.NoError(t, err)
	assert.Equal(t, 1, reply.Attempts)
	assert.Equal(t, llm.Usage{PromptTokens: 120, CompletionTokens: 30, TotalTokens: 150}, reply.Usage)
	assert.Equal(t, openai.FinishReasonToolCalls, reply.FinishReason)
	assert.Equal(t, "test-model", reply.Model)
	require.Len(t, reply.Message.ToolCalls, 2)
	assert.Equal(t, "tmdb__movie_details", reply.Message.ToolCalls[1].Function.Name)
	assert.JSONEq(t, `{"step_id":"details","movie_id":"${ steps.find.output.results[0].id }"}`, reply.Message.ToolCalls[1].Function.Arguments)
	assert.NotEmpty(t, reply.Message.ToolCalls[0].ID)

	requests := srv.Requests()
	require.Len(t, requests, 1)
	sent := requests[0]
	assert.Equal(t, "Bearer "+testKey, sent.Header.Get("Authorization"))
	assert.Equal(t, "test-model", sent.Body.Model)
	assert.Equal(t, []string{"tmdb__search_movie"}, sent.ToolNames())
	assert.Equal(t, "required", sent.Body.ToolChoice)
	assert.NotContains(t, string(sent.Raw), testKey, "the key travels only in the header")
	assert.NotContains(t, logs.String(), "Find Alien")
}

func TestCompleteRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		replies  []llmtest.Reply
		attempts int
		minWait  time.Duration
	}{
		{"429 then success, Retry-After in seconds", []llmtest.Reply{llmtest.RateLimited("1"), llmtest.Text("ok", llmtest.Usage(1, 1))}, 2, time.Second},
		{"429 then success, retry-after-ms", []llmtest.Reply{
			{Status: http.StatusTooManyRequests, RetryAfterMS: "300", Error: &llmtest.ErrorBody{Message: "slow down", Type: "tokens"}},
			llmtest.Text("ok", llmtest.Usage(1, 1))}, 2, 300 * time.Millisecond},
		{"429 without Retry-After backs off", []llmtest.Reply{llmtest.RateLimited(""), llmtest.Text("ok", llmtest.Usage(1, 1))}, 2, 0},
		{"500 twice then success", []llmtest.Reply{llmtest.ServerError(), llmtest.ServerError(), llmtest.Text("ok", llmtest.Usage(1, 1))}, 3, 0},
		{"503 without an error body", []llmtest.Reply{{Status: http.StatusServiceUnavailable, Error: &llmtest.ErrorBody{}},
			llmtest.Text("ok", llmtest.Usage(1, 1))}, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := llmtest.New(t)
			srv.Enqueue(tt.replies...)
			client, logs := newClient(t, srv)
			start := time.Now()
			reply, err := client.Complete(context.Background(), userRequest("secret prompt text"))
			require.NoError(t, err)
			assert.Equal(t, tt.attempts, reply.Attempts)
			assert.Equal(t, "ok", reply.Message.Content)
			assert.Len(t, srv.Requests(), tt.attempts)
			assert.GreaterOrEqual(t, time.Since(start), tt.minWait, "Retry-After honoured")
			assert.Contains(t, logs.String(), "llm call retried")
			assert.NotContains(t, logs.String(), "secret prompt text")
			assert.NotContains(t, logs.String(), testKey)
		})
	}
}

func TestCompleteGivesUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		replies  []llmtest.Reply
		change   func(*llm.Config)
		want     error
		attempts int
		status   int
	}{
		{"500 on every attempt", []llmtest.Reply{llmtest.ServerError(), llmtest.ServerError(), llmtest.ServerError()},
			func(c *llm.Config) { c.MaxAttempts = 3 }, llm.ErrUnavailable, 3, 500},
		{"429 asking for longer than allowed", []llmtest.Reply{llmtest.RateLimited("120")},
			nil, llm.ErrRateLimited, 1, 429},
		{"400 is not retried", []llmtest.Reply{{Status: http.StatusBadRequest, Error: &llmtest.ErrorBody{
			Message: "Invalid 'messages'", Type: "invalid_request_error", Code: "invalid_value"}}},
			nil, llm.ErrRejected, 1, 400},
		{"Retry-After beyond the timeout", []llmtest.Reply{llmtest.RateLimited("3")},
			func(c *llm.Config) { c.Timeout = time.Second }, llm.ErrRateLimited, 1, 429},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := llmtest.New(t)
			srv.Enqueue(tt.replies...)
			changes := []func(*llm.Config){}
			if tt.change != nil {
				changes = append(changes, tt.change)
			}
			client, _ := newClient(t, srv, changes...)
			start := time.Now()
			reply, err := client.Complete(context.Background(), userRequest("hello"))
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.want)
			assert.Equal(t, tt.attempts, reply.Attempts)
			assert.Len(t, srv.Requests(), tt.attempts)
			var apiErr *llm.APIError
			require.True(t, errors.As(err, &apiErr))
			assert.Equal(t, tt.status, apiErr.Status)
			assert.Less(t, time.Since(start), 900*time.Millisecond, "no pointless wait")
		})
	}
}

func TestCompleteTimeout(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Enqueue(llmtest.Reply{Delay: 3 * time.Second, Message: openai.ChatCompletionMessage{Content: "late"}})
	client, _ := newClient(t, srv, func(c *llm.Config) { c.Timeout = 200 * time.Millisecond })
	start := time.Now()
	reply, err := client.Complete(context.Background(), userRequest("hello"))
	assert.ErrorIs(t, err, llm.ErrTimeout)
	assert.Equal(t, 1, reply.Attempts)
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Len(t, srv.Requests(), 1)
}

func TestCompleteDoesNotWaitPastTheCallersDeadline(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Enqueue(llmtest.RateLimited("2"))
	client, _ := newClient(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := client.Complete(ctx, userRequest("hello"))
	assert.ErrorIs(t, err, llm.ErrRateLimited, "the 2 s wait is beyond the caller's deadline: the server's answer at once")
	assert.Less(t, time.Since(start), 250*time.Millisecond)
}

func TestCompleteCanceledWhileWaiting(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Enqueue(llmtest.Reply{Delay: 2 * time.Second, Message: openai.ChatCompletionMessage{Content: "late"}})
	client, _ := newClient(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	_, err := client.Complete(ctx, userRequest("hello"))
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, llm.ErrTimeout)
}

func TestCompleteErrorsHideTheKey(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Enqueue(llmtest.Reply{Status: http.StatusUnauthorized, Error: &llmtest.ErrorBody{
		Message: "Incorrect API key provided: " + testKey + ".", Type: "invalid_request_error", Code: "invalid_api_key"}})
	client, logs := newClient(t, srv)
	_, err := client.Complete(context.Background(), userRequest("hello"))
	require.ErrorIs(t, err, llm.ErrRejected)
	assert.NotContains(t, err.Error(), testKey)
	assert.Contains(t, err.Error(), "[redacted]")
	assert.Contains(t, err.Error(), "invalid_api_key")
	assert.NotContains(t, logs.String(), testKey)
	assert.Contains(t, logs.String(), `"status":401`)
}

func TestCompleteRefusedByTheServerChecks(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t, llmtest.WithAPIKey("another-key"))
	client, _ := newClient(t, srv)
	_, err := client.Complete(context.Background(), userRequest("hello"))
	var apiErr *llm.APIError
	require.True(t, errors.As(err, &apiErr))
	assert.Equal(t, http.StatusUnauthorized, apiErr.Status)
	assert.Equal(t, "invalid_api_key", apiErr.Code)
}

func TestCompleteWithoutChoices(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Enqueue(llmtest.Reply{NoChoices: true, Usage: llmtest.Usage(5, 0)})
	client, _ := newClient(t, srv)
	reply, err := client.Complete(context.Background(), userRequest("hello"))
	assert.ErrorIs(t, err, llm.ErrInvalidReply)
	assert.Equal(t, 5, reply.Usage.PromptTokens, "usage is reported even so")
}

func TestCompleteBrokenAnswersAreNotRetried(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Enqueue(llmtest.Reply{RawBody: `{"id": "x", "choices": nope}`})
	client, _ := newClient(t, srv)
	reply, err := client.Complete(context.Background(), userRequest("hello"))
	assert.ErrorIs(t, err, llm.ErrInvalidReply)
	assert.Equal(t, 1, reply.Attempts)

	// go-openai refuses some models for chat completions before sending anything.
	old, _ := newClient(t, srv, func(c *llm.Config) { c.Model = "text-davinci-003" })
	_, err = old.Complete(context.Background(), userRequest("hello"))
	assert.ErrorIs(t, err, llm.ErrRejected)
	assert.Len(t, srv.Requests(), 1, "nothing more was sent")
}

func TestCompleteUnreachable(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(http.NotFoundHandler())
	base := dead.URL + "/v1"
	dead.Close() // nothing listens there any more
	client, err := llm.New(llm.Config{BaseURL: base, Model: "m", MaxAttempts: 2, InitialBackoff: time.Millisecond, Timeout: time.Second,
		Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	reply, err := client.Complete(context.Background(), userRequest("hello"))
	assert.ErrorIs(t, err, llm.ErrUnavailable)
	assert.Equal(t, 2, reply.Attempts)
}
