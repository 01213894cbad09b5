package openapi

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestClassifySideEffect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                                   string
		method, operationID, summary, descript string
		want                                   SideEffect
	}{
		{name: "get", method: "GET", operationID: "listUsers", want: SideEffectRead},
		{name: "head", method: "head", want: SideEffectRead},
		{name: "options", method: "OPTIONS", want: SideEffectRead},
		{name: "a read stays a read whatever it says", method: "GET", summary: "List deleted customers", want: SideEffectRead},
		{name: "delete", method: "DELETE", operationID: "archiveThing", want: SideEffectDestructive},
		{name: "post creates", method: "POST", operationID: "createCharge", summary: "Create a charge", want: SideEffectWrite},
		{name: "put updates", method: "PUT", summary: "Update a pet", want: SideEffectWrite},
		{name: "patch", method: "PATCH", operationID: "update_user", want: SideEffectWrite},
		{name: "camelCase cancel", method: "POST", operationID: "cancelSubscription", want: SideEffectDestructive},
		{name: "snake_case revoke", method: "POST", operationID: "revoke_token", want: SideEffectDestructive},
		{name: "summary says remove", method: "POST", summary: "Remove a member from the team", want: SideEffectDestructive},
		{name: "stripe void", method: "POST", operationID: "PostInvoicesInvoiceVoid", want: SideEffectDestructive},
		{name: "purge", method: "PUT", summary: "Purge the cache", want: SideEffectDestructive},
		{name: "first sentence of the description", method: "POST", descript: "Deletes the draft.\nOther text.", want: SideEffectDestructive},
		{name: "later sentences do not count", method: "POST", descript: "Creates a draft. Drafts can be deleted later.", want: SideEffectWrite},
		{name: "a word merely containing a stem", method: "POST", summary: "Avoid duplicates", want: SideEffectWrite},
		{name: "other methods write", method: "TRACE2", want: SideEffectWrite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, ClassifySideEffect(tt.method, tt.operationID, tt.summary, tt.descript))
		})
	}
}
