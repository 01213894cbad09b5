// Package idempotency makes POST requests carrying an Idempotency-Key
// retry-safe: the first request claims the key in PostgreSQL, its response
// is stored (sealed), and retries get that response back instead of
// running the command again.
package idempotency

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Scope identifies a key: keys are private to one actor of one tenant.
type Scope struct {
	TenantID string
	Actor    string
	Key      string
}

// Response is a stored first response.
type Response struct {
	Status      int
	ContentType string
	Body        []byte
}

// ClaimResult says what a request holding a key must do.
type ClaimResult int

const (
	// Acquired: this request owns the key and executes.
	Acquired ClaimResult = iota + 1
	// Completed: an earlier request finished; replay its response.
	Completed
	// InFlight: an earlier request with the same key is executing now.
	InFlight
	// Mismatch: the key was used for a different request.
	Mismatch
)

// Store keeps idempotency records in the idempotency_keys table.
type Store struct {
	pool  *pgxpool.Pool
	seal  *sealer
	lease time.Duration
}

// NewStore returns a store on pool sealing responses with sealKey (32
// bytes). lease bounds how long a claim blocks retries if its request never
// completes (a crashed process).
func NewStore(pool *pgxpool.Pool, sealKey []byte, lease time.Duration) (*Store, error) {
	seal, err := newSealer(sealKey)
	if err != nil {
		return nil, err
	}
	if lease <= 0 {
		return nil, errors.New("idempotency store: lease must be positive")
	}
	return &Store{pool: pool, seal: seal, lease: lease}, nil
}

// Claim tries to take the key for a request whose content hashes to
// requestHash. For Completed it also returns the stored response.
func (s *Store) Claim(ctx context.Context, scope Scope, requestHash []byte) (ClaimResult, Response, error) {
	for range 3 {
		var acquired bool
		err := s.pool.QueryRow(ctx, `
INSERT INTO idempotency_keys AS k (tenant_id, actor, key, request_hash, locked_until)
VALUES ($1, $2, $3, $4, now() + $5::interval)
ON CONFLICT (tenant_id, actor, key) DO UPDATE SET locked_until = EXCLUDED.locked_until
WHERE k.status_code IS NULL AND k.locked_until < now() AND k.request_hash = EXCLUDED.request_hash
RETURNING true`, scope.TenantID, scope.Actor, scope.Key, requestHash, s.lease).Scan(&acquired)
		if err == nil {
			return Acquired, Response{}, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return 0, Response{}, fmt.Errorf("claim idempotency key: %w", err)
		}
		result, resp, found, err := s.lookup(ctx, scope, requestHash)
		if err != nil {
			return 0, Response{}, err
		}
		if found {
			return result, resp, nil
		}
		// The holder released the key between our insert and lookup: try again.
	}
	return InFlight, Response{}, nil
}

func (s *Store) lookup(ctx context.Context, scope Scope, requestHash []byte) (ClaimResult, Response, bool, error) {
	var (
		hash        []byte
		status      *int
		contentType *string
		sealed      []byte
	)
	err := s.pool.QueryRow(ctx, `
SELECT request_hash, status_code, content_type, response_body FROM idempotency_keys
WHERE tenant_id = $1 AND actor = $2 AND key = $3`,
		scope.TenantID, scope.Actor, scope.Key).Scan(&hash, &status, &contentType, &sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, Response{}, false, nil
	}
	if err != nil {
		return 0, Response{}, false, fmt.Errorf("look up idempotency key: %w", err)
	}
	switch {
	case !bytes.Equal(hash, requestHash):
		return Mismatch, Response{}, true, nil
	case status == nil:
		return InFlight, Response{}, true, nil
	}
	body, err := s.seal.open(sealed, scope)
	if err != nil {
		return 0, Response{}, false, fmt.Errorf("open stored response: %w", err)
	}
	resp := Response{Status: *status, Body: body}
	if contentType != nil {
		resp.ContentType = *contentType
	}
	return Completed, resp, true, nil
}

// Complete stores the response of the request that acquired the key.
func (s *Store) Complete(ctx context.Context, scope Scope, requestHash []byte, resp Response) error {
	sealed, err := s.seal.seal(resp.Body, scope)
	if err != nil {
		return fmt.Errorf("seal response: %w", err)
	}
	_, err = s.pool.Exec(ctx, `
UPDATE idempotency_keys
SET status_code = $5, content_type = $6, response_body = $7, completed_at = now(), locked_until = NULL
WHERE tenant_id = $1 AND actor = $2 AND key = $3 AND request_hash = $4 AND status_code IS NULL`,
		scope.TenantID, scope.Actor, scope.Key, requestHash, resp.Status, resp.ContentType, sealed)
	if err != nil {
		return fmt.Errorf("complete idempotency key: %w", err)
	}
	return nil
}

// Release drops an uncompleted claim so that a retry executes afresh (used
// when the request failed in a way worth retrying).
func (s *Store) Release(ctx context.Context, scope Scope) error {
	_, err := s.pool.Exec(ctx, `
DELETE FROM idempotency_keys WHERE tenant_id = $1 AND actor = $2 AND key = $3 AND status_code IS NULL`,
		scope.TenantID, scope.Actor, scope.Key)
	if err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

// Purge deletes records created before cutoff and reports how many.
func (s *Store) Purge(ctx context.Context, cutoff time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `
DELETE FROM idempotency_keys WHERE created_at < $1 AND (status_code IS NOT NULL OR locked_until < now())`, cutoff)
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", err)
	}
	return tag.RowsAffected(), nil
}
