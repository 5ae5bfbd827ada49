package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDuration(t *testing.T) {
	t.Parallel()
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
		{"300ms", "is not a duration"},
		{"1ms", "is not a duration"},
		{"500ms", "is not a duration"},
		{"1s500ms", "is not a duration"},
		{"1mo", "is not a duration"},
		{"1hh", "is not a duration"},
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
	assert.Contains(t, err.Error(), "(s, m, h, d, w, y)", "the message lists the units the schema and README accept")
	assert.NotContains(t, err.Error(), "ms", "milliseconds are not a unit")
}

// The units are exactly those of the tool schema's pattern
// ^(never|([0-9]+[smhdwy])+)$ and the README: s, m, h, d, w, y.
func TestParseDurationUnitsMatchTheSchema(t *testing.T) {
	t.Parallel()
	for c := 'a'; c <= 'z'; c++ {
		_, err := ParseDuration("2" + string(c))
		if strings.ContainsRune("smhdwy", c) {
			assert.NoError(t, err, "unit %c", c)
		} else {
			assert.Error(t, err, "unit %c", c)
		}
	}
	for _, two := range []string{"ms", "us", "ns", "mo", "yr", "hr", "wk"} {
		_, err := ParseDuration("2" + two)
		assert.Error(t, err, two)
	}
}

// An echoed value never carries a secret pasted into the wrong field, nor a
// megabyte of it.
func TestDurationErrorsMaskAndBoundTheValue(t *testing.T) {
	t.Parallel()
	key := "kw_" + strings.Repeat("Ab3", 16) + "x"
	for _, parse := range []func(string) (time.Duration, error){ParseDuration, ParseExpiry} {
		_, err := parse(key)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), key[3:20])
		assert.Contains(t, err.Error(), "is not a duration")

		_, err = parse(strings.Repeat("9", 1<<20) + "x")
		require.Error(t, err)
		assert.Less(t, len(err.Error()), 300)
		assert.Contains(t, err.Error(), "(1048577 bytes, truncated)")
	}
}

func TestParseExpiry(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"never", "NEVER", " Never "} {
		d, err := ParseExpiry(in)
		require.NoError(t, err, in)
		assert.Equal(t, Never, d, in)
	}
	for in, want := range map[string]time.Duration{"30d": 30 * Day, "1m": time.Minute, "60s": time.Minute, "0h1m": time.Minute, "15m": 15 * time.Minute} {
		d, err := ParseExpiry(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, d, in)
	}

	for _, in := range []string{"0s", "0d", "0h0m"} {
		_, err := ParseExpiry(in)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), "longer than zero, and at least 1m", in)
	}
	// Too short to deliver and use: refused, and the message names the minimum.
	for _, in := range []string{"1s", "30s", "59s", "0m59s"} {
		_, err := ParseExpiry(in)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), "shorter than the minimum of 1m", in)
		assert.Contains(t, err.Error(), `"`+in+`"`, in)
	}
	// Units that are not documented, which made keys born expired.
	for _, in := range []string{"1ms", "500ms", "59999ms"} {
		_, err := ParseExpiry(in)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), "is not a duration", in)
	}
	for _, in := range []string{"", "0", "-1", "nevermore", "101y"} {
		_, err := ParseExpiry(in)
		require.Error(t, err, in)
	}
}

func TestFormatDuration(t *testing.T) {
	t.Parallel()
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
		{Year + time.Second, "8760h0m1s"},
		{0, "0s"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, FormatDuration(c.in), "%v", c.in)
	}
}

func TestFormatParseRoundTrip(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{Never, time.Minute, 90 * time.Minute, time.Hour, 36 * time.Hour,
		Day, 7 * Day, 30 * Day, 90 * Day, Year, 366 * Day, 5 * Year, 100 * Year} {
		back, err := ParseExpiry(FormatDuration(d))
		require.NoError(t, err, FormatDuration(d))
		assert.Equal(t, d, back)
	}
}

// FuzzParseDuration: no input panics, a parsed duration is whole seconds
// between zero and the cap, FormatDuration gives it back exactly, an expiry is
// "never" or at least MinExpiry, and no error grows with the input.
func FuzzParseDuration(f *testing.F) {
	for _, seed := range []string{"12h", "30d", "1y", "1d12h", "90s", "0s", "100y", "100y1s", "1ms", "500ms",
		"never", " 7D ", "99999999999999999999d", "9223372036854775807s", "1h0m5s", "5300w", "", "1m", "59s", "d30"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			if len(err.Error()) > 300 {
				t.Fatalf("error of %d bytes for a %d-byte input", len(err.Error()), len(s))
			}
		} else {
			if d < 0 || d > MaxDuration {
				t.Fatalf("%q parsed to %v, outside [0, 100y]", s, d)
			}
			if d%time.Second != 0 {
				t.Fatalf("%q parsed to %v, not whole seconds", s, d)
			}
			back, err := ParseDuration(FormatDuration(d))
			if err != nil || back != d {
				t.Fatalf("%q → %v → %q → %v, %v", s, d, FormatDuration(d), back, err)
			}
		}
		e, err := ParseExpiry(s)
		if err == nil && e != Never && (e < MinExpiry || e > MaxDuration) {
			t.Fatalf("expiry %q parsed to %v", s, e)
		}
	})
}
