package llmtest_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/sashabaranov/go-openai"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/llm/llmtest"
)

func client(srv *llmtest.Server, key string) *openai.Client {
	cfg := openai.DefaultConfig(key)
	cfg.BaseURL = srv.BaseURL()
	return openai.NewClientWithConfig(cfg)
}

func user(text string) openai.ChatCompletionMessage {
	return openai.ChatCompletionMessage{Role: openai.ChatMessageRoleUser, Content: text}
}

func tool(name string) openai.Tool {
	return openai.Tool{Type: openai.ToolTypeFunction, Function: &openai.FunctionDefinition{Name: name, Parameters: map[string]any{"type": "object"}}}
}

func TestServerRefusesWhatOpenAIRefuses(t *testing.T) {
	t.Parallel()
	call := openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant,
		ToolCalls: []openai.ToolCall{{ID: "call_1", Type: openai.ToolTypeFunction, Function: openai.FunctionCall{Name: "a", Arguments: "{}"}}}}
	tests := []struct {
		name   string
		key    string
		req    openai.ChatCompletionRequest
		status int
		code   any
	}{
		{"wrong key", "wrong", openai.ChatCompletionRequest{Model: "m", Messages: []openai.ChatCompletionMessage{user("x")}}, 401, "invalid_api_key"},
		// go-openai reads OpenAI's "code": null as 0.
		{"no messages", "k", openai.ChatCompletionRequest{Model: "m"}, 400, 0},
		{"invalid tool name", "k", openai.ChatCompletionRequest{Model: "m", Messages: []openai.ChatCompletionMessage{user("x")},
			Tools: []openai.Tool{tool("has space")}}, 400, "invalid_value"},
		{"duplicate tool names", "k", openai.ChatCompletionRequest{Model: "m", Messages: []openai.ChatCompletionMessage{user("x")},
			Tools: []openai.Tool{tool("a"), tool("a")}}, 400, "invalid_value"},
		{"unanswered tool call", "k", openai.ChatCompletionRequest{Model: "m", Messages: []openai.ChatCompletionMessage{user("x"), call, user("y")}}, 400, 0},
		{"tool answer without a call", "k", openai.ChatCompletionRequest{Model: "m", Messages: []openai.ChatCompletionMessage{user("x"),
			{Role: openai.ChatMessageRoleTool, ToolCallID: "call_9", Content: "r"}}}, 400, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := llmtest.New(t, llmtest.WithAPIKey("k"))
			srv.Enqueue(llmtest.Text("never sent", llmtest.Usage(1, 1)))
			_, err := client(srv, tt.key).CreateChatCompletion(context.Background(), tt.req)
			var apiErr *openai.APIError
			require.True(t, errors.As(err, &apiErr), "%v", err)
			assert.Equal(t, tt.status, apiErr.HTTPStatusCode)
			assert.Equal(t, tt.code, apiErr.Code)
			require.Len(t, srv.Requests(), 1, "refused requests are recorded")
			assert.NotEmpty(t, srv.Requests()[0].Refused)
			assert.Equal(t, 1, srv.Pending(), "a refused request uses no scripted reply")
		})
	}
}

func TestServerAnswersInOrderThenFromTheHandler(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t, llmtest.WithHandler(func(r llmtest.Request) llmtest.Reply {
		return llmtest.Text("echo: "+r.Body.Messages[len(r.Body.Messages)-1].Content, llmtest.Usage(2, 2))
	}))
	srv.Enqueue(llmtest.ToolCalls(llmtest.Usage(10, 3), llmtest.Call{Name: "a", Arguments: map[string]any{"x": 1}}),
		llmtest.Reply{Status: http.StatusTooManyRequests, RetryAfterMS: "5", Error: &llmtest.ErrorBody{Message: "slow", Type: "requests"}})
	c := client(srv, "")
	ctx := context.Background()

	resp, err := c.CreateChatCompletion(ctx, openai.ChatCompletionRequest{Model: "m", Messages: []openai.ChatCompletionMessage{user("one")}, Tools: []openai.Tool{tool("a")}})
	require.NoError(t, err)
	require.Len(t, resp.Choices, 1)
	assert.Equal(t, openai.FinishReasonToolCalls, resp.Choices[0].FinishReason)
	assert.Equal(t, "call_0_0", resp.Choices[0].Message.ToolCalls[0].ID)
	assert.JSONEq(t, `{"x":1}`, resp.Choices[0].Message.ToolCalls[0].Function.Arguments)
	assert.Equal(t, 13, resp.Usage.TotalTokens)
	assert.Equal(t, "m", resp.Model)

	resp, err = c.CreateChatCompletion(ctx, openai.ChatCompletionRequest{Model: "m", Messages: []openai.ChatCompletionMessage{user("two")}})
	var apiErr *openai.APIError
	require.True(t, errors.As(err, &apiErr))
	assert.Equal(t, http.StatusTooManyRequests, apiErr.HTTPStatusCode)
	assert.Equal(t, "5", resp.Header().Get("retry-after-ms"))

	resp, err = c.CreateChatCompletion(ctx, openai.ChatCompletionRequest{Model: "m", Messages: []openai.ChatCompletionMessage{user("three")}})
	require.NoError(t, err)
	assert.Equal(t, "echo: three", resp.Choices[0].Message.Content)
	assert.Equal(t, openai.FinishReasonStop, resp.Choices[0].FinishReason)

	requests := srv.Requests()
	require.Len(t, requests, 3)
	assert.Equal(t, []string{"a"}, requests[0].ToolNames())
	assert.Equal(t, "three\n", requests[2].Text())
}

func TestServerWithoutAScriptAnswers400(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	_, err := client(srv, "").CreateChatCompletion(context.Background(), openai.ChatCompletionRequest{Model: "m", Messages: []openai.ChatCompletionMessage{user("x")}})
	var apiErr *openai.APIError
	require.True(t, errors.As(err, &apiErr))
	assert.Equal(t, http.StatusBadRequest, apiErr.HTTPStatusCode)
	assert.Contains(t, apiErr.Message, "no reply scripted for request 0")
}

func TestServerDelayEndsWithTheRequest(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Enqueue(llmtest.Reply{Delay: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := client(srv, "").CreateChatCompletion(ctx, openai.ChatCompletionRequest{Model: "m", Messages: []openai.ChatCompletionMessage{user("x")}})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 2*time.Second)
}
