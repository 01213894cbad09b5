package vault

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// rotateBatch bounds each rotation transaction: short transactions keep the
// event feed (gated on the oldest open transaction) moving.
const rotateBatch = 100

// RotateResult reports a rotation.
type RotateResult struct {
	// Rewrapped counts the data keys moved onto the new KEK.
	Rewrapped int
}

// Rotate makes kek the primary KEK and re-wraps every live data key under
// it, in short batches, while the vault keeps serving: keys not yet
// re-wrapped still unwrap with their old KEK, which stays in the keyring.
// Once it returns, the old KEKs may be removed (Keyring.Remove) and the
// keyring file rewritten (WriteKeyringFile). Other processes need the new
// KEK in their keyring before this runs.
func (v *Vault) Rotate(ctx context.Context, kek KEK) (RotateResult, error) {
	if err := v.ring.Add(kek, true); err != nil {
		return RotateResult{}, fmt.Errorf("rotate: %w", err)
	}
	var res RotateResult
	for {
		n, err := v.rotateBatch(ctx, kek.ID)
		res.Rewrapped += n
		if err != nil {
			return res, fmt.Errorf("rotate to %s: %w", kek.ID, err)
		}
		if n < rotateBatch {
			return res, nil
		}
	}
}

func (v *Vault) rotateBatch(ctx context.Context, kekID string) (int, error) {
	tx, err := v.db.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	rows, err := tx.Query(ctx, `
		SELECT key_id, tenant_id, owner, kek_id, wrapped_key FROM data_keys
		WHERE destroyed_at IS NULL AND kek_id <> $1
		ORDER BY key_id LIMIT $2 FOR UPDATE SKIP LOCKED`, kekID, rotateBatch)
	if err != nil {
		return 0, err
	}
	type row struct {
		id            uuid.UUID
		tenant, owner string
		kekID         string
		wrapped       []byte
	}
	batch, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.id, &x.tenant, &x.owner, &x.kekID, &x.wrapped)
		return x, err
	})
	if err != nil {
		return 0, err
	}
	for _, r := range batch {
		aad := wrapAAD(r.id, r.tenant, r.owner)
		key, err := v.ring.unwrap(r.kekID, r.wrapped, aad)
		if err != nil {
			return 0, err
		}
		newKEK, wrapped, err := v.ring.wrap(key, aad)
		if err != nil {
			return 0, err
		}
		if newKEK != kekID {
			return 0, fmt.Errorf("primary kek changed to %s during rotation", newKEK)
		}
		if _, err := tx.Exec(ctx, `UPDATE data_keys SET wrapped_key = $2, kek_id = $3 WHERE key_id = $1`,
			r.id, wrapped, kekID); err != nil {
			return 0, err
		}
	}
	return len(batch), tx.Commit(ctx)
}

// KEKUsage counts the live data keys wrapped under each KEK, so an operator
// can see that a rotation finished before removing an old KEK.
func (v *Vault) KEKUsage(ctx context.Context) (map[string]int, error) {
	rows, err := v.db.Query(ctx, `SELECT kek_id, count(*) FROM data_keys WHERE destroyed_at IS NULL GROUP BY kek_id`)
	if err != nil {
		return nil, fmt.Errorf("kek usage: %w", err)
	}
	out := map[string]int{}
	var (
		id string
		n  int
	)
	if _, err := pgx.ForEachRow(rows, []any{&id, &n}, func() error { out[id] = n; return nil }); err != nil {
		return nil, fmt.Errorf("kek usage: %w", err)
	}
	return out, nil
}
