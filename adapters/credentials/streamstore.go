package credentials

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/connection"
)

// ErrConnectionNotFound means the connection's stream does not exist in the
// tenant, or the connection was deleted.
var ErrConnectionNotFound = domain.NewError(domain.ErrNotFound, "connection_not_found", "connection not found")

// StreamTokenStore is a TokenStore on the event store port: it folds the
// connection's stream with the aggregate's own Evolve and appends
// connection.oauth_tokens_refreshed as the system actor.
type StreamTokenStore struct {
	store eventstore.Store
	now   func() time.Time
}

var _ TokenStore = (*StreamTokenStore)(nil)

// NewStreamTokenStore returns a TokenStore on store.
func NewStreamTokenStore(store eventstore.Store) (*StreamTokenStore, error) {
	if store == nil {
		return nil, errors.New("stream token store: nil event store")
	}
	return &StreamTokenStore{store: store, now: time.Now}, nil
}

// CurrentCredentials folds the connection's stream into its credentials.
func (s *StreamTokenStore) CurrentCredentials(ctx context.Context, tenant, connectionID string) (connection.Credentials, int64, error) {
	state, version, err := s.load(ctx, tenant, connectionID)
	if err != nil {
		return connection.Credentials{}, 0, err
	}
	creds := state.Credentials
	creds.Public = maps.Clone(creds.Public)
	creds.Sealed = maps.Clone(creds.Sealed)
	return creds, version, nil
}

// load folds a live connection's stream with the aggregate's Evolve.
func (s *StreamTokenStore) load(ctx context.Context, tenant, connectionID string) (connection.State, int64, error) {
	stream := connection.StreamPrefix + connectionID
	recorded, err := s.store.ReadStream(ctx, stream, 0, 0)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return connection.State{}, 0, fmt.Errorf("read %s: %w", stream, ErrConnectionNotFound)
	}
	if err != nil {
		return connection.State{}, 0, fmt.Errorf("read %s: %w", stream, err)
	}
	var (
		state   connection.State
		version int64
	)
	for _, rec := range recorded {
		if rec.Metadata.TenantID != tenant {
			return connection.State{}, 0, fmt.Errorf("read %s: %w", stream, ErrConnectionNotFound)
		}
		version = rec.Version
		ev, ok, err := connection.Decode(rec.Type, rec.Metadata.SchemaVersion, rec.Data)
		if err != nil {
			return connection.State{}, 0, fmt.Errorf("read %s at version %d: %w", stream, rec.Version, err)
		}
		if ok {
			state = connection.Evolve(state, ev)
		}
	}
	if !state.Live() {
		return connection.State{}, 0, fmt.Errorf("read %s: %w", stream, ErrConnectionNotFound)
	}
	return state, version, nil
}

// SaveTokens appends connection.oauth_tokens_refreshed at expectedVersion,
// as the aggregate decides it (connection.RecordTokens). Its event id
// derives from the sealed access token, so saving the same tokens twice
// appends once.
func (s *StreamTokenStore) SaveTokens(ctx context.Context, tenant, connectionID string, expectedVersion int64, tokens connection.OAuthTokensRefreshed) error {
	stream := connection.StreamPrefix + connectionID
	// The aggregate decides, as for any command: a deleted connection or
	// one whose credentials changed type takes no tokens.
	// The append's expected version, not this read, guards against
	// concurrent changes.
	state, _, err := s.load(ctx, tenant, connectionID)
	if err != nil {
		return fmt.Errorf("save tokens to %s: %w", stream, err)
	}
	if _, err := connection.Decide(state, connection.RecordTokens{Tokens: tokens}); err != nil {
		return fmt.Errorf("save tokens to %s: %w", stream, err)
	}
	data, err := json.Marshal(tokens)
	if err != nil {
		return fmt.Errorf("save tokens to %s: %w", stream, err)
	}
	sum := sha256.Sum256([]byte(tokens.Sealed[FieldAccessToken]))
	requestID := "oauth-refresh:" + hex.EncodeToString(sum[:16])
	_, err = s.store.Append(ctx, stream, expectedVersion, []eventstore.EventData{{
		ID:   eventstore.EventID(tenant, stream, requestID, 0),
		Type: tokens.EventType(),
		Data: data,
		Metadata: eventstore.Metadata{
			TenantID:      tenant,
			Actor:         eventstore.Actor{Subject: "system", Role: "SYSTEM", AuthMethod: "system"},
			RequestID:     requestID,
			CorrelationID: requestID,
			SchemaVersion: tokens.SchemaVersion(),
			OccurredAt:    s.now(),
		},
	}})
	if err != nil {
		return fmt.Errorf("save tokens to %s: %w", stream, err)
	}
	return nil
}
