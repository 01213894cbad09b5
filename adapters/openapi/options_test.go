package openapi

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    Options
		wantErr []string
	}{
		{name: "zero value means defaults", opts: Options{}},
		{name: "explicit values", opts: Options{MaxBytes: 1 << 20, MaxSchemaDepth: 3, MaxSchemaBytes: 4096, MaxDescription: 80, MaxWarnings: 10}},
		{
			name:    "every problem at once",
			opts:    Options{MaxBytes: -1, MaxSchemaDepth: -1, MaxSchemaBytes: 100, MaxDescription: -5, MaxWarnings: -1},
			wantErr: []string{"MaxBytes", "MaxSchemaDepth", "MaxSchemaBytes", "MaxDescription", "MaxWarnings"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.opts.Validate()
			if len(tt.wantErr) == 0 {
				assert.NoError(t, err)
				return
			}
			for _, field := range tt.wantErr {
				assert.ErrorContains(t, err, field)
			}
		})
	}
}

func TestImportCapsWarnings(t *testing.T) {
	t.Parallel()
	doc := header30 + "paths:\n"
	for _, p := range []string{"a", "b", "c", "d"} {
		doc += "  /" + p + ":\n    get:\n      x: 1\n      responses: {'200': {description: ok}}\n"
	}
	res := importDoc(t, doc, Options{MaxWarnings: 2})
	assert.Len(t, res.Warnings, 3)
	assert.Equal(t, CodeTooManyWarnings, res.Warnings[2].Code)
	assert.Contains(t, res.Warnings[2].Message, "2 further warnings")
}
