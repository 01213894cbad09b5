package projections

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/apiq/apiq/adapters/eventstore"
)

// auditCanonicalContext starts every event's canonical bytes.
const auditCanonicalContext = "apiq.audit.event.v1"

// AuditCanonicalBytes are the bytes of an event the audit hash chain covers:
// a context string, then the event id (16 bytes), stream id, stream version
// (8 bytes, big-endian), type, data as stored (ciphertexts included, so
// crypto-shredding never changes them) and the metadata encoded as
// eventstore.Metadata (fields in declaration order), each variable-length
// field preceded by its length (4 bytes, big-endian) so no two events share
// an encoding. The event's position is not covered: a logical restore may
// renumber positions without changing the chain, while the order of the
// chain itself is covered by each hash including the previous one.
func AuditCanonicalBytes(ev eventstore.RecordedEvent) ([]byte, error) {
	meta, err := json.Marshal(ev.Metadata)
	if err != nil {
		return nil, fmt.Errorf("canonical bytes of %s: encode metadata: %w", ev.ID, err)
	}
	n := len(auditCanonicalContext) + 16 + 8 + 4*5 + len(ev.StreamID) + len(ev.Type) + len(ev.Data) + len(meta)
	b := make([]byte, 0, n)
	b = appendField(b, []byte(auditCanonicalContext))
	b = append(b, ev.ID[:]...)
	b = appendField(b, []byte(ev.StreamID))
	b = binary.BigEndian.AppendUint64(b, uint64(ev.Version))
	b = appendField(b, []byte(ev.Type))
	b = appendField(b, ev.Data)
	b = appendField(b, meta)
	return b, nil
}

func appendField(b, field []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(field)))
	return append(b, field...)
}

// AuditGenesisHash is the "previous hash" of a tenant's first audit row.
func AuditGenesisHash(tenantID string) []byte {
	sum := sha256.Sum256([]byte("apiq.audit.genesis.v1\x00" + tenantID))
	return sum[:]
}

// AuditChainHash is a row's chain hash: SHA-256(prev ‖ canonical).
func AuditChainHash(prev, canonical []byte) []byte {
	h := sha256.New()
	h.Write(prev)
	h.Write(canonical)
	return h.Sum(nil)
}
