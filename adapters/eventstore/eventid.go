package eventstore

import (
	"strconv"

	"github.com/google/uuid"
)

// eventIDNamespace roots the name-based (UUIDv5) event ids.
var eventIDNamespace = uuid.MustParse("6f1d2c1e-5a7b-4c36-9a8e-3f0b7e2d9c41")

// EventID derives the id of the index-th event a request appends to a stream
// of a tenant. The same request retried yields the same ids, so the append is
// idempotent; different tenants or streams never collide.
func EventID(tenantID, stream, requestID string, index int) uuid.UUID {
	name := strconv.Itoa(len(tenantID)) + ":" + tenantID + "|" +
		strconv.Itoa(len(stream)) + ":" + stream + "|" + requestID + "|" + strconv.Itoa(index)
	return uuid.NewSHA1(eventIDNamespace, []byte(name))
}
