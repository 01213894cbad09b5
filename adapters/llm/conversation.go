package llm

import (
	"context"
	"slices"

	"github.com/sashabaranov/go-openai"
)

// Conversation is one planning dialogue with the model: it keeps the
// messages to send and records the transcript as it goes. It is not safe
// for concurrent use.
type Conversation struct {
	client     *Client
	messages   []openai.ChatCompletionMessage
	transcript Transcript
}

// NewConversation starts a conversation with a system prompt (none when empty).
func (c *Client) NewConversation(system string) *Conversation {
	cv := &Conversation{client: c, transcript: Transcript{Model: c.cfg.Model, Messages: []Message{}, Rounds: []Round{}}}
	if system != "" {
		cv.add(openai.ChatCompletionMessage{Role: openai.ChatMessageRoleSystem, Content: system})
	}
	return cv
}

func (cv *Conversation) add(m openai.ChatCompletionMessage) {
	cv.messages = append(cv.messages, m)
	recorded, wasCut := recordMessage(m)
	cv.transcript.Messages = append(cv.transcript.Messages, recorded)
	cv.transcript.Truncated = cv.transcript.Truncated || wasCut
	cv.transcript.bound()
}

// User adds a user message.
func (cv *Conversation) User(text string) {
	cv.add(openai.ChatCompletionMessage{Role: openai.ChatMessageRoleUser, Content: text})
}

// ToolResult answers one tool call of the last reply (the chat API wants an
// answer to every call before the next user message).
func (cv *Conversation) ToolResult(callID, content string) {
	cv.add(openai.ChatCompletionMessage{Role: openai.ChatMessageRoleTool, ToolCallID: callID, Content: content})
}

// AnswerToolCalls answers every tool call of the last reply with the same
// content, e.g. the validation problems of a repair round.
func (cv *Conversation) AnswerToolCalls(content string) {
	for i := len(cv.messages) - 1; i >= 0; i-- {
		if m := cv.messages[i]; m.Role == openai.ChatMessageRoleAssistant {
			for _, tc := range m.ToolCalls {
				cv.ToolResult(tc.ID, content)
			}
			return
		}
	}
}

// SendOptions shape one round.
type SendOptions struct {
	ToolChoice          any
	MaxCompletionTokens int
	Temperature         float32
}

// Send asks the model with the conversation so far and the tools offered,
// adds its reply to the conversation and records the round (a failed round
// too) in the transcript.
func (cv *Conversation) Send(ctx context.Context, tools []openai.Tool, opts SendOptions) (Reply, error) {
	round := Round{Sent: len(cv.messages), Reply: -1, Tools: toolNames(tools), ToolChoice: toolChoiceName(opts.ToolChoice)}
	reply, err := cv.client.Complete(ctx, Request{
		Messages: slices.Clone(cv.messages), Tools: tools, ToolChoice: opts.ToolChoice,
		MaxCompletionTokens: opts.MaxCompletionTokens, Temperature: opts.Temperature,
	})
	round.Attempts, round.DurationMS, round.Usage, round.Model = reply.Attempts, reply.Duration.Milliseconds(), reply.Usage, reply.Model
	cv.transcript.Usage = cv.transcript.Usage.Add(reply.Usage)
	if err != nil {
		round.Error = err.Error()
		cv.transcript.Rounds = append(cv.transcript.Rounds, round)
		cv.transcript.bound()
		return reply, err
	}
	round.FinishReason = string(reply.FinishReason)
	msg := reply.Message
	if msg.Role == "" {
		msg.Role = openai.ChatMessageRoleAssistant
	}
	round.Reply = len(cv.messages)
	cv.transcript.Rounds = append(cv.transcript.Rounds, round)
	cv.add(msg)
	return reply, nil
}

// Messages returns the conversation's messages so far.
func (cv *Conversation) Messages() []openai.ChatCompletionMessage { return slices.Clone(cv.messages) }

// Transcript returns a copy of the transcript so far.
func (cv *Conversation) Transcript() Transcript {
	t := cv.transcript
	t.Messages = slices.Clone(t.Messages)
	t.Rounds = slices.Clone(t.Rounds)
	return t
}
