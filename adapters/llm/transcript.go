package llm

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/sashabaranov/go-openai"
)

// Bounds of a Transcript, so that it fits in an event payload.
const (
	// MaxTranscriptBytes caps a transcript's JSON.
	MaxTranscriptBytes = 256 << 10
	// MaxMessageBytes caps each recorded message text and tool call's arguments.
	MaxMessageBytes = 32 << 10
	// minMessageBytes is as far as shrinking goes for any one text.
	minMessageBytes = 256
)

// Transcript records what a model was asked and answered, for the audit
// trail of a plan: the conversation once (each message as first added),
// and per round what was sent, offered and answered. Texts are cut to fit
// MaxTranscriptBytes, and Truncated says so.
type Transcript struct {
	Model    string    `json:"model"`
	Messages []Message `json:"messages"`
	Rounds   []Round   `json:"rounds"`
	// Usage sums the rounds' token usage.
	Usage     Usage `json:"usage"`
	Truncated bool  `json:"truncated,omitempty"`
}

// Message is one recorded chat message.
type Message struct {
	Role       string     `json:"role"`
	Content    string     `json:"content,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

// ToolCall is one recorded tool call of a reply.
type ToolCall struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// Round is one request to the model.
type Round struct {
	// Sent is how many of the transcript's messages the request carried
	// (always the first ones).
	Sent int `json:"sent"`
	// Reply is the index of the answer in Messages, -1 when the round failed.
	Reply int `json:"reply"`
	// Tools names the tools offered.
	Tools        []string `json:"tools,omitempty"`
	ToolChoice   string   `json:"tool_choice,omitempty"`
	FinishReason string   `json:"finish_reason,omitempty"`
	Model        string   `json:"model,omitempty"`
	Usage        Usage    `json:"usage"`
	Attempts     int      `json:"attempts"`
	DurationMS   int64    `json:"duration_ms"`
	// Error describes a failed round (never the key).
	Error string `json:"error,omitempty"`
}

// recordMessage converts a chat message for the transcript, texts cut to
// MaxMessageBytes; cut reports whether any was.
func recordMessage(m openai.ChatCompletionMessage) (out Message, wasCut bool) {
	text := func(s string) string {
		if len(s) > MaxMessageBytes {
			wasCut = true
			return cut(s, MaxMessageBytes)
		}
		return s
	}
	content := m.Content
	for _, part := range m.MultiContent {
		if part.Type == openai.ChatMessagePartTypeText {
			content += part.Text
		}
	}
	out = Message{Role: m.Role, Content: text(content), ToolCallID: m.ToolCallID}
	for _, tc := range m.ToolCalls {
		out.ToolCalls = append(out.ToolCalls, ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: text(tc.Function.Arguments)})
	}
	return out, wasCut
}

// toolNames lists the names of offered tools.
func toolNames(tools []openai.Tool) []string {
	out := make([]string, 0, len(tools))
	for _, t := range tools {
		if t.Function != nil {
			out = append(out, t.Function.Name)
		} else {
			out = append(out, string(t.Type))
		}
	}
	return out
}

// toolChoiceName renders a request's tool choice.
func toolChoiceName(choice any) string {
	switch c := choice.(type) {
	case nil:
		return ""
	case string:
		return c
	case openai.ToolChoice:
		return "function:" + c.Function.Name
	case *openai.ToolChoice:
		return "function:" + c.Function.Name
	}
	return "custom"
}

// bound cuts the longest texts until the transcript's JSON fits.
func (t *Transcript) bound() {
	for {
		size := t.size()
		if size <= MaxTranscriptBytes {
			return
		}
		text := t.longestText()
		if text == nil || len(*text) <= minMessageBytes {
			// Nothing left to shrink: drop the oldest rounds' tool lists.
			if !t.dropToolLists() {
				return
			}
			t.Truncated = true
			continue
		}
		*text = cut(*text, max(minMessageBytes, len(*text)-(size-MaxTranscriptBytes)-64, len(*text)/2))
		t.Truncated = true
	}
}

func (t *Transcript) size() int {
	b, err := json.Marshal(t)
	if err != nil {
		return 0
	}
	return len(b)
}

// longestText points at the longest message text or arguments.
func (t *Transcript) longestText() *string {
	var longest *string
	consider := func(s *string) {
		if longest == nil || len(*s) > len(*longest) {
			longest = s
		}
	}
	for i := range t.Messages {
		consider(&t.Messages[i].Content)
		for j := range t.Messages[i].ToolCalls {
			consider(&t.Messages[i].ToolCalls[j].Arguments)
		}
	}
	return longest
}

// dropToolLists empties the tool list of the first round that has one.
func (t *Transcript) dropToolLists() bool {
	const omitted = "(omitted)"
	for i := range t.Rounds {
		tools := t.Rounds[i].Tools
		if len(tools) > 0 && !(len(tools) == 1 && tools[0] == omitted) {
			t.Rounds[i].Tools = []string{omitted}
			return true
		}
	}
	return false
}

// cut shortens text to at most n bytes on a rune boundary, marking the cut.
func cut(text string, n int) string {
	const mark = "…[truncated]"
	if len(text) <= n {
		return text
	}
	end := max(n-len(mark), 0)
	for end > 0 && !utf8.RuneStart(text[end]) {
		end--
	}
	return text[:end] + mark
}
