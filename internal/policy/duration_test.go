package policy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDuration(t *testing.T) {
	ok := []struct {
		in   string
		want time.Duration
	}{
		{"12h", 12 * time.Hour},
		{"30d", 30 * Day},
		{"1y", 365 * Day},
		{"2w", 14 * Day},
		{"1d12h", 36 * time.Hour},
		{"90m", 90 * time.Minute},
		{"300ms", 300 * time.Millisecond},
		{"90s", 90 * time.Second},
		{"1h30m", 90 * time.Minute},
		{"1y1d", 366 * Day},
		{"12H", 12 * time.Hour},
		{"  30D  ", 30 * Day},
		{"0s", 0},
		{"0d", 0},
		{"007d", 7 * Day},
		{"100y", 100 * Year},
		{"99y365d", 100 * Year},
		{"36500d", 100 * Year},
		{"1d1d", 2 * Day},
	}
	for _, c := range ok {
		got, err := ParseDuration(c.in)
		require.NoError(t, err, c.in)
		assert.Equal(t, c.want, got, c.in)
	}

	bad := []struct{ in, want string }{
		{"", "empty duration"},
		{"   ", "empty duration"},
		{"12", "is not a duration"},
		{"h", "is not a duration"},
		{"d30", "is not a duration"},
		{"12x", "is not a duration"},
		{"12us", "is not a duration"},
		{"1.5d", "is not a duration"},
		{"-1d", "is not a duration"},
		{"+1d", "is not a duration"},
		{"12 h", "is not a duration"},
		{"1d 12h", "is not a duration"},
		{"never", "is not a duration"},
		{"forever", "is not a duration"},
		{"30days", "is not a duration"},
		{"P30D", "is not a duration"},
		{"1d-", "is not a duration"},
		{"99999999999999999999d", "is not a duration"}, // overflows int64
		{"101y", "longer than 100 years"},
		{"36501d", "longer than 100 years"},
		{"99y366d", "longer than 100 years"},
		{"100y1s", "longer than 100 years"},
		{"5300w", "longer than 100 years"},
		{"9223372036854775807s", "longer than 100 years"},
	}
	for _, c := range bad {
		_, err := ParseDuration(c.in)
		require.Error(t, err, c.in)
		assert.Contains(t, err.Error(), c.want, c.in)
	}
	_, err := ParseDuration("abc")
	assert.Contains(t, err.Error(), `"abc"`, "the message quotes the input")
	assert.Contains(t, err.Error(), "12h, 30d or 1y", "the message shows accepted forms")
}

func TestParseExpiry(t *testing.T) {
	for _, in := range []string{"never", "NEVER", " Never "} {
		d, err := ParseExpiry(in)
		require.NoError(t, err, in)
		assert.Equal(t, Never, d, in)
	}
	d, err := ParseExpiry("30d")
	require.NoError(t, err)
	assert.Equal(t, 30*Day, d)

	for _, in := range []string{"0s", "0d", "0h0m"} {
		_, err := ParseExpiry(in)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), "longer than zero", in)
	}
	for _, in := range []string{"", "0", "-1", "nevermore", "101y"} {
		_, err := ParseExpiry(in)
		require.Error(t, err, in)
	}
}

func TestFormatDuration(t *testing.T) {
	cases := []struct {
		in   time.Duration
		want string
	}{
		{Never, "never"},
		{30 * Day, "30d"},
		{Year, "1y"},
		{2 * Year, "2y"},
		{366 * Day, "366d"},
		{7 * Day, "7d"},
		{12 * time.Hour, "12h"},
		{36 * time.Hour, "36h"},
		{90 * time.Minute, "90m"},
		{time.Minute, "1m"},
		{90 * time.Second, "1m30s"},
		{1500 * time.Millisecond, "2s"},
		{0, "0s"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, FormatDuration(c.in), "%v", c.in)
	}
}

func TestFormatParseRoundTrip(t *testing.T) {
	for _, d := range []time.Duration{Never, time.Minute, 90 * time.Minute, time.Hour, 36 * time.Hour,
		Day, 7 * Day, 30 * Day, 90 * Day, Year, 366 * Day, 5 * Year, 100 * Year} {
		back, err := ParseExpiry(FormatDuration(d))
		require.NoError(t, err, FormatDuration(d))
		assert.Equal(t, d, back)
	}
}
