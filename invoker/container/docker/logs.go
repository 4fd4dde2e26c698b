package docker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gowhisk/gowhisk/invoker/container"
)

// Docker's multiplexed stream (API "application/vnd.docker.multiplexed-stream"):
// each frame is [stream, 0, 0, 0, size(4 bytes, big endian)] then size bytes.
const (
	frameHeaderLen = 8
	streamStdout   = 1
	streamStderr   = 2
	maxFrame       = 4 << 20 // bytes of one frame kept; the rest is skipped
)

// readFrame reads one frame of a multiplexed stream. Payloads longer than
// maxFrame are cut (the rest is read and discarded). It returns io.EOF at a
// clean end and io.ErrUnexpectedEOF for a cut frame.
func readFrame(r *bufio.Reader, buf []byte) (stream byte, payload []byte, err error) {
	var h [frameHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	size := int64(binary.BigEndian.Uint32(h[4:]))
	keep := min(size, maxFrame)
	if int64(cap(buf)) < keep {
		buf = make([]byte, keep)
	}
	buf = buf[:keep]
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, nil, io.ErrUnexpectedEOF
	}
	if size > keep {
		if _, err := io.CopyN(io.Discard, r, size-keep); err != nil {
			return 0, nil, io.ErrUnexpectedEOF
		}
	}
	return h[0], buf, nil
}

// splitTimestamp splits a log message Docker sent with timestamps on
// ("<RFC3339Nano> <text>") into its time and text. A message without a
// parsable timestamp keeps its text whole and gets the zero time.
func splitTimestamp(msg []byte) (time.Time, []byte) {
	i := bytes.IndexByte(msg, ' ')
	if i <= 0 || i > 40 {
		return time.Time{}, msg
	}
	t, err := time.Parse(time.RFC3339Nano, string(msg[:i]))
	if err != nil {
		return time.Time{}, msg
	}
	return t, msg[i+1:]
}

// entry is one framed line: a log line or a sentinel.
type entry struct {
	line     container.LogLine
	sentinel bool
}

// partialLine is a stream's line being assembled from messages (Docker splits
// lines longer than 16 KiB into several messages, each with a timestamp).
type partialLine struct {
	active   bool
	time     time.Time
	buf      []byte
	overflow bool   // bytes of this line were dropped
	tail     []byte // the line's last bytes, to spot a sentinel after an overflow
}

// logBuffer collects a container's output, framed into lines per stream,
// and hands it out per activation, up to the sentinels. Its size is bounded:
// beyond maxBytes of pending text, lines are dropped (and the next take
// reports truncation), sentinels never are. It is safe for concurrent use.
type logBuffer struct {
	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every change
	entries  []entry
	pending  int64
	maxBytes int64
	dropped  bool
	partial  [3]partialLine // by stream number
	ended    bool
	err      error
}

func newLogBuffer(maxBytes int64) *logBuffer {
	return &logBuffer{changed: make(chan struct{}), maxBytes: maxBytes}
}

func (b *logBuffer) notifyLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// addMessage adds one message of stream (1 stdout, 2 stderr) as Docker sent
// it with timestamps on. arrival is the time used when the message has no
// timestamp.
func (b *logBuffer) addMessage(stream byte, msg []byte, arrival time.Time) {
	if stream != streamStdout && stream != streamStderr {
		return
	}
	t, text := splitTimestamp(msg)
	if t.IsZero() {
		t = arrival
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	p := &b.partial[stream]
	for len(text) > 0 {
		if !p.active {
			*p = partialLine{active: true, time: t, buf: p.buf[:0]}
		}
		nl := bytes.IndexByte(text, '\n')
		chunk := text
		if nl >= 0 {
			chunk = text[:nl]
		}
		b.appendPartialLocked(p, chunk)
		if nl < 0 {
			break
		}
		b.finishLineLocked(stream, p)
		text = text[nl+1:]
	}
	b.notifyLocked()
}

func (b *logBuffer) appendPartialLocked(p *partialLine, chunk []byte) {
	room := b.maxBytes - b.pending - int64(len(p.buf))
	if room >= int64(len(chunk)) && !p.overflow {
		p.buf = append(p.buf, chunk...)
		return
	}
	if room > 0 && !p.overflow {
		p.buf = append(p.buf, chunk[:room]...)
	}
	p.overflow = true
	b.dropped = true
	// Keep the last bytes seen, so that a sentinel at the end of an
	// overlong line is still found.
	p.tail = append(p.tail, chunk...)
	if n := len(p.tail) - len(container.Sentinel); n > 0 {
		p.tail = append(p.tail[:0], p.tail[n:]...)
	}
}

func (b *logBuffer) finishLineLocked(stream byte, p *partialLine) {
	name := "stdout"
	if stream == streamStderr {
		name = "stderr"
	}
	text := p.buf
	if n := len(text); n > 0 && text[n-1] == '\r' {
		text = text[:n-1]
	}
	end := text
	if p.overflow {
		end = append(append([]byte(nil), text...), p.tail...)
	}
	sentinel := bytes.HasSuffix(end, []byte(container.Sentinel))
	if sentinel && !p.overflow {
		text = text[:len(text)-len(container.Sentinel)]
	}
	if len(text) > 0 || !sentinel {
		b.entries = append(b.entries, entry{line: container.LogLine{Time: p.time, Stream: name, Text: string(text)}})
		b.pending += int64(len(text))
	}
	if sentinel {
		b.entries = append(b.entries, entry{line: container.LogLine{Time: p.time, Stream: name}, sentinel: true})
	}
	p.active = false
	p.overflow = false
	p.tail = p.tail[:0]
	if cap(p.buf) > 64<<10 {
		p.buf = nil
	}
}

// end marks the end of the output (the container is gone or the stream
// broke with err); a line without its newline is kept.
func (b *logBuffer) end(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return
	}
	for s := range b.partial {
		if b.partial[s].active {
			b.finishLineLocked(byte(s), &b.partial[s])
		}
	}
	b.ended = true
	b.err = err
	b.notifyLocked()
}

// take removes and returns the lines of one activation: with
// needSentinels, the lines up to the point where both streams have written
// their sentinel, or nothing (ready false) while that point has not come and
// the output goes on; without, everything there is. At most limit bytes of
// text are returned; truncated reports dropped bytes.
func (b *logBuffer) take(limit int64, needSentinels bool) (lines []container.LogLine, truncated, ready bool, changed <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.entries)
	if needSentinels {
		n = sentinelCut(b.entries)
		if n < 0 {
			if !b.ended {
				return nil, false, false, b.changed
			}
			n = len(b.entries)
		}
	}
	var used int64
	truncated = b.dropped
	for _, e := range b.entries[:n] {
		b.pending -= int64(len(e.line.Text))
		if e.sentinel {
			continue
		}
		if used+int64(len(e.line.Text)) > limit {
			truncated = true
			if room := limit - used; room > 0 {
				e.line.Text = e.line.Text[:room]
				lines = append(lines, e.line)
				used = limit
			}
			continue
		}
		used += int64(len(e.line.Text))
		lines = append(lines, e.line)
	}
	b.entries = append(b.entries[:0], b.entries[n:]...)
	b.dropped = false
	return lines, truncated, true, b.changed
}

// sentinelCut returns how many entries make up the activation that ends
// with a sentinel on stdout and one on stderr, or -1 while one is missing.
func sentinelCut(entries []entry) int {
	var out, errs bool
	for i, e := range entries {
		if !e.sentinel {
			continue
		}
		if e.line.Stream == "stderr" {
			errs = true
		} else {
			out = true
		}
		if out && errs {
			return i + 1
		}
	}
	return -1
}

// wait takes the lines of one activation, waiting (bounded by ctx) for the
// sentinels when asked to. When ctx ends first it returns what there is
// and the context's error wrapped as a collection problem.
func (b *logBuffer) wait(ctx context.Context, limit int64, needSentinels bool) ([]container.LogLine, bool, error) {
	return b.waitIdle(ctx, limit, needSentinels, 0)
}

// waitIdle is wait that also gives up after idle (when positive) without
// any new output.
func (b *logBuffer) waitIdle(ctx context.Context, limit int64, needSentinels bool, idle time.Duration) ([]container.LogLine, bool, error) {
	var timer *time.Timer
	var expired <-chan time.Time
	if idle > 0 {
		timer = time.NewTimer(idle)
		defer timer.Stop()
		expired = timer.C
	}
	for {
		lines, truncated, ready, changed := b.take(limit, needSentinels)
		if ready {
			b.mu.Lock()
			err := b.err
			b.mu.Unlock()
			if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, context.Canceled) {
				return lines, truncated, fmt.Errorf("reading container logs: %w", err)
			}
			return lines, truncated, nil
		}
		var cause error
		select {
		case <-changed:
			if timer != nil {
				timer.Reset(idle)
			}
			continue
		case <-expired:
			cause = fmt.Errorf("no output for %v", idle)
		case <-ctx.Done():
			cause = ctx.Err()
		}
		lines, truncated, _, _ = b.take(limit, false)
		return lines, truncated, fmt.Errorf("waiting for the log sentinels: %w", cause)
	}
}

// follow copies a multiplexed log stream into b until it ends.
func (b *logBuffer) follow(r io.Reader, now func() time.Time) {
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	for {
		stream, payload, err := readFrame(br, buf)
		if err != nil {
			b.end(err)
			return
		}
		buf = payload[:0]
		b.addMessage(stream, payload, now())
	}
}
