package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/http/apierror"
	"github.com/apiq/apiq/http/auth"
)

// ExecutionCommands starts and cancels executions of the caller's tenant.
type ExecutionCommands interface {
	StartExecution(ctx context.Context, meta eventstore.Metadata, in NewExecution) (ExecutionAccepted, error)
	CancelExecution(ctx context.Context, meta eventstore.Metadata, id, reason string) (ExecutionAccepted, error)
}

// ExecutionQueries reads executions: the list and detail from the read
// model, the events straight from the execution's stream (so a client
// following an execution never waits for projections). Another tenant's
// execution is not found.
type ExecutionQueries interface {
	GetExecution(ctx context.Context, tenantID, id string) (Execution, error)
	// ListExecutions returns a page and the cursor of the next ("" on the last).
	ListExecutions(ctx context.Context, tenantID string, filter ExecutionFilter) (executions []Execution, next string, err error)
	// ExecutionEvents returns the execution's events after stream version
	// after (-1: from the first), and whether the execution has ended.
	ExecutionEvents(ctx context.Context, tenantID, id string, after int64) (events []ExecutionEvent, ended bool, err error)
	// WakeOnAppend returns a channel closed at the next append to the store.
	WakeOnAppend(ctx context.Context) <-chan struct{}
}

// NewExecution is the body of POST /v1/executions.
type NewExecution struct {
	PlanID  string         `json:"plan_id"`
	Version int64          `json:"version,omitempty"`
	Inputs  map[string]any `json:"inputs,omitempty"`
}

// ExecutionAccepted is the answer of the execution commands.
type ExecutionAccepted struct {
	ExecutionID string `json:"execution_id"`
	Status      string `json:"status"`
	Position    string `json:"position"`
}

// ExecutionFilter selects a page of executions.
type ExecutionFilter struct {
	Status string
	PlanID string
	Since  time.Time
	Until  time.Time
	Page
}

// Execution is an execution as the API shows it.
type Execution struct {
	ID          string            `json:"id"`
	PlanID      string            `json:"plan_id"`
	PlanVersion int64             `json:"plan_version"`
	Status      string            `json:"status"`
	Inputs      map[string]any    `json:"inputs"`
	Outcome     *ExecutionOutcome `json:"outcome,omitempty"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
	FinishedAt  *time.Time        `json:"finished_at,omitempty"`
	Version     int64             `json:"version"`
	// Steps are shown by GET /v1/executions/{id} only.
	Steps []ExecutionStep `json:"steps,omitempty"`
}

// ExecutionOutcome says how an execution ended: the step at fault, why,
// and the steps that had succeeded.
type ExecutionOutcome struct {
	Step   string   `json:"step,omitempty"`
	Reason string   `json:"reason,omitempty"`
	Done   []string `json:"done,omitempty"`
}

// ExecutionStep is one step (or foreach iteration) of an execution.
type ExecutionStep struct {
	Key        string          `json:"key"`
	StepID     string          `json:"step_id"`
	Kind       string          `json:"kind"`
	Status     string          `json:"status"`
	Attempts   int             `json:"attempts"`
	HTTPStatus int             `json:"http_status,omitempty"`
	DurationMS int64           `json:"duration_ms"`
	Request    json.RawMessage `json:"request,omitempty"`
	Response   json.RawMessage `json:"response,omitempty"`
	Error      string          `json:"error,omitempty"`
	RetryAt    *time.Time      `json:"retry_at,omitempty"`
}

// ExecutionEvent is one event of an execution stream as Server-Sent Events
// carry it: the id is the stream version.
type ExecutionEvent struct {
	Version int64           `json:"version"`
	Type    string          `json:"type"`
	At      time.Time       `json:"at"`
	Data    json.RawMessage `json:"data"`
}

// executionHeartbeat is how often an idle event stream sends a comment,
// keeping proxies from closing it.
const executionHeartbeat = 15 * time.Second

func (s *server) startExecution(c *gin.Context) {
	var in NewExecution
	if !decode(c, &in) {
		return
	}
	out, err := s.deps.ExecutionCommands.StartExecution(c.Request.Context(), s.metadata(c), in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, out)
}

func (s *server) cancelExecution(c *gin.Context) {
	var in struct {
		Reason string `json:"reason"`
	}
	if !decodeOptional(c, &in) {
		return
	}
	out, err := s.deps.ExecutionCommands.CancelExecution(c.Request.Context(), s.metadata(c), c.Param("id"), in.Reason)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

func (s *server) getExecution(c *gin.Context) {
	p, _ := auth.PrincipalFrom(c)
	e, err := s.deps.ExecutionQueries.GetExecution(c.Request.Context(), p.TenantID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	if e.Steps == nil {
		e.Steps = []ExecutionStep{}
	}
	c.JSON(http.StatusOK, e)
}

func (s *server) listExecutions(c *gin.Context) {
	p, _ := auth.PrincipalFrom(c)
	limit, _ := strconv.Atoi(c.Query("limit")) // validated against the document
	filter := ExecutionFilter{Status: c.Query("status"), PlanID: c.Query("plan_id"), Page: Page{Limit: limit, After: c.Query("after")}}
	for name, t := range map[string]*time.Time{"since": &filter.Since, "until": &filter.Until} {
		if raw := c.Query(name); raw != "" {
			parsed, err := time.Parse(time.RFC3339, raw) // the document checks the format
			if err != nil {
				apierror.Abort(c, apierror.New(http.StatusBadRequest, apierror.CodeValidationFailed, "invalid time").
					WithDetails([]map[string]string{{"in": "query", "field": name, "message": err.Error()}}))
				return
			}
			*t = parsed
		}
	}
	list, next, err := s.deps.ExecutionQueries.ListExecutions(c.Request.Context(), p.TenantID, filter)
	if err != nil {
		s.fail(c, err)
		return
	}
	if list == nil {
		list = []Execution{}
	}
	body := gin.H{"executions": list}
	if next != "" {
		body["next"] = next
	}
	c.JSON(http.StatusOK, body)
}

// executionEvents streams an execution's events as Server-Sent Events,
// from its stream: those after Last-Event-ID (a stream version) or from
// the first, then live ones as they are appended, until the execution
// ends or the client goes away.
func (s *server) executionEvents(c *gin.Context) {
	p, _ := auth.PrincipalFrom(c)
	ctx := c.Request.Context()
	id := c.Param("id")
	after := int64(-1)
	if raw := c.GetHeader("Last-Event-ID"); raw != "" {
		v, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || v < -1 {
			apierror.Abort(c, apierror.New(http.StatusBadRequest, apierror.CodeValidationFailed, "Last-Event-ID must be a stream version").
				WithDetails([]map[string]string{{"in": "header", "field": "Last-Event-ID", "message": "not a stream version"}}))
			return
		}
		after = v
	}
	// The first read answers 404 before any byte of the stream is sent.
	wake := s.deps.ExecutionQueries.WakeOnAppend(ctx)
	events, ended, err := s.deps.ExecutionQueries.ExecutionEvents(ctx, p.TenantID, id, after)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Content-Type", "text/event-stream")
	c.Header("Cache-Control", "no-cache")
	c.Header("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	heartbeat := time.NewTicker(executionHeartbeat)
	defer heartbeat.Stop()
	for {
		for _, ev := range events {
			c.Render(-1, sseEvent{id: strconv.FormatInt(ev.Version, 10), event: ev.Type, data: ev})
			after = ev.Version
		}
		c.Writer.Flush()
		if ended {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-heartbeat.C:
			_, _ = fmt.Fprint(c.Writer, ": keep-alive\n\n")
			c.Writer.Flush()
			continue
		case <-wake:
			wake = s.deps.ExecutionQueries.WakeOnAppend(ctx)
		}
		if events, ended, err = s.deps.ExecutionQueries.ExecutionEvents(ctx, p.TenantID, id, after); err != nil {
			if ctx.Err() == nil {
				s.deps.Logger.ErrorContext(ctx, "execution events", "execution_id", id, "error", err)
			}
			return
		}
	}
}

// sseEvent renders one Server-Sent Event with its id (gin's own SSE
// renderer has no id field in c.SSEvent).
type sseEvent struct {
	id, event string
	data      any
}

// Render implements render.Render.
func (e sseEvent) Render(w http.ResponseWriter) error {
	data, err := json.Marshal(e.data)
	if err != nil {
		return fmt.Errorf("encode event %s: %w", e.id, err)
	}
	_, err = fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", e.id, e.event, data)
	return err
}

// WriteContentType implements render.Render.
func (sseEvent) WriteContentType(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
}
