package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/sashabaranov/go-openai"
)

// Errors of Complete; each wraps the underlying one.
var (
	// ErrNotConfigured: no LLM is configured (New refuses to build a client).
	ErrNotConfigured = errors.New("llm: not configured")
	// ErrTimeout: the call did not finish within Config.Timeout.
	ErrTimeout = errors.New("llm: timed out")
	// ErrRateLimited: the server kept answering 429, or asked to wait
	// longer than Config.MaxRetryAfter.
	ErrRateLimited = errors.New("llm: rate limited")
	// ErrUnavailable: the server kept failing (5xx) or could not be reached.
	ErrUnavailable = errors.New("llm: unavailable")
	// ErrRejected: the server refused the request (4xx other than 429).
	ErrRejected = errors.New("llm: request rejected")
	// ErrInvalidReply: the reply had no choice to read.
	ErrInvalidReply = errors.New("llm: invalid reply")
)

// Client sends chat completion requests to the configured model, retrying
// 429 and 5xx answers. It is safe for concurrent use.
type Client struct {
	cfg Config
	api *openai.Client
}

// New builds a client; ErrNotConfigured when cfg is not configured.
func New(cfg Config) (*Client, error) {
	if !cfg.Configured() {
		return nil, ErrNotConfigured
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("llm config: %w", err)
	}
	cfg.setDefaults()
	api := openai.DefaultConfig(cfg.APIKey)
	api.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	api.HTTPClient = cfg.HTTPClient
	return &Client{cfg: cfg, api: openai.NewClientWithConfig(api)}, nil
}

// Model names the configured model.
func (c *Client) Model() string { return c.cfg.Model }

// Request is one chat completion request.
type Request struct {
	Messages []openai.ChatCompletionMessage
	Tools    []openai.Tool
	// ToolChoice is "auto" (the default when tools are offered), "none",
	// "required", or an openai.ToolChoice naming one function.
	ToolChoice any
	// MaxCompletionTokens bounds the reply (0: the server's default).
	MaxCompletionTokens int
	// Temperature 0 leaves the server's default (go-openai omits it).
	Temperature float32
}

// Usage counts the tokens of one or more calls.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// Add returns the sum of two usages.
func (u Usage) Add(other Usage) Usage {
	return Usage{
		PromptTokens:     u.PromptTokens + other.PromptTokens,
		CompletionTokens: u.CompletionTokens + other.CompletionTokens,
		TotalTokens:      u.TotalTokens + other.TotalTokens,
	}
}

// Reply is the model's answer to a Request.
type Reply struct {
	// Message is the first choice's message (its ToolCalls are the plan's steps).
	Message      openai.ChatCompletionMessage
	FinishReason openai.FinishReason
	Usage        Usage
	// Model is the model that answered, as the server names it.
	Model string
	// Attempts counts the requests sent, retries included.
	Attempts int
	Duration time.Duration
}

// APIError is the server's error answer; it wraps one of ErrRateLimited,
// ErrUnavailable or ErrRejected. Message has the configured key removed.
type APIError struct {
	Status  int
	Type    string
	Code    string
	Message string
	// RetryAfter is the wait the server asked for, if any.
	RetryAfter time.Duration
	kind       error
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("status %d", e.Status)
	if kinds := strings.TrimSpace(e.Type + " " + e.Code); kinds != "" {
		msg += " (" + kinds + ")"
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Unwrap exposes the error's kind.
func (e *APIError) Unwrap() error { return e.kind }

// Complete sends a request and returns the first choice, retrying 429 and
// 5xx answers and unreachable servers with exponential jittered backoff,
// or after the server's Retry-After (retry-after-ms or Retry-After), all
// within Config.Timeout and Config.MaxAttempts. On failure the returned
// Reply still says how many attempts were made.
func (c *Client) Complete(ctx context.Context, req Request) (Reply, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	chat := openai.ChatCompletionRequest{
		Model:               c.cfg.Model,
		Messages:            req.Messages,
		Tools:               req.Tools,
		ToolChoice:          req.ToolChoice,
		MaxCompletionTokens: req.MaxCompletionTokens,
		Temperature:         req.Temperature,
	}
	wait := &backoff.ExponentialBackOff{
		InitialInterval: c.cfg.InitialBackoff, RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: c.cfg.MaxBackoff,
	}
	wait.Reset()
	log := c.cfg.Logger.With(slog.String("model", c.cfg.Model))
	for attempt := 1; ; attempt++ {
		resp, err := c.api.CreateChatCompletion(ctx, chat)
		if err == nil {
			reply, err := replyOf(resp)
			reply.Attempts, reply.Duration = attempt, time.Since(start)
			return reply, err
		}
		failure := c.classify(ctx, err, resp.Header())
		retry := failure.retryable() && attempt < c.cfg.MaxAttempts
		delay := wait.NextBackOff()
		if failure.retryAfter > 0 {
			delay = failure.retryAfter
			if delay > c.cfg.MaxRetryAfter {
				retry = false
			}
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < delay {
			retry = false
		}
		if !retry {
			log.WarnContext(ctx, "llm call failed", slog.Int("attempts", attempt), slog.Int("status", failure.status),
				slog.String("error_kind", failure.kindName()), slog.Duration("duration", time.Since(start)))
			return Reply{Attempts: attempt, Duration: time.Since(start)}, fmt.Errorf("chat completion: %w", failure.err)
		}
		log.DebugContext(ctx, "llm call retried", slog.Int("attempt", attempt), slog.Int("status", failure.status),
			slog.Duration("wait", delay))
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			failure = c.classify(ctx, ctx.Err(), nil)
			return Reply{Attempts: attempt, Duration: time.Since(start)}, fmt.Errorf("chat completion: %w", failure.err)
		case <-timer.C:
		}
	}
}

// replyOf reads the first choice of a response.
func replyOf(resp openai.ChatCompletionResponse) (Reply, error) {
	usage := Usage{PromptTokens: resp.Usage.PromptTokens, CompletionTokens: resp.Usage.CompletionTokens,
		TotalTokens: resp.Usage.TotalTokens}
	if len(resp.Choices) == 0 {
		return Reply{Usage: usage, Model: resp.Model}, fmt.Errorf("chat completion: %w: no choices", ErrInvalidReply)
	}
	choice := resp.Choices[0]
	return Reply{Message: choice.Message, FinishReason: choice.FinishReason, Usage: usage, Model: resp.Model}, nil
}

// failure is a classified error of one attempt.
type failure struct {
	err        error
	kind       error
	status     int
	retryAfter time.Duration
}

func (f failure) retryable() bool {
	return f.kind == ErrRateLimited || f.kind == ErrUnavailable
}

func (f failure) kindName() string {
	if f.kind == nil {
		return "canceled"
	}
	return strings.TrimPrefix(f.kind.Error(), "llm: ")
}

// classify sorts an attempt's error: the caller's cancellation, our
// timeout, the server's answer by status, or a transport failure.
func (c *Client) classify(ctx context.Context, err error, header http.Header) failure {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return failure{err: fmt.Errorf("%w after %s", ErrTimeout, c.cfg.Timeout), kind: ErrTimeout}
	}
	if errors.Is(err, context.Canceled) {
		return failure{err: context.Canceled}
	}
	status, apiErr := 0, &APIError{}
	var oa *openai.APIError
	var re *openai.RequestError
	switch {
	case errors.As(err, &oa):
		status = oa.HTTPStatusCode
		apiErr = &APIError{Status: status, Type: oa.Type, Code: codeString(oa.Code), Message: oa.Message}
	case errors.As(err, &re):
		status = re.HTTPStatusCode
		apiErr = &APIError{Status: status, Message: http.StatusText(status)}
	case isMalformed(err):
		return failure{err: fmt.Errorf("%w: %s", ErrInvalidReply, c.scrub(err.Error())), kind: ErrInvalidReply}
	case isTransport(err):
		return failure{err: fmt.Errorf("%w: %s", ErrUnavailable, c.scrub(err.Error())), kind: ErrUnavailable}
	default:
		// go-openai refused the request itself (an unsupported model or
		// parameter): trying again changes nothing.
		return failure{err: fmt.Errorf("%w: %s", ErrRejected, c.scrub(err.Error())), kind: ErrRejected}
	}
	apiErr.Message = c.scrub(apiErr.Message)
	apiErr.RetryAfter = retryAfter(header, time.Now())
	switch {
	case status == http.StatusTooManyRequests:
		apiErr.kind = ErrRateLimited
	case status >= 500:
		apiErr.kind = ErrUnavailable
	default:
		apiErr.kind = ErrRejected
	}
	return failure{err: apiErr, kind: apiErr.kind, status: status, retryAfter: apiErr.RetryAfter}
}

// isMalformed reports a success answer whose body is not the JSON expected.
func isMalformed(err error) bool {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	return errors.As(err, &syntaxErr) || errors.As(err, &typeErr)
}

// isTransport reports an error of the connection rather than of the request.
func isTransport(err error) bool {
	var urlErr *url.Error
	var netErr net.Error
	return errors.As(err, &urlErr) || errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// scrub removes the configured key from text that came back from the server.
func (c *Client) scrub(text string) string {
	if c.cfg.APIKey == "" {
		return text
	}
	return strings.ReplaceAll(text, c.cfg.APIKey, "[redacted]")
}

// codeString renders an error code; go-openai reads a null code as 0.
func codeString(code any) string {
	switch c := code.(type) {
	case nil:
		return ""
	case int:
		if c == 0 {
			return ""
		}
	case string:
		return c
	}
	return fmt.Sprint(code)
}

// maxServerWait caps a server's Retry-After before it is compared with
// Config.MaxRetryAfter (and keeps the arithmetic from overflowing).
const maxServerWait = 24 * time.Hour

// retryAfter reads the wait a server asks for: retry-after-ms (OpenAI and
// Azure), then Retry-After in seconds or as an HTTP date.
func retryAfter(header http.Header, now time.Time) time.Duration {
	return min(serverWait(header, now), maxServerWait)
}

func serverWait(header http.Header, now time.Time) time.Duration {
	if header == nil {
		return 0
	}
	if ms, err := strconv.ParseFloat(strings.TrimSpace(header.Get("retry-after-ms")), 64); err == nil && ms > 0 {
		return time.Duration(min(ms, float64(maxServerWait/time.Millisecond)) * float64(time.Millisecond))
	}
	value := strings.TrimSpace(header.Get("Retry-After"))
	if value == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(value, 64); err == nil {
		if !(secs > 0) { // NaN as well
			return 0
		}
		return time.Duration(min(secs, float64(maxServerWait/time.Second)) * float64(time.Second))
	}
	if at, err := http.ParseTime(value); err == nil {
		return max(at.Sub(now), 0)
	}
	return 0
}
