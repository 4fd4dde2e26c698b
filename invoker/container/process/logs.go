package process

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/gowhisk/gowhisk/invoker/container"
)

// Stream indexes.
const (
	stdout = 0
	stderr = 1
)

var streamNames = [2]string{"stdout", "stderr"}

// exitDrain is how long Logs still waits for more output, or the streams'
// end, after the sandbox's main process exited (a grandchild may hold the
// pipes open).
const exitDrain = 50 * time.Millisecond

// logEntry is a line or a sentinel mark.
type logEntry struct {
	line     container.LogLine
	sentinel bool
}

// logBuffer holds the lines a sandbox wrote and not yet collected. It
// holds at most max bytes of text: beyond that, lines are dropped (and the
// next collection reports truncation) while the readers keep draining the
// pipes, so the action never blocks on a full pipe and the invoker's memory
// stays bounded. Sentinels are always kept.
type logBuffer struct {
	max     int64
	maxLine int
	now     func() time.Time

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every change
	queues    [2][]logEntry
	sentinels [2]int // sentinel marks in queues
	eof       [2]bool
	held      int64
	dropped   bool
}

func newLogBuffer(limit int64, now func() time.Time) *logBuffer {
	maxLine := int(min(max(limit, 64), 1<<20)) // never shorter than a sentinel
	return &logBuffer{max: limit, maxLine: maxLine, now: now, changed: make(chan struct{})}
}

// signal wakes the waiters; b.mu is held.
func (b *logBuffer) signal() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// add appends a line (or a sentinel) of a stream.
func (b *logBuffer) add(stream int, at time.Time, text string, clipped bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if clipped {
		b.dropped = true
	}
	if text == container.Sentinel {
		b.queues[stream] = append(b.queues[stream], logEntry{sentinel: true})
		b.sentinels[stream]++
		b.signal()
		return
	}
	if b.held+int64(len(text)) > b.max {
		b.dropped = true
		return
	}
	b.held += int64(len(text))
	b.queues[stream] = append(b.queues[stream], logEntry{line: container.LogLine{Time: at, Stream: streamNames[stream], Text: text}})
	b.signal()
}

// closeStream records the end of a stream.
func (b *logBuffer) closeStream(stream int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.eof[stream] = true
	b.signal()
}

// pump reads r line by line into stream until EOF or a read error (the
// pipe closed by Destroy).
func (b *logBuffer) pump(stream int, r io.Reader) {
	defer b.closeStream(stream)
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		cur     []byte
		start   time.Time
		clipped bool
	)
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			if len(cur) == 0 && !clipped {
				start = b.now()
			}
			complete := chunk[len(chunk)-1] == '\n'
			if complete {
				chunk = chunk[:len(chunk)-1]
			}
			if room := b.maxLine - len(cur); len(chunk) > room {
				chunk, clipped = chunk[:max(room, 0)], true
			}
			cur = append(cur, chunk...)
			if complete {
				b.add(stream, start, string(cur), clipped)
				cur, clipped = cur[:0], false
				if cap(cur) > 64<<10 {
					cur = nil // do not keep a huge line's buffer
				}
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if len(cur) > 0 || clipped {
				b.add(stream, start, string(cur), clipped)
			}
			return
		}
	}
}

// ready reports whether both streams reached a sentinel or their end;
// b.mu is held.
func (b *logBuffer) ready() bool {
	for s := range b.queues {
		if !b.eof[s] && b.sentinels[s] == 0 {
			return false
		}
	}
	return true
}

// collect returns the lines written since the previous call, up to and
// excluding each stream's next sentinel, ordered by time, at most limit
// bytes of text (limit < 0: no limit). With wait it first waits until both
// streams wrote their sentinel or ended, bounded by ctx and, once exited is
// closed, by a short drain. With wait, the error wraps
// container.ErrLogsIncomplete when a sentinel is missing (a stream ended
// without it, or the wait was cut short: then it also wraps ctx's error);
// the lines collected so far are returned with it.
func (b *logBuffer) collect(ctx context.Context, limit int64, wait bool, exited <-chan struct{}) ([]container.LogLine, bool, error) {
	var werr error
	if wait {
		// After the exit, drain restarts on every new line: the pipes'
		// last bytes are still read, however slowly, but a grandchild
		// holding them open silently does not hold the caller.
		var drain *time.Timer
		var drained <-chan time.Time
		defer func() {
			if drain != nil {
				drain.Stop()
			}
		}()
	waiting:
		for {
			b.mu.Lock()
			if b.ready() {
				b.mu.Unlock()
				break
			}
			ch := b.changed
			b.mu.Unlock()
			select {
			case <-ch:
				if drain != nil {
					drain.Reset(exitDrain)
				}
			case <-ctx.Done():
				werr = fmt.Errorf("logs: waiting for the sentinels: %w: %w", container.ErrLogsIncomplete, ctx.Err())
				break waiting
			case <-exited:
				drain = time.NewTimer(exitDrain)
				drained, exited = drain.C, nil
			case <-drained:
				break waiting
			}
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if wait && werr == nil {
		for s := range b.queues {
			if b.sentinels[s] == 0 {
				what := "ended"
				if !b.eof[s] {
					what = "is still open after the sandbox exited"
				}
				werr = fmt.Errorf("logs: %s %s without its sentinel: %w", streamNames[s], what, container.ErrLogsIncomplete)
				break
			}
		}
	}
	var lines []container.LogLine
	for s := range b.queues {
		q := b.queues[s]
		n := 0
		for n < len(q) {
			e := q[n]
			n++
			if e.sentinel {
				b.sentinels[s]--
				break
			}
			b.held -= int64(len(e.line.Text))
			lines = append(lines, e.line)
		}
		b.queues[s] = append(q[:0:0], q[n:]...)
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].Time.Before(lines[j].Time) })
	truncated := b.dropped
	b.dropped = false
	if limit >= 0 {
		var total int64
		for i, l := range lines {
			total += int64(len(l.Text))
			if total > limit {
				lines, truncated = lines[:i], true
				break
			}
		}
	}
	return lines, truncated, werr
}
