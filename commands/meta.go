package commands

import (
	"time"

	"github.com/google/uuid"

	"github.com/apiq/apiq/adapters/eventstore"
)

// Meta is who asks and through which request: it becomes the metadata of
// every event the command appends, and its RequestID makes a retried
// request append nothing new.
type Meta struct {
	TenantID      string
	Actor         eventstore.Actor
	RequestID     string
	CorrelationID string
	CausationID   string
	ClientIP      string
	UserAgent     string

	// step tells apart two appends of one request to the same stream.
	step string
}

// MetaFromMetadata takes the request's envelope as the HTTP layer built it.
func MetaFromMetadata(md eventstore.Metadata) Meta {
	return Meta{
		TenantID: md.TenantID, Actor: md.Actor, RequestID: md.RequestID,
		CorrelationID: md.CorrelationID, CausationID: md.CausationID,
		ClientIP: md.ClientIP, UserAgent: md.UserAgent,
	}
}

// SystemActor is the actor of changes APIQ makes itself (bootstrap, CLI).
func SystemActor() eventstore.Actor {
	return eventstore.Actor{Subject: "system", Role: "SYSTEM", AuthMethod: "system"}
}

// withDefaults fills a missing request id (such a request is not
// idempotent) and correlation id.
func (m Meta) withDefaults() Meta {
	if m.RequestID == "" {
		m.RequestID = uuid.NewString()
	}
	if m.CorrelationID == "" {
		m.CorrelationID = m.RequestID
	}
	return m
}

// forTenant returns m acting within another tenant (a new tenant's streams).
func (m Meta) forTenant(tenantID string) Meta {
	m.TenantID = tenantID
	return m
}

// withActor returns m with another actor (a login acts as the user it logs in).
func (m Meta) withActor(a eventstore.Actor) Meta {
	m.Actor = a
	return m
}

func (m Meta) metadata(schemaVersion int, now time.Time) eventstore.Metadata {
	return eventstore.Metadata{
		TenantID: m.TenantID, Actor: m.Actor,
		CorrelationID: m.CorrelationID, CausationID: m.CausationID, RequestID: m.RequestID,
		ClientIP: m.ClientIP, UserAgent: m.UserAgent,
		SchemaVersion: schemaVersion, OccurredAt: now.UTC(),
	}
}

// eventID is the id of the index-th event this request (step) appends to stream.
func (m Meta) eventID(stream string, index int) uuid.UUID {
	return eventstore.EventID(m.TenantID, stream, m.RequestID+m.step, index)
}

// atStep returns m for a further append of the same request to a stream
// it already appended to.
func (m Meta) atStep(name string) Meta {
	m.step = "/" + name
	return m
}

// derivedID derives a stable id (a new user's, a new tenant's) from the
// request, so a retried request addresses the same aggregate.
func (m Meta) derivedID(kind string) string {
	return eventstore.EventID(m.TenantID, "id:"+kind, m.RequestID, 0).String()
}
