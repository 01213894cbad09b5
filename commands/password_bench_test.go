package commands_test

import (
	"testing"

	"github.com/apiq/apiq/commands"
)

// BenchmarkArgon2idDefault measures one production password hash, the
// floor of every login and password change.
func BenchmarkArgon2idDefault(b *testing.B) {
	h := commands.NewArgon2idHasher(nil)
	hash, err := h.Hash("correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		ok, err := h.Verify("correct horse battery staple", hash)
		if err != nil || !ok {
			b.Fatal("verify failed")
		}
	}
}
