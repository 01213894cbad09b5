package planning

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sashabaranov/go-openai"

	"github.com/apiq/apiq/adapters/llm"
	"github.com/apiq/apiq/adapters/tools"
	"github.com/apiq/apiq/domain/plan"
)

// Problem codes of planning (the others are plan's and tools').
const (
	// CodeNotOffered: a step calls an operation that was not offered.
	CodeNotOffered = "tool_not_offered"
	// CodeConflictingAnswer: the model called no_suitable_endpoint and steps.
	CodeConflictingAnswer = "conflicting_answer"
	// CodePlanTooLarge: the plan's JSON exceeds Config.MaxPlanBytes.
	CodePlanTooLarge = "plan_too_large"
	// The model could not be asked: it timed out, kept rate limiting,
	// was unavailable, refused the request or answered garbage.
	CodeModelTimeout      = "llm_timeout"
	CodeModelRateLimited  = "llm_rate_limited"
	CodeModelUnavailable  = "llm_unavailable"
	CodeModelRejected     = "llm_rejected"
	CodeModelInvalidReply = "llm_invalid_reply"
)

// maxReasonRunes bounds a reason taken from the model's text.
const maxReasonRunes = 500

// attempt is what one reply of the model amounts to.
type attempt struct {
	plan       *plan.Plan
	problems   plan.Problems
	noSuitable bool
	reason     string
}

// withModel plans with the model: one round, and one repair round when
// the first reply is not a valid plan.
func (p *Planner) withModel(ctx context.Context, req Request, s scope) (Result, error) {
	candidates, err := p.rank(ctx, req.TenantID, searchQuery(req), s, kept(req), p.cfg.MaxCandidates, true)
	if err != nil {
		return Result{}, err
	}
	if len(candidates) == 0 {
		return noSuitable("no operation of the connections matches the request", plan.ModeLLM), nil
	}
	offered, refs, err := p.offer(s.cat.set, candidates)
	if err != nil {
		return Result{}, err
	}
	isOffered := make(map[plan.OperationRef]bool, len(refs))
	for _, ref := range refs {
		isOffered[ref] = true
	}
	conv := p.cfg.Model.NewConversation(systemPrompt(s.connections()))
	conv.User(userMessage(req))
	record := plan.Planning{Mode: plan.ModeLLM, Model: p.cfg.Model.Model(), Candidates: len(candidates), ToolsOffered: len(offered)}
	for _, c := range s.connections() {
		record.Catalogues = append(record.Catalogues, plan.CatalogueRef{ConnectionID: c.ID, CatalogueHash: c.CatalogueHash})
	}
	var last attempt
	var res plan.Result
	var waited time.Duration
	for round := range 2 {
		record.Rounds++
		sent := time.Now()
		reply, err := conv.Send(ctx, offered, llm.SendOptions{})
		waited += time.Since(sent)
		if err != nil {
			if isCancellation(ctx, err) {
				return Result{}, err
			}
			res = plan.Result{Status: plan.StatusFailed, Outcome: plan.Outcome{Plan: last.plan, Problems: plan.Problems{p.modelProblem(err)}}}
			break
		}
		last = p.read(reply.Message, s, isOffered)
		if last.noSuitable {
			res = plan.Result{Status: plan.StatusNoSuitableEndpoint, Outcome: plan.Outcome{Reason: last.reason}}
			break
		}
		if len(last.problems) == 0 {
			res = plan.Result{Status: plan.StatusProposed, Outcome: plan.Outcome{Plan: last.plan, Confidence: plan.ConfidenceHigh}}
			break
		}
		if round == 1 {
			res = plan.Result{Status: plan.StatusFailed, Outcome: plan.Outcome{Plan: last.plan, Problems: last.problems}}
			break
		}
		record.RepairRounds++
		conv.AnswerToolCalls("Not run: the plan is invalid. Problems (step, field: message (code)):\n" + last.problems.String())
		conv.User(repairRequest)
	}
	transcript := conv.Transcript()
	record.Usage = plan.Usage(transcript.Usage)
	res.Outcome.Planning = record
	if res.Status == plan.StatusProposed {
		res.Outcome.Confirmation = confirmation(*res.Outcome.Plan, s.cat, record.Usage)
	}
	raw, err := json.Marshal(transcript)
	if err != nil {
		return Result{}, fmt.Errorf("encode transcript: %w", err)
	}
	return Result{Result: res, Transcript: raw, ModelDuration: waited}, nil
}

// read turns a reply into a plan and its problems: the tool calls decoded
// into steps, steps calling operations that were not offered refused, and
// the plan validated against the catalogue.
func (p *Planner) read(msg openai.ChatCompletionMessage, s scope, isOffered map[plan.OperationRef]bool) attempt {
	if len(msg.ToolCalls) == 0 {
		reason := strings.TrimSpace(msg.Content)
		if reason == "" {
			reason = "the model proposed no step"
		}
		return attempt{noSuitable: true, reason: truncate(reason, maxReasonRunes)}
	}
	set := s.cat.set
	d := set.Decode(msg.ToolCalls)
	if d.NoSuitableEndpointCalled && len(d.Steps) == 0 && len(d.Problems) == 0 && len(d.Selected) == 0 {
		reason := strings.TrimSpace(d.NoSuitableEndpoint)
		if reason == "" {
			reason = "the model found no suitable operation"
		}
		return attempt{noSuitable: true, reason: truncate(reason, maxReasonRunes)}
	}
	problems := d.Problems
	if d.NoSuitableEndpointCalled {
		problems = append(problems, plan.Problem{Code: CodeConflictingAnswer, Message: "no_suitable_endpoint was called " +
			"together with steps: call either the steps of a plan or no_suitable_endpoint alone"})
	}
	if len(d.Selected) > 0 {
		problems = append(problems, plan.Problem{Code: tools.CodeUnknownTool, Message: fmt.Sprintf(
			"%s is not offered in this request; call the operation tools directly", tools.ToolSelectOperations)})
	}
	pl := plan.Plan{Steps: d.Steps}
	for _, step := range pl.Calls() {
		if ref := step.Call.Ref(); !isOffered[ref] {
			name, _ := set.Name(ref)
			problems = append(problems, plan.Problem{Step: step.ID, Field: "call.operation_id", Code: CodeNotOffered, Message: fmt.Sprintf(
				"tool %s was not offered for this request; use only the tools offered", name)})
		}
	}
	problems = append(problems, plan.Validate(pl, set)...)
	if raw, err := json.Marshal(pl); err == nil && len(raw) > p.cfg.MaxPlanBytes {
		problems = append(problems, plan.Problem{Code: CodePlanTooLarge, Message: fmt.Sprintf(
			"the plan's JSON has %d bytes; at most %d", len(raw), p.cfg.MaxPlanBytes)})
	}
	if len(problems) > plan.MaxProblems {
		problems = problems[:plan.MaxProblems]
	}
	return attempt{plan: &pl, problems: problems}
}

// modelProblem describes why the model could not be asked.
func (p *Planner) modelProblem(err error) plan.Problem {
	code, what := "llm_error", "the model could not be asked"
	switch {
	case errors.Is(err, llm.ErrTimeout):
		code, what = CodeModelTimeout, fmt.Sprintf("the model did not answer within the planning time limit (%s)", p.cfg.Timeout)
	case errors.Is(err, llm.ErrRateLimited):
		code, what = CodeModelRateLimited, "the model's API kept refusing with 429 (rate limited)"
	case errors.Is(err, llm.ErrUnavailable):
		code, what = CodeModelUnavailable, "the model's API was unavailable"
	case errors.Is(err, llm.ErrRejected):
		code, what = CodeModelRejected, "the model's API refused the request"
	case errors.Is(err, llm.ErrInvalidReply):
		code, what = CodeModelInvalidReply, "the model's API answered something that is not a chat completion"
	}
	return plan.Problem{Code: code, Message: what + "; try again later (" + truncate(err.Error(), maxReasonRunes) + ")"}
}

// truncate cuts text to n runes.
func truncate(text string, n int) string {
	if utf8.RuneCountInString(text) <= n {
		return text
	}
	return string([]rune(text)[:n]) + "…"
}
