package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/apiq/apiq/adapters/authtoken"
	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/user"
)

// IssueAPIToken gives a user of the caller's tenant a machine token.
type IssueAPIToken struct {
	// UserID is the token's user; the caller (Meta.Actor.Subject) when empty.
	UserID    string
	Name      string
	ExpiresAt *time.Time
}

// IssueAPITokenResult holds the token; Token carries the secret and is
// shown this once.
type IssueAPITokenResult struct {
	TokenID   string
	UserID    string
	Token     string // apiq_<id>_<secret>
	Name      string
	ExpiresAt *time.Time
	Position  eventstore.Position
}

// IssueAPITokenHandler handles IssueAPIToken.
type IssueAPITokenHandler = Handler[IssueAPIToken, IssueAPITokenResult]

type issueAPITokenHandler struct{ d Deps }

// NewIssueAPITokenHandler needs Store.
func NewIssueAPITokenHandler(d Deps) (IssueAPITokenHandler, error) {
	if err := d.require("IssueAPIToken", true, false, false, false, false); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[IssueAPIToken, IssueAPITokenResult]("IssueAPIToken", issueAPITokenHandler{d}, d), nil
}

// Handle records the token with only the SHA-256 of its secret. The token
// id derives from the request id; a retry of a request that already issued
// its token gets ErrTokenAlreadyIssued, since the secret is not kept.
func (h issueAPITokenHandler) Handle(ctx context.Context, meta Meta, cmd IssueAPIToken) (IssueAPITokenResult, error) {
	userID := cmd.UserID
	if userID == "" {
		userID = meta.Actor.Subject
	}
	if userID == "" {
		return IssueAPITokenResult{}, user.ErrNotFound
	}
	tok, err := authtoken.NewAPIToken(meta.derivedID("api-token"))
	if err != nil {
		return IssueAPITokenResult{}, err
	}
	hash := tok.SecretHash()
	now := h.d.Now()
	stream := user.Stream(userID)
	res, err := change(ctx, h.d, meta, stream, userAggregate(), func(s user.State) ([]domain.Event, error) {
		if s.TenantID != meta.TenantID {
			return nil, user.ErrNotFound
		}
		return user.Decide(s, user.IssueAPIToken{
			TokenID: tok.ID, Name: cmd.Name, SecretHash: hash, ExpiresAt: cmd.ExpiresAt, Now: now,
		})
	})
	if err != nil {
		return IssueAPITokenResult{}, err
	}
	if res.Replayed {
		return IssueAPITokenResult{}, ErrTokenAlreadyIssued
	}
	// Two concurrent attempts of one request may both append the same event
	// id; the store keeps the first. Only the attempt whose hash was stored
	// may hand its secret out.
	if err := h.confirmStored(ctx, stream, tok.ID, hash); err != nil {
		return IssueAPITokenResult{}, err
	}
	issued := res.Events[0].(user.APITokenIssued)
	return IssueAPITokenResult{
		TokenID: tok.ID, UserID: userID, Token: tok.String(), Name: issued.Name,
		ExpiresAt: issued.ExpiresAt, Position: res.Position,
	}, nil
}

func (h issueAPITokenHandler) confirmStored(ctx context.Context, stream, tokenID, hash string) error {
	recorded, err := h.d.Store.ReadStream(ctx, stream, 0, 0)
	if err != nil {
		return fmt.Errorf("confirm token: %w", err)
	}
	for i := len(recorded) - 1; i >= 0; i-- {
		if recorded[i].Type != user.TypeAPITokenIssued {
			continue
		}
		var ev user.APITokenIssued
		if err := json.Unmarshal(recorded[i].Data, &ev); err != nil {
			return fmt.Errorf("confirm token: %w", err)
		}
		if ev.TokenID == tokenID {
			if ev.SecretHash != hash {
				return ErrTokenAlreadyIssued
			}
			return nil
		}
	}
	return fmt.Errorf("confirm token %s: not in %s", tokenID, stream)
}
