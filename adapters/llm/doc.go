// Package llm is APIQ's client of an OpenAI-compatible chat completions API
// (go-openai), configured from APIQ_LLM_BASE_URL, APIQ_LLM_API_KEY and
// APIQ_LLM_MODEL. Not configuring it is a valid state (Config.Configured).
//
// Complete sends one request within a timeout, retrying 429 and 5xx
// answers and unreachable servers with jittered exponential backoff or the
// server's Retry-After, and returns the first choice with its token usage.
// Conversation keeps a planning dialogue and records a Transcript — model,
// messages, tools offered, tool calls, usage — bounded in size for an event
// payload. Neither logs prompts or the key; errors from the server have the
// key removed.
package llm
