package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/apiq/apiq/adapters/llm"
	"github.com/apiq/apiq/commands/planning"
)

// PlanningConfig says which model plans with (none: drafts from the
// catalogue search) and how long a planning may take.
type PlanningConfig struct {
	// LLM is read from APIQ_LLM_BASE_URL, APIQ_LLM_API_KEY and APIQ_LLM_MODEL.
	LLM llm.Config
	// Timeout bounds one planning, model rounds included (APIQ_LLM_TIMEOUT).
	Timeout time.Duration
}

// maxPlanningTimeout keeps a planning within the HTTP write timeout (60 s)
// and the Idempotency-Key lease (1 min).
const maxPlanningTimeout = 55 * time.Second

func planningVars() []envVar {
	return []envVar{
		{llm.EnvBaseURL, "", "OpenAI-compatible API root of the planning model (OpenAI, Azure OpenAI v1, Ollama, vLLM) [" + llm.DefaultBaseURL + " when a model is set]"},
		{llm.EnvAPIKey, "", "the planning model's API key (optional for local servers)"},
		{llm.EnvModel, "", "the planning model, e.g. gpt-4o-mini; without base URL, key and model, plans are drafts from the catalogue search"},
		{"APIQ_LLM_TIMEOUT", planning.DefaultTimeout.String(), "bounds one planning, model rounds and retries included (at most 55s)"},
	}
}

// loadPlanningConfig reads the planning variables through get (trimmed, with defaults).
func loadPlanningConfig(get func(name, def string) string) (PlanningConfig, []error) {
	cfg := PlanningConfig{LLM: llm.ConfigFromEnv(func(name string) string { return get(name, "") })}
	var errs []error
	var err error
	if cfg.Timeout, err = time.ParseDuration(get("APIQ_LLM_TIMEOUT", planning.DefaultTimeout.String())); err != nil {
		errs = append(errs, fmt.Errorf("APIQ_LLM_TIMEOUT: %w", err))
		cfg.Timeout = planning.DefaultTimeout // reported once
	}
	return cfg, errs
}

// Validate reports every problem of the planning configuration; messages
// never show the key.
func (c PlanningConfig) Validate() error {
	var errs []error
	if err := c.LLM.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Timeout < time.Second || c.Timeout > maxPlanningTimeout {
		errs = append(errs, fmt.Errorf("APIQ_LLM_TIMEOUT %s: want between 1s and %s", c.Timeout, maxPlanningTimeout))
	}
	return errors.Join(errs...)
}
