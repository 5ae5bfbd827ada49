package policy

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/secret"
)

// Day and Year are the calendar-free units keyward uses: a year is 365 days.
const (
	Day  = 24 * time.Hour
	Week = 7 * Day
	Year = 365 * Day
)

// Never is what ParseExpiry returns for "never".
const Never time.Duration = -1

// MaxDuration is the longest duration ParseDuration accepts.
const MaxDuration = 100 * Year

// MinExpiry is the shortest life a key may be given. A key must live long
// enough to be delivered (written to a file, or shown to a human who may be
// asked to confirm first) and then used, and keyward records deadlines to the
// second; anything shorter than a minute is born as good as expired, and
// "1s" or "30s" is far more likely a slip for 1d or 30d than a wish. One
// minute still allows a key for a single short task.
const MinExpiry = time.Minute

// units are the ones the tool schemas (^(never|([0-9]+[smhdwy])+)$) and the
// README document; there is deliberately no ms.
var units = map[byte]time.Duration{
	's': time.Second, 'm': time.Minute, 'h': time.Hour,
	'd': Day, 'w': Week, 'y': Year,
}

// ParseDuration reads "90s", "15m", "12h", "30d", "2w", "1y" and sums such as
// "1d12h" (units s, m, h, d, w, y; a year is 365 days), up to 100 years. It
// is the one parser for expires_in, grace, since and every duration setting.
func ParseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(strings.ToLower(s))
	if in == "" {
		return 0, fmt.Errorf("empty duration; use a number and a unit such as 12h, 30d or 1y")
	}
	var total time.Duration
	rest := in
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		j := i
		for j < len(rest) && rest[j] >= 'a' && rest[j] <= 'z' {
			j++
		}
		if i == 0 || j != i+1 {
			return 0, notDuration(s)
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		unit, ok := units[rest[i]]
		if err != nil || !ok {
			return 0, notDuration(s)
		}
		if n > int64(MaxDuration/unit) {
			return 0, tooLong(s)
		}
		total += time.Duration(n) * unit
		if total > MaxDuration {
			return 0, tooLong(s)
		}
		rest = rest[j:]
	}
	return total, nil
}

func notDuration(s string) error {
	return fmt.Errorf("%s is not a duration; use a number and a unit (s, m, h, d, w, y) such as 15m, 12h, 30d or 1y", quote(s))
}

func tooLong(s string) error {
	return fmt.Errorf("%s is longer than 100 years; use a shorter duration", quote(s))
}

// quote echoes a value in an error: masked, should it hold a secret pasted
// into the wrong field, and bounded.
func quote(s string) string { return strconv.Quote(secret.Clean(s, 40)) }

// ParseExpiry is ParseDuration plus "never" (returned as Never), for a key's
// life: at least MinExpiry.
func ParseExpiry(s string) (time.Duration, error) {
	if strings.EqualFold(strings.TrimSpace(s), "never") {
		return Never, nil
	}
	d, err := ParseDuration(s)
	if err != nil {
		return 0, err
	}
	least := FormatDuration(MinExpiry)
	switch {
	case d == 0:
		return 0, fmt.Errorf("a lifetime must be longer than zero, and at least %s; ask for a duration such as 15m, 12h or 30d, or \"never\"", least)
	case d < MinExpiry:
		return 0, fmt.Errorf("a lifetime of %s is shorter than the minimum of %s, so the key would expire before it could be used; ask for at least %s (such as 15m, 12h or 30d), or \"never\"",
			quote(s), least, least)
	}
	return d, nil
}

// FormatDuration prints a duration in the largest whole unit: 30d, 12h, 90m.
func FormatDuration(d time.Duration) string {
	switch {
	case d == Never:
		return "never"
	case d > 0 && d%Year == 0:
		return fmt.Sprintf("%dy", d/Year)
	case d > 0 && d%Day == 0:
		return fmt.Sprintf("%dd", d/Day)
	case d > 0 && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d > 0 && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.Round(time.Second).String()
}
