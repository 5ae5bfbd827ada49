package policy

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Day and Year are the calendar-free units keyward uses: a year is 365 days.
const (
	Day  = 24 * time.Hour
	Week = 7 * Day
	Year = 365 * Day
)

// Never is what ParseExpiry returns for "never".
const Never time.Duration = -1

var units = map[string]time.Duration{
	"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour,
	"d": Day, "w": Week, "y": Year,
}

// ParseDuration reads "90s", "15m", "12h", "30d", "2w", "1y" and sums such as
// "1d12h". It is the one parser for expires_in, grace and every TTL setting.
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
		if i == 0 || j == i {
			return 0, fmt.Errorf("%q is not a duration; use a number and a unit (ms, s, m, h, d, w, y) such as 12h, 30d or 1y", s)
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		unit, ok := units[rest[i:j]]
		if err != nil || !ok {
			return 0, fmt.Errorf("%q is not a duration; use a number and a unit (ms, s, m, h, d, w, y) such as 12h, 30d or 1y", s)
		}
		if n > int64(100*Year/unit) {
			return 0, fmt.Errorf("%q is longer than 100 years; use a shorter duration", s)
		}
		total += time.Duration(n) * unit
		if total > 100*Year {
			return 0, fmt.Errorf("%q is longer than 100 years; use a shorter duration", s)
		}
		rest = rest[j:]
	}
	return total, nil
}

// ParseExpiry is ParseDuration plus "never" (returned as Never).
func ParseExpiry(s string) (time.Duration, error) {
	if strings.EqualFold(strings.TrimSpace(s), "never") {
		return Never, nil
	}
	d, err := ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, fmt.Errorf("expires_in must be longer than zero; use e.g. 12h or 30d, or \"never\"")
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
