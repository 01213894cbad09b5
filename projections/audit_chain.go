package projections

import (
	"crypto/sha256"
	"encoding/binary"
	"time"

	"github.com/apiq/apiq/adapters/eventstore"
)

// auditCanonicalContext starts every event's canonical bytes.
const auditCanonicalContext = "apiq.audit.event.v1"

// AuditCanonicalBytes are the bytes of an event the audit hash chain covers:
// a context string, then the event id (16 bytes), stream id, stream version
// (8 bytes, big-endian), type, data as stored (ciphertexts included, so
// crypto-shredding never changes them) and every metadata field (tenant,
// the actor's subject, role, auth method, token id, SSO issuer and subject,
// correlation, causation and request ids, client IP, user agent, schema
// version as 8 bytes, event time as RFC 3339 in UTC), each variable-length
// field preceded by its length (4 bytes, big-endian) so no two events share
// an encoding. The event's position is not covered: a logical restore may
// renumber positions without changing the chain, while the order of the
// chain itself is covered by each hash including the previous one.
func AuditCanonicalBytes(ev eventstore.RecordedEvent) []byte {
	md := &ev.Metadata
	occurred := ""
	if !md.OccurredAt.IsZero() {
		occurred = md.OccurredAt.UTC().Format(time.RFC3339Nano)
	}
	fields := [...]string{md.TenantID, md.Actor.Subject, md.Actor.Role, md.Actor.AuthMethod, md.Actor.TokenID,
		md.Actor.SSOIssuer, md.Actor.SSOSubject, md.CorrelationID, md.CausationID, md.RequestID, md.ClientIP,
		md.UserAgent, occurred}
	n := len(auditCanonicalContext) + 16 + 8 + 8 + 4*(4+len(fields)) + len(ev.StreamID) + len(ev.Type) + len(ev.Data)
	for _, f := range fields {
		n += len(f)
	}
	b := make([]byte, 0, n)
	b = appendField(b, []byte(auditCanonicalContext))
	b = append(b, ev.ID[:]...)
	b = appendField(b, []byte(ev.StreamID))
	b = binary.BigEndian.AppendUint64(b, uint64(ev.Version))
	b = appendField(b, []byte(ev.Type))
	b = appendField(b, ev.Data)
	for _, f := range fields[:len(fields)-1] {
		b = appendField(b, []byte(f))
	}
	b = binary.BigEndian.AppendUint64(b, uint64(int64(md.SchemaVersion)))
	return appendField(b, []byte(occurred))
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
