package commands

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/apiq/apiq/adapters/credentials"
	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/adapters/outbound"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/connection"
	"github.com/apiq/apiq/domain/execution"
	"github.com/apiq/apiq/domain/plan"
)

// advance decides what the engine does next for r: the events to append,
// or none with the time the execution is due again.
func (e *Engine) advance(ctx context.Context, r *run) ([]domain.Event, time.Time, error) {
	s := r.state
	now := e.d.Now()
	// An unknown outcome comes first: held for attention, whatever the time.
	if s.InFlight != "" && !s.Steps[s.InFlight].Repeatable {
		return []domain.Event{execution.NeedsAttention{Key: s.InFlight, Done: s.Done(),
			Reason: "the call was in flight when the engine stopped; its outcome is unknown and it may not be sent again: check the API"}}, time.Time{}, nil
	}
	if err := e.fillOutputs(ctx, s); err != nil {
		return nil, time.Time{}, err
	}
	u, done, err := execution.Next(s)
	if s.Timeout > 0 && now.Sub(r.started) > s.Timeout {
		return []domain.Event{timedOut(s, u, done || err != nil)}, time.Time{}, nil
	}
	if err != nil {
		return failStep(s, u.Key, u.Step, 1, err.Error()), time.Time{}, nil
	}
	if done {
		return []domain.Event{execution.Completed{DurationMS: now.Sub(r.started).Milliseconds()}}, time.Time{}, nil
	}
	attempt := 1
	if st, ok := s.Steps[u.Key]; ok {
		if st.Status == execution.StepStatusRetryScheduled && st.RetryAt.After(now) {
			return nil, st.RetryAt, nil
		}
		attempt = st.Attempts + 1
	}
	if u.Skip {
		return []domain.Event{execution.StepSkipped{Key: u.Key, StepID: u.Step.ID, Reason: u.SkipReason}}, time.Time{}, nil
	}
	started := execution.StepStarted{Key: u.Key, StepID: u.Step.ID, Kind: u.Step.Kind, Attempt: attempt, Repeatable: true, At: now}
	switch u.Step.Kind {
	case plan.KindCondition, plan.KindTransform:
		source := ""
		if u.Step.Condition != nil {
			source = u.Step.Condition.Expr
		} else if u.Step.Transform != nil {
			source = u.Step.Transform.Expr
		}
		value, err := evaluate(source, u.Step.Kind == plan.KindCondition, u.Env)
		if err != nil {
			return append([]domain.Event{started}, failStep(s, u.Key, u.Step, attempt, err.Error())...), time.Time{}, nil
		}
		return []domain.Event{started, execution.StepSucceeded{Key: u.Key, Attempt: attempt, Output: value}}, time.Time{}, nil
	case plan.KindCall:
		events, due, err := e.call(ctx, r, u, started)
		return events, due, err
	}
	return failStep(s, u.Key, u.Step, attempt, "unknown step kind "+string(u.Step.Kind)), time.Time{}, nil
}

// timedOut ends an execution past its timeout (found between steps: after
// a step that ended late, or when the engine resumes after a long stop),
// naming the step it stopped at.
func timedOut(s execution.State, next execution.Unit, noNext bool) execution.Failed {
	key := s.InFlight
	if key == "" && !noNext {
		key = next.Key
	}
	reason := fmt.Sprintf("the execution ran longer than its timeout of %s", s.Timeout)
	if _, began := s.Steps[key]; began && key != "" {
		reason += "; step " + key + " had not finished"
	} else if key != "" {
		reason += "; step " + key + " had not started"
	}
	return execution.Failed{Key: key, Reason: reason, Done: s.Done()}
}

func evaluate(source string, asBool bool, env plan.Env) (any, error) {
	ex, err := plan.Compile(source)
	if err != nil {
		return nil, err
	}
	if asBool {
		return ex.EvalBool(env)
	}
	return ex.Eval(env)
}

// failStep ends the execution at a step: step_failed, then execution.failed
// naming the step, why, and what was already done.
func failStep(s execution.State, key string, step *plan.Step, attempt int, reason string) []domain.Event {
	out := []domain.Event{}
	if step != nil {
		out = append(out, execution.StepFailed{Key: key, Attempt: attempt, Reason: reason})
	}
	return append(out, execution.Failed{Key: key, Reason: reason, Done: s.Done()})
}

// fillOutputs reads from the blob store the outputs of calls whose bodies
// were too large for their events.
func (e *Engine) fillOutputs(ctx context.Context, s execution.State) error {
	for _, st := range s.Steps {
		if st.Output != nil || st.Status != execution.StepStatusSucceeded || st.Response == nil || !st.Response.Capped || st.Response.BlobHash == "" {
			continue
		}
		body, err := e.d.Blobs.Get(ctx, st.Response.BlobHash)
		if err != nil {
			return fmt.Errorf("response of %s: %w", st.Key, err)
		}
		var v any
		if json.Unmarshal(body, &v) != nil {
			v = string(body)
		}
		st.Output = v
	}
	return nil
}

// operationCache keeps decoded catalogues by content hash.
type operationCache struct {
	mu   sync.Mutex
	byID map[string]map[string]openapi.Operation
}

func newOperationCache() *operationCache {
	return &operationCache{byID: map[string]map[string]openapi.Operation{}}
}

func (e *Engine) operation(ctx context.Context, hash, operationID string) (openapi.Operation, bool, error) {
	e.ops.mu.Lock()
	ops, ok := e.ops.byID[hash]
	e.ops.mu.Unlock()
	if !ok {
		list, err := e.d.catalogue(ctx, hash)
		if err != nil {
			return openapi.Operation{}, false, err
		}
		ops = make(map[string]openapi.Operation, len(list))
		for _, o := range list {
			ops[o.OperationID] = o
		}
		e.ops.mu.Lock()
		e.ops.byID[hash] = ops
		e.ops.mu.Unlock()
	}
	op, found := ops[operationID]
	return op, found, nil
}

// connCache keeps the connections executions read, for
// ExecutionConfig.ConnectionTTL: the executions of one plan claimed
// together read their connection once.
type connCache struct {
	mu   sync.Mutex
	byID map[string]cachedConn
}

type cachedConn struct {
	conn loaded[connection.State]
	at   time.Time
}

// connCacheSweep is the size past which expired entries are dropped.
const connCacheSweep = 4096

// connection reads a tenant's connection, or takes it from the cache when
// it was read less than ConnectionTTL ago.
func (e *Engine) connection(ctx context.Context, tenantID, connectionID string) (loaded[connection.State], error) {
	ttl := e.d.Config.ConnectionTTL
	key := tenantID + "\x00" + connectionID
	now := time.Now()
	if ttl > 0 {
		e.conns.mu.Lock()
		c, ok := e.conns.byID[key]
		e.conns.mu.Unlock()
		if ok && now.Sub(c.at) < ttl {
			return c.conn, nil
		}
	}
	conn, err := loadConnection(ctx, e.d.Store, tenantID, connectionID, false)
	if err != nil || ttl <= 0 {
		return conn, err
	}
	conn.recorded = nil // only the state is used
	e.conns.mu.Lock()
	defer e.conns.mu.Unlock()
	if len(e.conns.byID) >= connCacheSweep {
		for k, c := range e.conns.byID {
			if now.Sub(c.at) >= ttl {
				delete(e.conns.byID, k)
			}
		}
	}
	e.conns.byID[key] = cachedConn{conn: conn, at: now}
	return conn, nil
}

// call runs one call step: the request resolved from the plan, the
// connection's credentials injected by the credentials manager at call
// time (never stored), the answer scrubbed before it is stored.
func (e *Engine) call(ctx context.Context, r *run, u execution.Unit, started execution.StepStarted) ([]domain.Event, time.Time, error) {
	s, c := r.state, u.Step.Call
	fail := func(reason string) ([]domain.Event, time.Time, error) {
		return append([]domain.Event{started}, failStep(s, u.Key, u.Step, started.Attempt, reason)...), time.Time{}, nil
	}
	conn, cached := r.conns[c.ConnectionID]
	var err error
	if !cached {
		conn, err = e.connection(ctx, r.meta.TenantID, c.ConnectionID)
		if err == nil {
			r.conns[c.ConnectionID] = conn
		}
	}
	if errors.Is(err, connection.ErrNotFound) {
		return fail("the connection " + c.ConnectionID + " no longer exists")
	}
	if err != nil {
		return nil, time.Time{}, err
	}
	if conn.state.Disabled {
		return fail("the connection " + c.ConnectionID + " is disabled")
	}
	started.CredentialType, started.CredentialKeyID = conn.state.Credentials.Type, conn.state.Credentials.KeyID
	op, found, err := e.operation(ctx, conn.state.CatalogueHash, c.OperationID)
	if err != nil {
		return nil, time.Time{}, err
	}
	if !found {
		return fail("the connection's document has no operation " + c.OperationID + " any more")
	}
	req, body, err := buildRequest(conn.state.BaseURL, op, c, u.Env)
	if err != nil {
		return fail(err.Error())
	}
	// The connection's id keys the caller's rate limiter and circuit
	// breaker; one attempt per call: the engine schedules (and records)
	// every retry itself.
	req.Key, req.MaxAttempts = c.ConnectionID, 1
	req.MaxResponseBytes, req.AllowTruncated = e.d.Config.MaxResponseBytes, true
	if header := idempotencyHeader(op); header != "" {
		req.IdempotencyHeader = header
		req.IdempotencyKey = uuid.NewSHA1(uuid.NameSpaceURL, []byte("apiq:"+s.ExecutionID+":"+u.Key)).String()
	}
	method := req.Method
	started.Repeatable = method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions || req.IdempotencyKey != ""
	req.NonIdempotent = !started.Repeatable
	sentHeader := req.Header.Clone()
	started.Request = &execution.Request{Method: method, URL: req.URL, Header: sentHeader, Body: string(body),
		IdempotencyKey: req.IdempotencyKey, IdempotencyHeader: req.IdempotencyHeader}
	if !started.Repeatable {
		// Durable before the call: a crash now leaves the evidence.
		if err := e.record(ctx, r, []domain.Event{started}); err != nil {
			return nil, time.Time{}, err
		}
		s = r.state
	}
	// The step timeout bounds the call, and so does what is left of the
	// execution's own timeout.
	stepTimeout, cutByExecution := s.StepTimeout, false
	if s.Timeout > 0 {
		if left := s.Timeout - e.d.Now().Sub(r.started); left < stepTimeout {
			stepTimeout, cutByExecution = max(left, time.Millisecond), true
		}
	}
	callCtx, cancel := context.WithTimeout(ctx, stepTimeout)
	res, applied, callErr := e.d.Credentials.Do(callCtx, r.meta.TenantID, c.ConnectionID, conn.state.Credentials, req)
	cancel()
	if ctx.Err() != nil {
		return nil, time.Time{}, ctx.Err()
	}
	scrub := applied.Scrubber()
	started.Request.URL = scrub.URL(started.Request.URL)
	started.Request.Header = scrub.Header(sentHeader)
	started.Request.Body = scrub.String(started.Request.Body)
	var prefix []domain.Event
	if started.Repeatable {
		prefix = []domain.Event{started}
	}
	status, took := 0, time.Duration(0)
	var resp *execution.Response
	if res != nil {
		status, took = res.Status, res.Duration
		if resp, err = e.storeResponse(ctx, res, scrub); err != nil {
			return nil, time.Time{}, err
		}
	}
	attempt, ms := started.Attempt, took.Milliseconds()
	if callErr == nil && status >= 200 && status <= 299 {
		return append(prefix, execution.StepSucceeded{Key: u.Key, Attempt: attempt, Status: status, DurationMS: ms, Response: resp}), time.Time{}, nil
	}
	reason, retryable, sent := describeFailure(status, callErr, scrub)
	if resp != nil && callErr == nil {
		reason += bodyExcerpt(resp)
	}
	if callErr == nil && status == http.StatusConflict && req.IdempotencyKey != "" {
		// A Stripe-style API answers 409 while a request with the same key
		// is still being handled (one sent before a timeout or a crash);
		// the same key later replays its result.
		retryable = true
	}
	if cutByExecution && callErr != nil && (errors.Is(callErr, outbound.ErrTimeout) || errors.Is(callErr, context.DeadlineExceeded)) {
		reason, retryable = fmt.Sprintf("the execution's timeout of %s passed while the API had not answered", s.Timeout), false
	}
	if !started.Repeatable && sent && callErr != nil {
		// The request may have reached the API: its outcome is unknown.
		return append(prefix, execution.NeedsAttention{Key: u.Key, Done: s.Done(),
			Reason: reason + "; the call may have reached the API and may not be sent again: check the API"}), time.Time{}, nil
	}
	if retryable && (started.Repeatable || !sent) && attempt < s.MaxAttempts {
		wait := e.backoff(attempt)
		if res != nil && res.RetryAfter > wait {
			wait = res.RetryAfter
		}
		at := e.d.Now().Add(wait)
		if s.Timeout > 0 && at.Sub(r.started) > s.Timeout {
			reason = fmt.Sprintf("%s; the retry (in %s) would come after the execution's timeout of %s", reason, wait.Round(time.Millisecond), s.Timeout)
			return append(prefix,
				execution.StepFailed{Key: u.Key, Attempt: attempt, Status: status, DurationMS: ms, Reason: reason, Response: resp},
				execution.Failed{Key: u.Key, Reason: reason, Done: s.Done()}), time.Time{}, nil
		}
		return append(prefix, execution.StepRetryScheduled{Key: u.Key, Attempt: attempt, Status: status, DurationMS: ms,
			Reason: reason, WaitMS: wait.Milliseconds(), RetryAt: at, Response: resp}), at, nil
	}
	if retryable && attempt >= s.MaxAttempts {
		reason = fmt.Sprintf("%s (after %d attempts)", reason, attempt)
	}
	return append(prefix,
		execution.StepFailed{Key: u.Key, Attempt: attempt, Status: status, DurationMS: ms, Reason: reason, Response: resp},
		execution.Failed{Key: u.Key, Reason: reason, Done: s.Done()}), time.Time{}, nil
}

// maxExcerpt bounds the part of a failed call's response body quoted in
// its reason (the whole capped body is in the step's response).
const maxExcerpt = 512

// bodyExcerpt quotes the start of a failed call's (scrubbed) response
// body, JSON compacted, so that a failure such as a request validation
// error says why on its own.
func bodyExcerpt(resp *execution.Response) string {
	body := strings.TrimSpace(resp.Body)
	if body == "" {
		return ""
	}
	var compact bytes.Buffer
	if json.Compact(&compact, []byte(body)) == nil {
		body = compact.String()
	}
	if len(body) > maxExcerpt {
		cut := maxExcerpt
		for cut > 0 && !utf8.RuneStart(body[cut]) {
			cut--
		}
		body = body[:cut] + "…"
	}
	return ": " + body
}

// backoff is full jitter over an exponential bound.
func (e *Engine) backoff(attempt int) time.Duration {
	bound := e.d.Config.RetryBase << min(attempt-1, 16)
	if bound > e.d.Config.RetryMax || bound <= 0 {
		bound = e.d.Config.RetryMax
	}
	return bound/2 + rand.N(bound/2+1)
}

// describeFailure says why a call failed, whether trying later may help,
// and whether the request may have been sent.
func describeFailure(status int, err error, scrub *outbound.Scrubber) (reason string, retryable, sent bool) {
	if err == nil {
		retry := status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500
		return fmt.Sprintf("the API answered %d", status), retry, true
	}
	switch {
	case errors.Is(err, outbound.ErrCircuitOpen):
		return "the connection's circuit breaker is open after repeated failures", true, false
	case errors.Is(err, outbound.ErrRateLimited):
		return "the connection's rate limit was reached", true, false
	case errors.Is(err, outbound.ErrBlockedAddress), errors.Is(err, outbound.ErrForbiddenURL), errors.Is(err, outbound.ErrRequestTooLarge):
		return testFailure(err), false, false
	case errors.Is(err, credentials.ErrNotAuthorized), errors.Is(err, credentials.ErrReauthorizationRequired):
		return testFailure(err), false, status != 0
	case errors.Is(err, outbound.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "the API did not answer within the step timeout", true, true
	}
	return scrub.String(testFailure(err)), true, true
}

// storeResponse scrubs a response and caps its body for the event; a body
// over the cap is kept whole in the blob store.
func (e *Engine) storeResponse(ctx context.Context, res *outbound.Result, scrub *outbound.Scrubber) (*execution.Response, error) {
	body := scrub.Body(res.Body)
	out := &execution.Response{Status: res.Status, Header: scrub.Header(res.Header), BodyBytes: int64(len(body)),
		BodySHA256: sha256Hex(body), Truncated: res.Truncated}
	if limit := e.d.Config.MaxStoredBody; len(body) > limit {
		hash, err := e.d.Blobs.Put(ctx, res.Header.Get("Content-Type"), body)
		if err != nil {
			return nil, fmt.Errorf("keep response body: %w", err)
		}
		cut := limit
		for cut > 0 && !utf8.RuneStart(body[cut]) {
			cut--
		}
		out.Body, out.Capped, out.BlobHash = string(body[:cut]), true, hash
		return out, nil
	}
	out.Body = string(body)
	return out, nil
}

// idempotencyHeader is the header parameter through which the operation
// takes an idempotency key, if it declares one.
func idempotencyHeader(op openapi.Operation) string {
	for _, p := range op.Parameters {
		if p.In == "header" && strings.EqualFold(p.Name, outbound.DefaultIdempotencyHeader) {
			return p.Name
		}
	}
	return ""
}

// buildRequest resolves the call's parameters and body over env.
func buildRequest(baseURL string, op openapi.Operation, c *plan.Call, env plan.Env) (outbound.Request, []byte, error) {
	resolve := func(field string, m map[string]any) (map[string]string, error) {
		out := make(map[string]string, len(m))
		for name, v := range m {
			rv, err := plan.Resolve(v, env)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", field, name, err)
			}
			out[name] = paramString(rv)
		}
		return out, nil
	}
	path, err := resolve("path", c.Path)
	if err != nil {
		return outbound.Request{}, nil, err
	}
	query, err := resolve("query", c.Query)
	if err != nil {
		return outbound.Request{}, nil, err
	}
	header, err := resolve("header", c.Header)
	if err != nil {
		return outbound.Request{}, nil, err
	}
	target := op.Path
	for name, v := range path {
		target = strings.ReplaceAll(target, "{"+name+"}", url.PathEscape(v))
	}
	target = strings.TrimRight(baseURL, "/") + target
	if len(query) > 0 {
		q := url.Values{}
		for k, v := range query {
			q.Set(k, v)
		}
		target += "?" + q.Encode()
	}
	h := http.Header{"Accept": {"application/json, */*;q=0.5"}}
	for k, v := range header {
		h.Set(k, v)
	}
	req := outbound.Request{Method: op.Method, URL: target, Header: h}
	var body []byte
	if c.Body != nil {
		rv, err := plan.Resolve(c.Body, env)
		if err != nil {
			return outbound.Request{}, nil, fmt.Errorf("body: %w", err)
		}
		if body, err = json.Marshal(rv); err != nil {
			return outbound.Request{}, nil, fmt.Errorf("body: %w", err)
		}
		h.Set("Content-Type", "application/json")
		req.Body = bytes.NewReader(body)
	}
	return req, body, nil
}

// paramString writes a parameter value: strings as they are, numbers in
// shortest form, anything else as JSON.
func paramString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
