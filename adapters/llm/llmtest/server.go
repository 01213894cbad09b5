// Package llmtest runs a local HTTP server that speaks the OpenAI chat
// completions wire protocol, so tests drive the real go-openai client (and
// APIQ's llm.Client) without reaching a model. Each test scripts the
// replies — a queue, or a function of the request — and reads back every
// request the server received.
//
// The server checks what OpenAI checks and a client can get wrong: the
// bearer key (when set), a model and messages, at most 128 tools with valid
// unique names, and that every assistant tool call is answered by a tool
// message before the conversation goes on. A refused request gets OpenAI's
// 400 error shape and is recorded all the same.
package llmtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sashabaranov/go-openai"
)

// MaxTools is the chat completions API's limit on tools per request.
const MaxTools = 128

// ChatCompletionsPath is where the server answers.
const ChatCompletionsPath = "/v1/chat/completions"

// Request is one request the server received.
type Request struct {
	// Body is the decoded request (zero when it did not decode).
	Body   openai.ChatCompletionRequest
	Raw    []byte
	Header http.Header
	// Refused is the error the server answered instead of a scripted reply.
	Refused string
}

// ToolNames lists the names of the tools the request offered.
func (r Request) ToolNames() []string {
	out := make([]string, 0, len(r.Body.Tools))
	for _, t := range r.Body.Tools {
		if t.Function != nil {
			out = append(out, t.Function.Name)
		}
	}
	return out
}

// Text joins the contents of every message of the request (tool call
// arguments included), to search what the model was told.
func (r Request) Text() string {
	var b strings.Builder
	for _, m := range r.Body.Messages {
		b.WriteString(m.Content)
		b.WriteByte('\n')
		for _, part := range m.MultiContent {
			b.WriteString(part.Text)
			b.WriteByte('\n')
		}
		for _, tc := range m.ToolCalls {
			b.WriteString(tc.Function.Arguments)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// ErrorBody is an OpenAI error object: {"error": {message, type, code}}.
type ErrorBody struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Code    any    `json:"code"`
}

// Reply scripts one answer. The zero Status is 200; with Error set the
// server answers the error object with that status (500 when unset).
type Reply struct {
	Status int
	Error  *ErrorBody
	// RetryAfter is sent as the Retry-After header; RetryAfterMS as
	// retry-after-ms.
	RetryAfter   string
	RetryAfterMS string
	Header       http.Header
	// Delay holds the answer back (the request's cancellation ends it early).
	Delay time.Duration
	// Message is the assistant's message; tool calls without an id get one.
	Message openai.ChatCompletionMessage
	// FinishReason defaults to tool_calls when the message has some, else stop.
	FinishReason openai.FinishReason
	Usage        openai.Usage
	// Model overrides the model named in the response (default: the request's).
	Model string
	// NoChoices answers a response without choices.
	NoChoices bool
	// RawBody, when set, is sent verbatim as the body (with Status, 200
	// by default), to test what a client does with a broken answer.
	RawBody string
}

// Call is one tool call to script; Arguments is encoded as JSON unless it
// is already a string.
type Call struct {
	Name      string
	Arguments any
}

// ToolCalls scripts a reply that calls tools.
func ToolCalls(usage openai.Usage, calls ...Call) Reply {
	msg := openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant}
	for _, c := range calls {
		args, ok := c.Arguments.(string)
		if !ok {
			b, err := json.Marshal(c.Arguments)
			if err != nil {
				panic(fmt.Sprintf("llmtest: arguments of %s do not encode: %v", c.Name, err))
			}
			args = string(b)
		}
		msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{Type: openai.ToolTypeFunction,
			Function: openai.FunctionCall{Name: c.Name, Arguments: args}})
	}
	return Reply{Message: msg, Usage: usage}
}

// Text scripts a plain text reply.
func Text(content string, usage openai.Usage) Reply {
	return Reply{Message: openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: content}, Usage: usage}
}

// RateLimited scripts OpenAI's 429 with a Retry-After header (none when empty).
func RateLimited(retryAfter string) Reply {
	return Reply{Status: http.StatusTooManyRequests, RetryAfter: retryAfter, Error: &ErrorBody{
		Message: "Rate limit reached for requests", Type: "requests", Code: "rate_limit_exceeded"}}
}

// ServerError scripts OpenAI's 500.
func ServerError() Reply {
	return Reply{Status: http.StatusInternalServerError, Error: &ErrorBody{
		Message: "The server had an error while processing your request.", Type: "server_error"}}
}

// Usage is a token usage with the total filled in.
func Usage(prompt, completion int) openai.Usage {
	return openai.Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
}

// Server is a scripted chat completions server.
type Server struct {
	srv    *httptest.Server
	apiKey string

	mu       sync.Mutex
	queue    []Reply
	handler  func(Request) Reply
	requests []Request
}

// Option configures a Server.
type Option func(*Server)

// WithAPIKey makes the server demand "Authorization: Bearer <key>" (401 otherwise).
func WithAPIKey(key string) Option { return func(s *Server) { s.apiKey = key } }

// WithHandler answers every request whose reply is not queued.
func WithHandler(h func(Request) Reply) Option { return func(s *Server) { s.handler = h } }

// New starts a server bound to 127.0.0.1, closed when the test ends.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.srv.Close)
	return s
}

// BaseURL is the API root to configure a client with ("http://127.0.0.1:N/v1").
func (s *Server) BaseURL() string { return s.srv.URL + "/v1" }

// Enqueue adds replies, answered in order before the handler is asked.
func (s *Server) Enqueue(replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, replies...)
}

// Requests returns the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Pending counts queued replies not yet sent.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != ChatCompletionsPath {
		writeError(w, http.StatusNotFound, ErrorBody{Message: "Unknown request URL: " + r.Method + " " + r.URL.Path, Type: "invalid_request_error", Code: "unknown_url"})
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, ErrorBody{Message: "Method not allowed", Type: "invalid_request_error"})
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, ErrorBody{Message: "could not read the body", Type: "invalid_request_error"})
		return
	}
	req := Request{Raw: raw, Header: r.Header.Clone()}
	status, refusal := s.check(r, raw, &req.Body)
	req.Refused = refusal.Message

	s.mu.Lock()
	index := len(s.requests)
	s.requests = append(s.requests, req)
	var next *Reply
	if refusal.Message == "" && len(s.queue) > 0 {
		queued := s.queue[0]
		s.queue = s.queue[1:]
		next = &queued
	}
	handler := s.handler
	s.mu.Unlock()

	if refusal.Message != "" {
		writeError(w, status, refusal)
		return
	}
	if next == nil && handler != nil {
		answered := handler(req)
		next = &answered
	}
	if next == nil {
		// 400, not 5xx: a client must not retry a test's missing script.
		writeError(w, http.StatusBadRequest, ErrorBody{Message: fmt.Sprintf("llmtest: no reply scripted for request %d", index), Type: "llmtest_error"})
		return
	}
	s.answer(w, r, req, *next, index)
}

// check applies OpenAI's request checks; a non-empty refusal is the answer.
func (s *Server) check(r *http.Request, raw []byte, body *openai.ChatCompletionRequest) (int, ErrorBody) {
	invalid := func(msg, code string) (int, ErrorBody) {
		body := ErrorBody{Message: msg, Type: "invalid_request_error"}
		if code != "" {
			body.Code = code // OpenAI sends null otherwise
		}
		return http.StatusBadRequest, body
	}
	if s.apiKey != "" && r.Header.Get("Authorization") != "Bearer "+s.apiKey {
		return http.StatusUnauthorized, ErrorBody{Message: "Incorrect API key provided.", Type: "invalid_request_error", Code: "invalid_api_key"}
	}
	if err := json.Unmarshal(raw, body); err != nil {
		return invalid("We could not parse the JSON body of your request.", "")
	}
	if body.Model == "" {
		return invalid("you must provide a model parameter", "")
	}
	if len(body.Messages) == 0 {
		return invalid("[] is too short - 'messages'", "")
	}
	if n := len(body.Tools); n > MaxTools {
		return invalid(fmt.Sprintf("Invalid 'tools': array too long. Expected an array with maximum length %d, but got an array with length %d instead.", MaxTools, n), "array_above_max_length")
	}
	seen := map[string]bool{}
	for i, t := range body.Tools {
		if t.Function == nil || !validName.MatchString(t.Function.Name) {
			return invalid(fmt.Sprintf("Invalid 'tools[%d].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]{1,64}$'.", i), "invalid_value")
		}
		if seen[t.Function.Name] {
			return invalid(fmt.Sprintf("Invalid 'tools': duplicate function name %q.", t.Function.Name), "invalid_value")
		}
		seen[t.Function.Name] = true
		if !json.Valid(parametersJSON(t.Function.Parameters)) {
			return invalid(fmt.Sprintf("Invalid schema for function '%s'.", t.Function.Name), "invalid_function_parameters")
		}
	}
	if msg := unansweredToolCalls(body.Messages); msg != "" {
		return invalid(msg, "")
	}
	return 0, ErrorBody{}
}

var validName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

func parametersJSON(p any) []byte {
	b, err := json.Marshal(p)
	if err != nil {
		return nil
	}
	return b
}

// unansweredToolCalls applies OpenAI's rule: an assistant message with tool
// calls must be followed by a tool message for each call, and a tool
// message must answer a call.
func unansweredToolCalls(messages []openai.ChatCompletionMessage) string {
	open := map[string]bool{}
	for i, m := range messages {
		switch m.Role {
		case openai.ChatMessageRoleTool:
			if !open[m.ToolCallID] {
				return fmt.Sprintf("Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls' (messages[%d]).", i)
			}
			delete(open, m.ToolCallID)
		default:
			if len(open) > 0 {
				return "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'."
			}
			for _, tc := range m.ToolCalls {
				open[tc.ID] = true
			}
		}
	}
	return ""
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request, req Request, reply Reply, index int) {
	if reply.Delay > 0 {
		t := time.NewTimer(reply.Delay)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	for k, vs := range reply.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if reply.RetryAfter != "" {
		w.Header().Set("Retry-After", reply.RetryAfter)
	}
	if reply.RetryAfterMS != "" {
		w.Header().Set("retry-after-ms", reply.RetryAfterMS)
	}
	if reply.RawBody != "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(max(reply.Status, http.StatusOK))
		_, _ = io.WriteString(w, reply.RawBody)
		return
	}
	if reply.Error != nil {
		status := reply.Status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		writeError(w, status, *reply.Error)
		return
	}
	msg := reply.Message
	if msg.Role == "" {
		msg.Role = openai.ChatMessageRoleAssistant
	}
	for i := range msg.ToolCalls {
		if msg.ToolCalls[i].ID == "" {
			msg.ToolCalls[i].ID = "call_" + strconv.Itoa(index) + "_" + strconv.Itoa(i)
		}
		if msg.ToolCalls[i].Type == "" {
			msg.ToolCalls[i].Type = openai.ToolTypeFunction
		}
	}
	finish := reply.FinishReason
	if finish == "" {
		finish = openai.FinishReasonStop
		if len(msg.ToolCalls) > 0 {
			finish = openai.FinishReasonToolCalls
		}
	}
	model := reply.Model
	if model == "" {
		model = req.Body.Model
	}
	resp := openai.ChatCompletionResponse{
		ID: "chatcmpl-" + strconv.Itoa(index), Object: "chat.completion", Created: time.Now().Unix(), Model: model,
		Choices: []openai.ChatCompletionChoice{{Index: 0, Message: msg, FinishReason: finish}},
		Usage:   reply.Usage,
	}
	if reply.NoChoices {
		resp.Choices = []openai.ChatCompletionChoice{}
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(resp); err != nil {
		writeError(w, http.StatusInternalServerError, ErrorBody{Message: "llmtest: " + err.Error(), Type: "llmtest_error"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	status := reply.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func writeError(w http.ResponseWriter, status int, body ErrorBody) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]ErrorBody{"error": body})
}
