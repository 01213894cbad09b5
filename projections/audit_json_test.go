package projections

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
)

// jsonSeeds are inputs for the JSON shortcuts' parity checks.
var jsonSeeds = []string{
	`{}`, ` { } `, `{"a": 1, "b": "x", "c": [1, {"d": "]"}], "e": {"f": "}"}, "g": null, "h": true}`,
	`{"a": "x\"y", "b": "\\"}`, `{"a\u0062": 1}`, `{"a": 1, "a": 2}`, `[1]`, `"s"`, `{"a": }`, `{"a" 1}`, `{"a": 1,}`,
	`{"a": 1} x`, `{"a": "unterminated}`, `{"k": "<b>&</b>"}`, "{\"k\": \"\u2028\"}", `{"k": "é"}`, ``, `null`,
}

func FuzzEachMemberMatchesEncodingJSON(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := map[string]json.RawMessage{}
		ok := eachMember([]byte(s), func(k, v []byte) { got[string(k)] = v })
		if !ok {
			assert.Empty(t, got, "no member is reported for input it gives up on")
			return
		}
		var want map[string]json.RawMessage
		if json.Unmarshal([]byte(s), &want) != nil {
			return // invalid JSON: the caller's own decoding fails alike when values are decoded
		}
		require.Len(t, got, len(want))
		for k, v := range want {
			var a, b bytes.Buffer
			require.NoError(t, json.Compact(&a, v))
			require.NoError(t, json.Compact(&b, got[k]), "value of %q", k)
			assert.Equal(t, a.String(), b.String(), "value of %q", k)
		}
	})
}

func FuzzPlainJSONStringMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{`"plain"`, `"a\"b"`, `"<"`, `"é"`, "\"\u2028\"", `"x`, `""`, `1`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		plain, ok := plainJSONString([]byte(s))
		if !ok {
			return
		}
		var decoded string
		require.NoError(t, json.Unmarshal([]byte(s), &decoded))
		assert.Equal(t, decoded, plain)
		assert.Equal(t, s, string(mustJSON(plain)), "json.Marshal writes it back unchanged")
	})
}

func TestDecodeEnvelopeMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	full := eventstore.Metadata{TenantID: "t", Actor: eventstore.Actor{Subject: "s", Role: "r", AuthMethod: "sso", TokenID: "k",
		SSOIssuer: "https://idp.example/<x>", SSOSubject: "é"}, CorrelationID: "c", CausationID: "d", RequestID: "q",
		ClientIP: "192.0.2.1", UserAgent: "agent \"quoted\"", SchemaVersion: 3, OccurredAt: time.Date(2031, 1, 2, 3, 4, 5, 6000, time.UTC)}
	for _, md := range []eventstore.Metadata{full, {TenantID: "only"}, {}} {
		raw, err := json.Marshal(md)
		require.NoError(t, err)
		var want, got eventstore.Metadata
		require.NoError(t, json.Unmarshal(raw, &want))
		require.NoError(t, decodeEnvelope(raw, &got))
		assert.Equal(t, want, got)
	}
	for _, bad := range []string{`{"tenant_id": 1}`, `{"Tenant_ID": "t"}`, `{"actor": {"subject": "s", "x": 1}}`, `{"actor": []}`,
		`{"schema_version": "1"}`, `{"occurred_at": "yesterday"}`, `[]`, `{"note": "x"}`} {
		var md eventstore.Metadata
		assert.Error(t, decodeEnvelope([]byte(bad), &md), bad)
	}
}
