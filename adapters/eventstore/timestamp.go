package eventstore

import "time"

// NormalizeTime returns t in UTC truncated to microseconds, the precision
// every adapter keeps (PostgreSQL timestamps hold microseconds), so a time
// read back equals the time appended.
func NormalizeTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}
