package pool

import "time"

// clock gives the pool the time and its timers, so that tests can drive
// them.
type clock interface {
	Now() time.Time
	// AfterFunc returns a stopped timer that calls f in its own goroutine
	// each time it fires after Reset.
	AfterFunc(f func()) timer
}

type timer interface {
	Reset(d time.Duration)
	Stop()
}

// realClock uses the time package, with Config.Now for the time.
type realClock struct{ now func() time.Time }

func (c realClock) Now() time.Time { return c.now() }

func (realClock) AfterFunc(f func()) timer {
	t := time.AfterFunc(time.Hour, f)
	t.Stop()
	return realTimer{t}
}

type realTimer struct{ t *time.Timer }

func (t realTimer) Reset(d time.Duration) { t.t.Reset(d) }
func (t realTimer) Stop()                 { t.t.Stop() }
