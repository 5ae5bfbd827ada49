package store

import (
	"database/sql"
	"time"
)

// Millis stores a time as unix milliseconds; nil stays NULL.
func Millis(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

// FromMillis reads a nullable unix-milliseconds column.
func FromMillis(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := time.UnixMilli(v.Int64).UTC()
	return &t
}
