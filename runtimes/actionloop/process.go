// Package actionloop drives an action runtime process with the action-loop
// protocol of package runtimes (see runtimes/doc.go): one JSON line on the
// process's stdin per request, one JSON line back on its fd 3. It also
// prepares action code on disk (Prepare) and runs native executables with
// the OpenWhisk docker-skeleton semantics (Native).
package actionloop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/gowhisk/gowhisk/invoker/container"
)

// MaxLine is the longest line a launcher may write on fd 3 (64 MiB). A
// longer line breaks the process: Run reports an error wrapping
// container.ErrExited and the caller destroys it.
const MaxLine = 64 << 20

// exitGrace is how long Run still waits for a pending answer line after the
// process exited (the line is already in the pipe by then).
const exitGrace = 100 * time.Millisecond

// ErrProtocol marks a launcher that broke the protocol (a bad ready or init
// answer, an overlong line, a request after a timeout). It wraps
// container.ErrExited: the process must be destroyed.
var ErrProtocol = fmt.Errorf("%w (launcher protocol error)", container.ErrExited)

// Process is a started launcher. Init must be called once before Run. Run
// calls are serialized.
//
// The caller's goroutine writes each request to stdin and reads the answer
// from fd 3 itself, both pipes bounded by deadlines (ctx's deadline, now
// when ctx is cancelled, a short grace once the process exited): no
// goroutine hop on the way to the launcher and back.
type Process struct {
	cmd     *exec.Cmd
	stdin   *os.File // write end of the launcher's stdin
	answers *os.File // read end of fd 3
	br      *bufio.Reader
	exited  chan struct{}
	waitErr error // set before exited is closed

	sem chan struct{} // one request (or the ready line) at a time

	mu       sync.Mutex
	broken   error     // non-nil once the stream is out of sync
	gen      uint64    // counts exchanges: a late cancellation of an old one is ignored
	exitedAt time.Time // when the process exited (zero while it runs)
}

// Start starts cmd as a launcher. The caller prepares cmd (Path, Args, Env,
// Dir, SysProcAttr, Stdout, Stderr); Start adds stdin and the fd-3 pipe (cmd
// must have no Stdin and no ExtraFiles), starts it and waits, bounded by
// ctx, for the ready line {"ok":true}. On error the process, if started, is
// killed. Errors: container.ErrTimeout when ctx ends first, an error
// wrapping container.ErrExited when the launcher exits or answers wrongly,
// or the start error.
func Start(ctx context.Context, cmd *exec.Cmd) (*Process, error) {
	if cmd.Stdin != nil || len(cmd.ExtraFiles) != 0 {
		return nil, errors.New("actionloop: cmd must not set Stdin or ExtraFiles")
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("actionloop: %w", err)
	}
	ansR, ansW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("actionloop: %w", err)
	}
	cmd.Stdin = inR
	cmd.ExtraFiles = []*os.File{ansW}
	if cmd.WaitDelay == 0 {
		// Output copying must not outlive the process for long when a
		// grandchild keeps the log pipes open.
		cmd.WaitDelay = time.Second
	}
	err = cmd.Start()
	inR.Close()
	ansW.Close()
	if err != nil {
		inW.Close()
		ansR.Close()
		return nil, fmt.Errorf("actionloop: start %s: %w", cmd.Path, err)
	}
	p := &Process{
		cmd:     cmd,
		stdin:   inW,
		answers: ansR,
		br:      bufio.NewReaderSize(ansR, 64<<10),
		exited:  make(chan struct{}),
		sem:     make(chan struct{}, 1),
	}
	p.sem <- struct{}{} // held for the ready line
	go p.wait()

	stop := p.deadlines(ctx)
	line, err := p.readLine(ctx)
	stop()
	<-p.sem
	if err == nil {
		var ack struct {
			OK bool `json:"ok"`
		}
		if json.Unmarshal(line, &ack) != nil || !ack.OK {
			err = fmt.Errorf("%w: bad ready line %.200q", ErrProtocol, line)
		}
	}
	if err != nil {
		p.Kill()
		return nil, fmt.Errorf("actionloop: launcher did not start: %w", err)
	}
	return p, nil
}

// wait waits for the process to exit, then gives a pending read exitGrace
// to find its answer, and closes the pipes once no exchange uses them.
func (p *Process) wait() {
	p.waitErr = p.cmd.Wait()
	p.mu.Lock()
	p.exitedAt = time.Now()
	p.answers.SetReadDeadline(p.exitedAt.Add(exitGrace))
	p.stdin.SetWriteDeadline(p.exitedAt) // a grandchild may hold stdin open
	p.mu.Unlock()
	close(p.exited)
	p.sem <- struct{}{} // never released: the process is gone
	p.stdin.Close()
	p.answers.Close()
}

// deadlines sets the pipes' deadlines for a new exchange bounded by ctx
// and returns the function that ends it.
func (p *Process) deadlines(ctx context.Context) (stop func() bool) {
	d, _ := ctx.Deadline()
	p.mu.Lock()
	p.gen++
	gen := p.gen
	rd, wd := d, d
	if !p.exitedAt.IsZero() {
		if g := p.exitedAt.Add(exitGrace); rd.IsZero() || g.Before(rd) {
			rd = g
		}
		wd = p.exitedAt
	}
	p.answers.SetReadDeadline(rd)
	p.stdin.SetWriteDeadline(wd)
	p.mu.Unlock()
	if ctx.Done() == nil {
		return func() bool { return true }
	}
	return context.AfterFunc(ctx, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.gen == gen {
			now := time.Now()
			p.answers.SetReadDeadline(now)
			p.stdin.SetWriteDeadline(now)
		}
	})
}

// readLine reads the next line from fd 3 within the deadlines set for
// ctx. The caller holds p.sem.
func (p *Process) readLine(ctx context.Context) ([]byte, error) {
	var buf []byte
	for {
		frag, err := p.br.ReadSlice('\n')
		if len(buf)+len(frag) > MaxLine+1 {
			return nil, fmt.Errorf("%w: answer line longer than %d bytes", ErrProtocol, MaxLine)
		}
		if err == nil {
			if buf == nil {
				buf = frag
			} else {
				buf = append(buf, frag...)
			}
			// A copy: the reader's buffer is reused by the next read.
			return bytes.Clone(bytes.TrimRight(buf, "\r\n")), nil
		}
		buf = append(buf, frag...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return nil, p.ioErr(ctx, err)
	}
}

// ioErr maps a failed read or write: a deadline while the process runs
// is ctx's (a timeout); anything else (end of file, a broken or closed
// pipe, the exit grace passed) means the launcher is gone.
func (p *Process) ioErr(ctx context.Context, err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		p.mu.Lock()
		running := p.exitedAt.IsZero()
		p.mu.Unlock()
		if running || ctx.Err() != nil {
			return container.ErrTimeout
		}
	}
	return container.ErrExited
}

// Cmd returns the started command (for its Process and SysProcAttr).
func (p *Process) Cmd() *exec.Cmd { return p.cmd }

// Exited is closed when the launcher process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// ExitErr returns the process's exit error once Exited is closed (nil for
// a clean exit or while it runs).
func (p *Process) ExitErr() error {
	select {
	case <-p.exited:
		return p.waitErr
	default:
		return nil
	}
}

// Kill kills the launcher process (not its process group: that is the
// sandbox's job) and waits for it to exit.
func (p *Process) Kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Kill()
	<-p.exited
}

// Close asks the launcher to exit by closing its stdin; it does not wait.
func (p *Process) Close() error { return p.stdin.Close() }

// InitMessage is the first stdin line of the launcher protocol.
type InitMessage struct {
	Name string            `json:"name"`
	Main string            `json:"main"`
	Path string            `json:"path"`
	Env  map[string]string `json:"env"`
}

// Init initializes the launcher with the action prepared at path (see
// Prepare). Errors: *container.InitError (status 502, the launcher's
// {"error":...} body) when the action fails to load — the launcher exits;
// container.ErrTimeout when ctx ends first; an error wrapping
// container.ErrExited when the launcher dies.
func (p *Process) Init(ctx context.Context, name, main, path string, env map[string]string) error {
	if env == nil {
		env = map[string]string{}
	}
	msg, err := json.Marshal(struct {
		Init InitMessage `json:"init"`
	}{InitMessage{Name: name, Main: main, Path: path, Env: env}})
	if err != nil {
		return fmt.Errorf("actionloop: %w", err)
	}
	line, err := p.Run(ctx, msg)
	if err != nil {
		return err
	}
	res := ParseResult(line)
	if res.Status == 200 {
		var ok struct {
			OK    bool            `json:"ok"`
			Error json.RawMessage `json:"error"`
		}
		if json.Unmarshal(line, &ok) == nil && ok.OK && ok.Error == nil {
			return nil
		}
		res.Status = 502
	}
	return &container.InitError{Status: res.Status, Body: res.Body}
}

// Run writes body (newlines removed) as one line to the launcher and
// returns its answer line from fd 3 (without the newline). Use ParseResult
// or Call to interpret it. Errors: container.ErrTimeout when ctx ends first
// (the process is not killed, but it is out of sync: later calls fail and
// the caller must destroy it); an error wrapping container.ErrExited when
// the launcher exits, broke the protocol or is out of sync.
func (p *Process) Run(ctx context.Context, body []byte) ([]byte, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, container.ErrTimeout
	case <-p.exited:
		return nil, container.ErrExited
	}
	defer func() { <-p.sem }()
	p.mu.Lock()
	broken := p.broken
	p.mu.Unlock()
	if broken != nil {
		return nil, broken
	}
	if err := ctx.Err(); err != nil {
		return nil, container.ErrTimeout
	}

	msg := make([]byte, 0, len(body)+1)
	for _, c := range body {
		if c != '\n' && c != '\r' {
			msg = append(msg, c)
		}
	}
	msg = append(msg, '\n')
	line, err := p.exchange(ctx, msg)
	if err != nil {
		p.mu.Lock()
		if p.broken == nil {
			p.broken = fmt.Errorf("%w: the launcher is out of sync after: %v", ErrProtocol, err)
		}
		p.mu.Unlock()
		return nil, err
	}
	return line, nil
}

// exchange writes msg to stdin and reads the answer line, both bounded by
// ctx. The caller holds p.sem.
func (p *Process) exchange(ctx context.Context, msg []byte) ([]byte, error) {
	stop := p.deadlines(ctx)
	defer stop()
	if _, err := p.stdin.Write(msg); err != nil {
		return nil, p.ioErr(ctx, err)
	}
	return p.readLine(ctx)
}

// Call is Run followed by ParseResult.
func (p *Process) Call(ctx context.Context, body []byte) (container.RunResult, error) {
	line, err := p.Run(ctx, body)
	if err != nil {
		return container.RunResult{}, err
	}
	return ParseResult(line), nil
}
