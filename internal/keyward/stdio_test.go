package keyward

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/echo"
)

func TestLineLimiterDropsOversizedLines(t *testing.T) {
	in := strings.Repeat("A", 100) + "\nshort\n" + strings.Repeat("B", 25) + "\nok\n"
	l := &lineLimiter{r: strings.NewReader(in), max: 20, log: slog.New(slog.DiscardHandler)}
	got, err := io.ReadAll(l)
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat("A", 20)+"\nshort\n"+strings.Repeat("B", 20)+"\nok\n", string(got))
}

func TestStdioWriterCutsAndMasksErrorMessages(t *testing.T) {
	var out bytes.Buffer
	w := echo.Lines{W: &out}
	huge := `{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method ` + strings.Repeat("A", 1<<20) + ` not found"}}` + "\n"
	n, err := w.Write([]byte(huge))
	require.NoError(t, err)
	assert.Equal(t, len(huge), n)
	assert.Less(t, out.Len(), 2000)
	var m struct {
		ID    int `json:"id"`
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &m))
	assert.Equal(t, 1, m.ID)
	assert.Equal(t, -32601, m.Error.Code)
	assert.Contains(t, m.Error.Message, "bytes, cut")

	out.Reset()
	result := `{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"` + strings.Repeat("x", 5000) + `"}]}}` + "\n"
	_, err = w.Write([]byte(result))
	require.NoError(t, err)
	assert.Equal(t, result, out.String(), "results pass untouched")
}
