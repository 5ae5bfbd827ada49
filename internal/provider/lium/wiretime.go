package lium

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// wireTime reads Lium's timestamps, which come without a zone
// ("2026-09-20T08:00:00"); those are taken as UTC. A zoned form is read too.
type wireTime struct{ time.Time }

var wireLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"}

func (t *wireTime) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a Lium timestamp should be a string, got %s", b)
	}
	if s == "" {
		return nil
	}
	for _, layout := range wireLayouts {
		if parsed, err := time.Parse(layout, s); err == nil {
			t.Time = parsed.UTC()
			return nil
		}
	}
	return fmt.Errorf("a timestamp from Lium (%q) is in a form keyward does not read", s)
}

// ptr is nil for a missing or null timestamp.
func (t *wireTime) ptr() *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	v := t.Time
	return &v
}
