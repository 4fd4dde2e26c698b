package docker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/invoker/container"
)

// frame builds one frame of Docker's multiplexed stream.
func frame(stream byte, payload string) []byte {
	h := make([]byte, frameHeaderLen, frameHeaderLen+len(payload))
	h[0] = stream
	binary.BigEndian.PutUint32(h[4:], uint32(len(payload)))
	return append(h, payload...)
}

const ts1 = "2017-05-02T20:12:55.102315773Z"
const ts2 = "2017-05-02T20:12:56.000000001Z"

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestReadFrame(t *testing.T) {
	var in bytes.Buffer
	in.Write(frame(1, "out"))
	in.Write(frame(2, "err"))
	in.Write(frame(1, ""))
	r := bufio.NewReader(&in)
	for _, want := range []struct {
		stream byte
		text   string
	}{{1, "out"}, {2, "err"}, {1, ""}} {
		s, p, err := readFrame(r, nil)
		if err != nil || s != want.stream || string(p) != want.text {
			t.Fatalf("frame %d %q %v, want %d %q", s, p, err, want.stream, want.text)
		}
	}
	if _, _, err := readFrame(r, nil); err != io.EOF {
		t.Fatalf("end: %v, want EOF", err)
	}
	t.Run("cut frame", func(t *testing.T) {
		b := frame(1, "hello")
		_, _, err := readFrame(bufio.NewReader(bytes.NewReader(b[:10])), nil)
		if err != io.ErrUnexpectedEOF {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("cut header", func(t *testing.T) {
		_, _, err := readFrame(bufio.NewReader(bytes.NewReader([]byte{1, 0, 0})), nil)
		if err != io.ErrUnexpectedEOF {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("oversized frame is cut and skipped", func(t *testing.T) {
		var in bytes.Buffer
		in.Write(frame(1, strings.Repeat("x", maxFrame+10)))
		in.Write(frame(2, "next"))
		r := bufio.NewReader(&in)
		_, p, err := readFrame(r, nil)
		if err != nil || len(p) != maxFrame {
			t.Fatalf("len %d err %v", len(p), err)
		}
		s, p, err := readFrame(r, nil)
		if err != nil || s != 2 || string(p) != "next" {
			t.Fatalf("after oversized: %d %q %v", s, p, err)
		}
	})
}

func TestSplitTimestamp(t *testing.T) {
	tests := []struct {
		name, msg, text string
		hasTime         bool
	}{
		{"timestamped", ts1 + " hello\n", "hello\n", true},
		{"empty text", ts1 + " ", "", true},
		{"no timestamp", "hello world", "hello world", false},
		{"no space", "hello", "hello", false},
		{"leading space", " hello", " hello", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm, text := splitTimestamp([]byte(tt.msg))
			if string(text) != tt.text || tm.IsZero() == tt.hasTime {
				t.Errorf("got %v %q", tm, text)
			}
		})
	}
}

type msg struct {
	stream byte
	text   string
}

func fill(b *logBuffer, msgs ...msg) {
	for _, m := range msgs {
		b.addMessage(m.stream, []byte(m.text), time.Unix(0, 0))
	}
}

func texts(lines []container.LogLine) []string {
	out := []string{}
	for _, l := range lines {
		out = append(out, l.Stream+": "+l.Text)
	}
	return out
}

func TestLogBufferFraming(t *testing.T) {
	S := container.Sentinel
	tests := []struct {
		name          string
		msgs          []msg
		limit         int64
		needSentinels bool
		ended         bool
		wantReady     bool
		want          []string
		wantTrunc     bool
		wantLeft      int // entries left for the next activation
	}{
		{
			name:          "both sentinels",
			msgs:          []msg{{1, ts1 + " hello\n"}, {2, ts1 + " oops\n"}, {1, ts2 + " " + S + "\n"}, {2, ts2 + " " + S + "\n"}},
			limit:         1 << 20,
			needSentinels: true, wantReady: true,
			want: []string{"stdout: hello", "stderr: oops"},
		},
		{
			name:          "stderr sentinel missing: not ready",
			msgs:          []msg{{1, ts1 + " hello\n"}, {1, ts2 + " " + S + "\n"}},
			limit:         1 << 20,
			needSentinels: true, wantReady: false, wantLeft: 2,
		},
		{
			name:          "stream ended without sentinels: everything",
			msgs:          []msg{{1, ts1 + " hello\n"}, {2, ts1 + " partial"}},
			limit:         1 << 20,
			needSentinels: true, ended: true, wantReady: true,
			want: []string{"stdout: hello", "stderr: partial"},
		},
		{
			name:          "next activation's lines stay",
			msgs:          []msg{{1, ts1 + " a\n"}, {1, ts1 + " " + S + "\n"}, {2, ts1 + " " + S + "\n"}, {1, ts2 + " b\n"}, {1, ts2 + " " + S + "\n"}},
			limit:         1 << 20,
			needSentinels: true, wantReady: true,
			want: []string{"stdout: a"}, wantLeft: 2,
		},
		{
			name:          "without sentinels: all there is, sentinels dropped",
			msgs:          []msg{{1, ts1 + " a\n"}, {1, ts1 + " " + S + "\n"}, {2, ts1 + " b\n"}},
			limit:         1 << 20,
			needSentinels: false, wantReady: true,
			want: []string{"stdout: a", "stderr: b"},
		},
		{
			name:          "sentinel after text without newline",
			msgs:          []msg{{1, ts1 + " no newline" + S + "\n"}, {2, ts1 + " " + S + "\n"}},
			limit:         1 << 20,
			needSentinels: true, wantReady: true,
			want: []string{"stdout: no newline"},
		},
		{
			name:          "line split by docker into partial messages",
			msgs:          []msg{{1, ts1 + " first half "}, {1, ts2 + " second half\n"}, {1, ts2 + " " + S + "\n"}, {2, ts2 + " " + S + "\n"}},
			limit:         1 << 20,
			needSentinels: true, wantReady: true,
			want: []string{"stdout: first half second half"},
		},
		{
			name:          "several lines in one message, CRLF",
			msgs:          []msg{{1, ts1 + " a\r\nb\n"}},
			limit:         1 << 20,
			needSentinels: false, wantReady: true,
			want: []string{"stdout: a", "stdout: b"},
		},
		{
			name:          "empty lines are kept",
			msgs:          []msg{{1, ts1 + " \n"}, {1, ts1 + " x\n"}},
			limit:         1 << 20,
			needSentinels: false, wantReady: true,
			want: []string{"stdout: ", "stdout: x"},
		},
		{
			name:          "limit cuts the last line and drops the rest",
			msgs:          []msg{{1, ts1 + " 12345\n"}, {1, ts1 + " 67890\n"}, {2, ts1 + " abc\n"}},
			limit:         8,
			needSentinels: false, wantReady: true,
			want: []string{"stdout: 12345", "stdout: 678"}, wantTrunc: true,
		},
		{
			name:          "zero limit",
			msgs:          []msg{{1, ts1 + " 12345\n"}},
			limit:         0,
			needSentinels: false, wantReady: true,
			want: []string{}, wantTrunc: true,
		},
		{
			name:          "stdin and system streams ignored",
			msgs:          []msg{{0, ts1 + " in\n"}, {3, ts1 + " sys\n"}, {1, ts1 + " out\n"}},
			limit:         1 << 20,
			needSentinels: false, wantReady: true,
			want: []string{"stdout: out"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newLogBuffer(1 << 20)
			fill(b, tt.msgs...)
			if tt.ended {
				b.end(io.EOF)
			}
			lines, trunc, ready, _ := b.take(tt.limit, tt.needSentinels)
			if ready != tt.wantReady {
				t.Fatalf("ready %v, want %v", ready, tt.wantReady)
			}
			if ready {
				if got := texts(lines); strings.Join(got, "|") != strings.Join(tt.want, "|") {
					t.Errorf("lines %q, want %q", got, tt.want)
				}
				if trunc != tt.wantTrunc {
					t.Errorf("truncated %v, want %v", trunc, tt.wantTrunc)
				}
			}
			if len(b.entries) != tt.wantLeft {
				t.Errorf("%d entries left, want %d", len(b.entries), tt.wantLeft)
			}
		})
	}
}

func TestLogBufferTimestamps(t *testing.T) {
	b := newLogBuffer(1 << 20)
	fill(b, msg{1, ts1 + " a\n"}, msg{2, ts2 + " b\n"}, msg{1, "untimed\n"})
	lines, _, _, _ := b.take(1<<20, false)
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	if !lines[0].Time.Equal(mustTime(t, ts1)) || !lines[1].Time.Equal(mustTime(t, ts2)) {
		t.Errorf("times %v %v", lines[0].Time, lines[1].Time)
	}
	if !lines[2].Time.Equal(time.Unix(0, 0)) {
		t.Errorf("a line without a timestamp gets the arrival time, got %v", lines[2].Time)
	}
}

func TestLogBufferBound(t *testing.T) {
	S := container.Sentinel
	b := newLogBuffer(10)
	fill(b,
		msg{1, ts1 + " 12345\n"},
		msg{1, ts1 + " 67890abcdef\n"}, // over the bound: cut
		msg{1, ts1 + " more\n"},        // dropped
		msg{1, ts1 + " " + S + "\n"},   // sentinels are never dropped
		msg{2, ts1 + " " + S + "\n"},
	)
	lines, trunc, ready, _ := b.take(1<<20, true)
	if !ready || !trunc {
		t.Fatalf("ready %v truncated %v", ready, trunc)
	}
	var total int
	for _, l := range lines {
		total += len(l.Text)
	}
	if total > 10 {
		t.Errorf("%d bytes kept over a bound of 10: %q", total, texts(lines))
	}
	// The bound is per pending output: after the take there is room again.
	fill(b, msg{1, ts1 + " again\n"})
	lines, trunc, _, _ = b.take(1<<20, false)
	if trunc || len(lines) != 1 || lines[0].Text != "again" {
		t.Errorf("after take: %q truncated %v", texts(lines), trunc)
	}
}

func TestLogBufferSentinelAfterOverlongLine(t *testing.T) {
	b := newLogBuffer(8)
	fill(b,
		msg{1, ts1 + " " + strings.Repeat("x", 100)},
		msg{1, ts1 + " yyy" + container.Sentinel + "\n"},
		msg{2, ts1 + " " + container.Sentinel + "\n"},
	)
	_, trunc, ready, _ := b.take(1<<20, true)
	if !ready || !trunc {
		t.Fatalf("ready %v truncated %v: the sentinel of an overlong line was lost", ready, trunc)
	}
}

func TestLogBufferWait(t *testing.T) {
	S := container.Sentinel
	t.Run("sentinels arrive later", func(t *testing.T) {
		b := newLogBuffer(1 << 20)
		fill(b, msg{1, ts1 + " a\n"})
		done := make(chan []container.LogLine)
		go func() {
			lines, _, err := b.wait(context.Background(), 1<<20, true)
			if err != nil {
				t.Error(err)
			}
			done <- lines
		}()
		fill(b, msg{1, ts1 + " " + S + "\n"}, msg{2, ts1 + " " + S + "\n"})
		if got := texts(<-done); len(got) != 1 || got[0] != "stdout: a" {
			t.Errorf("lines %q", got)
		}
	})
	t.Run("context ends first", func(t *testing.T) {
		b := newLogBuffer(1 << 20)
		fill(b, msg{1, ts1 + " a\n"})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		lines, _, err := b.wait(ctx, 1<<20, true)
		if !errors.Is(err, context.Canceled) || len(lines) != 1 {
			t.Errorf("lines %q err %v", texts(lines), err)
		}
	})
	t.Run("idle output", func(t *testing.T) {
		b := newLogBuffer(1 << 20)
		fill(b, msg{2, ts1 + " " + S + "\n"})
		lines, _, err := b.waitIdle(context.Background(), 1<<20, true, time.Millisecond)
		if err == nil || len(lines) != 0 {
			t.Errorf("lines %q err %v", texts(lines), err)
		}
	})
	t.Run("stream error reported", func(t *testing.T) {
		b := newLogBuffer(1 << 20)
		fill(b, msg{1, ts1 + " a\n"})
		b.end(io.ErrUnexpectedEOF)
		lines, _, err := b.wait(context.Background(), 1<<20, true)
		if !errors.Is(err, io.ErrUnexpectedEOF) || len(lines) != 1 {
			t.Errorf("lines %q err %v", texts(lines), err)
		}
	})
}

func TestLogBufferFollow(t *testing.T) {
	var in bytes.Buffer
	in.Write(frame(1, ts1+" hello\n"))
	in.Write(frame(2, ts1+" "+container.Sentinel+"\n"))
	in.Write(frame(1, ts1+" "+container.Sentinel+"\n"))
	in.Write(frame(1, ts2+" tail without newline"))
	b := newLogBuffer(1 << 20)
	b.follow(&in, time.Now)
	lines, _, err := b.wait(context.Background(), 1<<20, true)
	if err != nil || len(lines) != 1 || lines[0].Text != "hello" {
		t.Fatalf("first: %q %v", texts(lines), err)
	}
	lines, _, err = b.wait(context.Background(), 1<<20, true)
	if err != nil || len(lines) != 1 || lines[0].Text != "tail without newline" {
		t.Fatalf("after the end: %q %v", texts(lines), err)
	}
}

func FuzzLogBuffer(f *testing.F) {
	f.Add([]byte(string(frame(1, ts1+" hello\n"))+string(frame(2, ts1+" "+container.Sentinel+"\n"))), int64(100))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 5, 'a'}, int64(0))
	f.Fuzz(func(t *testing.T, stream []byte, limit int64) {
		if limit < 0 {
			limit = -limit
		}
		b := newLogBuffer(64)
		b.follow(bytes.NewReader(stream), time.Now)
		lines, _, err := b.wait(context.Background(), limit, true)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("err %v", err)
		}
		var total int64
		for _, l := range lines {
			total += int64(len(l.Text))
			if strings.Contains(l.Text, "\n") {
				t.Fatalf("line with a newline: %q", l.Text)
			}
		}
		if total > limit {
			t.Fatalf("%d bytes over the limit %d", total, limit)
		}
		if b.pending < 0 {
			t.Fatalf("pending %d", b.pending)
		}
	})
}
