package openapi

import (
	"context"
	"errors"
	"testing"
	"time"
)

// FuzzImport feeds Import arbitrary bytes: it must return a result or an
// *ImportError, never panic, hang or fail otherwise.
//
//	go test -run '^$' -fuzz FuzzImport -fuzztime 60s ./adapters/openapi/
func FuzzImport(f *testing.F) {
	f.Add([]byte(header30 + "paths: {}\n"))
	f.Add([]byte(moviesDoc))
	f.Add([]byte(billionLaughs(3)))
	f.Add([]byte(`{"swagger": "2.0", "info": {"title": "t", "version": "1"}, "paths": {"/a": {"get": {"responses": {"200": {"description": "ok"}}}}}}`))
	f.Add([]byte(schemaDoc("3.1.0", "    Root: {type: [string, 'null']}\n")))
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		res, err := Import(context.Background(), data, Options{MaxBytes: 1 << 20})
		if elapsed := time.Since(start); elapsed > 2*time.Second {
			t.Fatalf("import of %d bytes took %v", len(data), elapsed)
		}
		if err != nil {
			var ie *ImportError
			if !errors.As(err, &ie) {
				t.Fatalf("error is not an *ImportError: %v", err)
			}
			if ie.Code == "" || ie.Message == "" {
				t.Fatalf("error without code or message: %#v", ie)
			}
			return
		}
		seen := map[string]bool{}
		for _, op := range res.Operations {
			if op.OperationID == "" || seen[op.OperationID] {
				t.Fatalf("operationId %q missing or repeated", op.OperationID)
			}
			seen[op.OperationID] = true
		}
	})
}
