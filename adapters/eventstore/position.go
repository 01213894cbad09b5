package eventstore

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// Position is a place in the global feed. For PostgreSQL, Commit is the
// appending transaction id and Prepare the global sequence number; for
// EventStoreDB they are the commit and prepare positions of $all. Positions
// compare lexicographically (Commit, then Prepare).
type Position struct {
	Commit  uint64
	Prepare uint64
}

// Compare returns -1, 0 or +1 as p is before, equal to or after o.
func (p Position) Compare(o Position) int {
	switch {
	case p.Commit < o.Commit:
		return -1
	case p.Commit > o.Commit:
		return 1
	case p.Prepare < o.Prepare:
		return -1
	case p.Prepare > o.Prepare:
		return 1
	}
	return 0
}

// IsZero reports whether p is the start of the feed.
func (p Position) IsZero() bool { return p == Position{} }

// String encodes p as the opaque token clients receive (32 hex characters).
func (p Position) String() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], p.Commit)
	binary.BigEndian.PutUint64(b[8:], p.Prepare)
	return hex.EncodeToString(b[:])
}

// ParsePosition decodes a token produced by Position.String.
func ParsePosition(s string) (Position, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 16 {
		return Position{}, fmt.Errorf("parse position %q: not a position token", s)
	}
	return Position{Commit: binary.BigEndian.Uint64(b[:8]), Prepare: binary.BigEndian.Uint64(b[8:])}, nil
}
