package sqlstore

import (
	"encoding/json"
	"fmt"
	"time"
)

// timeCol scans a stored time: microseconds since the epoch (SQLite) or a
// timestamp (PostgreSQL), always returned in UTC. NULL leaves it unset.
type timeCol struct {
	t     time.Time
	valid bool
}

// Scan implements sql.Scanner (which pgx honours too).
func (c *timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c = timeCol{}
	case int64:
		c.t, c.valid = time.UnixMicro(v).UTC(), true
	case time.Time:
		c.t, c.valid = v.UTC(), true
	default:
		return fmt.Errorf("cannot read a time from %T", src)
	}
	return nil
}

// ptr returns the time, or nil when it was NULL.
func (c *timeCol) ptr() *time.Time {
	if !c.valid {
		return nil
	}
	t := c.t
	return &t
}

// encode returns the JSON stored for v, as text (which both SQLite's TEXT
// and PostgreSQL's jsonb take).
func encode(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode: %w", err)
	}
	return string(b), nil
}
