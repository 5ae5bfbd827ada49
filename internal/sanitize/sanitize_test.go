package sanitize

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEscape(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain name":             "plain name",
		"déploiement ✓":          "déploiement ✓",
		"a\nb":                   `a\x0Ab`,
		"\x1b[31mred\x1b]8;;x\a": `\x1B[31mred\x1B]8;;x\x07`,
		"evil\u202Egnp.exe":      `evil\u202Egnp.exe`,
		"a\u200Bb\u2066c\uFEFF":  `a\u200Bb\u2066c\uFEFF`,
		"line\u2028sep":          `line\u2028sep`,
		"tab\there":              `tab\x09here`,
		"bad\xffbyte":            `bad\xFFbyte`,
		"\u0085next":             `\u0085next`,
	} {
		got := Escape(in)
		assert.Equal(t, want, got, "%q", in)
		assert.Equal(t, -1, strings.IndexFunc(got, Invisible), "%q leaves nothing invisible", in)
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "a\nb", "\u202E", "\xff", "\x1b[2J"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Escape(s)
		if strings.IndexFunc(got, Invisible) >= 0 {
			t.Fatalf("Escape(%q) = %q still holds an invisible character", s, got)
		}
		if strings.IndexFunc(s, Invisible) < 0 && got != s {
			t.Fatalf("Escape changed visible text %q to %q", s, got)
		}
	})
}

func TestLogAttrMasksSecretsAndCredentials(t *testing.T) {
	t.Parallel()
	var buf strings.Builder
	key := "vk_live_0123456789abcdefSECRET"
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: LogAttr([]string{key, "short"})}))
	log.Info("upstream said", "msg", "bad key "+key, "err", errors.New("token "+key+" rejected"), "huge", strings.Repeat("x", 1<<20), "n", 3)
	out := buf.String()
	assert.NotContains(t, out, key)
	assert.Contains(t, out, "[redacted]")
	assert.Less(t, len(out), 20000, "values are bounded")
	assert.Contains(t, out, "n=3")
}
