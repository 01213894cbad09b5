// Package blobstore keeps large, immutable content (OpenAPI documents,
// endpoint catalogues, response bodies) in PostgreSQL once per SHA-256 hash,
// so events stay small and carry only the hash.
package blobstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNotFound is returned for a hash that is not stored.
var ErrNotFound = errors.New("blob not found")

// Querier is the part of a pool or transaction the store reads through.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Store is the PostgreSQL blob store.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a store on pool (the blobs table comes from the migrations).
func New(pool *pgxpool.Pool) (*Store, error) {
	if pool == nil {
		return nil, errors.New("blobstore: nil pool")
	}
	return &Store{pool: pool}, nil
}

// Hash returns the hex SHA-256 of data, the key it is stored under.
func Hash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Put stores data (once: storing the same content again is a no-op) and returns its hash.
func (s *Store) Put(ctx context.Context, mediaType string, data []byte) (string, error) {
	h := Hash(data)
	if _, err := s.pool.Exec(ctx, `
		INSERT INTO blobs (hash, media_type, size, data) VALUES ($1, $2, $3, $4)
		ON CONFLICT (hash) DO NOTHING`, h, mediaType, int64(len(data)), data); err != nil {
		return "", fmt.Errorf("store blob %s: %w", h, err)
	}
	return h, nil
}

// Get returns the content stored under hash.
func (s *Store) Get(ctx context.Context, hash string) ([]byte, error) {
	return Get(ctx, s.pool, hash)
}

// Get reads a blob through q (a pool or a projector's transaction).
func Get(ctx context.Context, q Querier, hash string) ([]byte, error) {
	var data []byte
	err := q.QueryRow(ctx, `SELECT data FROM public.blobs WHERE hash = $1`, hash).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("read blob %s: %w", hash, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", hash, err)
	}
	if Hash(data) != hash {
		return nil, fmt.Errorf("read blob %s: content does not match its hash", hash)
	}
	return data, nil
}
