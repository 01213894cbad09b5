package commands

import (
	"context"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain/security"
)

// RecordAccessDenied records a refused request (403) in the audit trail;
// the actor who was refused is Meta.Actor.
type RecordAccessDenied struct {
	Method string
	Route  string
	Reason string
}

// RecordAccessDeniedResult reports where the record landed.
type RecordAccessDeniedResult struct {
	Position eventstore.Position
}

// RecordAccessDeniedHandler handles RecordAccessDenied.
type RecordAccessDeniedHandler = Handler[RecordAccessDenied, RecordAccessDeniedResult]

type recordAccessDeniedHandler struct{ d Deps }

// NewRecordAccessDeniedHandler needs Store.
func NewRecordAccessDeniedHandler(d Deps) (RecordAccessDeniedHandler, error) {
	if err := d.require("RecordAccessDenied", true, false, false, false, false); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[RecordAccessDenied, RecordAccessDeniedResult]("RecordAccessDenied", recordAccessDeniedHandler{d}, d), nil
}

// Handle appends to the tenant's security stream without a version check.
func (h recordAccessDeniedHandler) Handle(ctx context.Context, meta Meta, cmd RecordAccessDenied) (RecordAccessDeniedResult, error) {
	ev, err := security.NewAccessDenied(cmd.Method, cmd.Route, cmd.Reason)
	if err != nil {
		return RecordAccessDeniedResult{}, err
	}
	pos, err := appendAny(ctx, h.d, meta, security.Stream(meta.TenantID), ev)
	if err != nil {
		return RecordAccessDeniedResult{}, err
	}
	return RecordAccessDeniedResult{Position: pos}, nil
}
