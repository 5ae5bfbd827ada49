package jsonvalue

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestStringOrNumber(t *testing.T) {
	for in, want := range map[string]string{
		`"abc"`: "abc", `1227`: "1227", `12345678901234567890`: "12345678901234567890", `1.50`: "1.50", `""`: "",
	} {
		var v StringOrNumber
		assert.NoError(t, json.Unmarshal([]byte(in), &v), in)
		assert.Equal(t, want, string(v), in)
	}
	for _, in := range []string{`true`, `{}`, `[1]`} {
		var v StringOrNumber
		assert.Error(t, json.Unmarshal([]byte(in), &v), in)
	}
}
