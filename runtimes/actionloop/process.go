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
	"io"
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

type lineOrErr struct {
	line []byte
	err  error
}

// Process is a started launcher. Init must be called once before Run. Run
// calls are serialized.
type Process struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	lines   chan lineOrErr // closed at EOF of fd 3
	exited  chan struct{}
	waitErr error // set before exited is closed

	sem    chan struct{} // one request at a time
	mu     sync.Mutex
	broken error // non-nil once the stream is out of sync
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
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("actionloop: %w", err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		stdin.Close()
		return nil, fmt.Errorf("actionloop: %w", err)
	}
	cmd.ExtraFiles = []*os.File{pw}
	if cmd.WaitDelay == 0 {
		// Output copying must not outlive the process for long when a
		// grandchild keeps the log pipes open.
		cmd.WaitDelay = time.Second
	}
	if err := cmd.Start(); err != nil {
		stdin.Close()
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("actionloop: start %s: %w", cmd.Path, err)
	}
	pw.Close()
	p := &Process{
		cmd:    cmd,
		stdin:  stdin,
		lines:  make(chan lineOrErr, 1),
		exited: make(chan struct{}),
		sem:    make(chan struct{}, 1),
	}
	go p.readLines(pr)
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()

	line, err := p.next(ctx)
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

// readLines reads fd 3 line by line into p.lines until EOF or an overlong
// line, then closes the channel.
func (p *Process) readLines(r *os.File) {
	defer close(p.lines)
	defer r.Close()
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		var buf []byte
		for {
			frag, err := br.ReadSlice('\n')
			if len(buf)+len(frag) > MaxLine+1 {
				p.lines <- lineOrErr{err: fmt.Errorf("%w: answer line longer than %d bytes", ErrProtocol, MaxLine)}
				// Drain so that the writer never blocks on a full pipe.
				io.Copy(io.Discard, br)
				return
			}
			buf = append(buf, frag...)
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil {
				return // EOF or read error: no more lines
			}
			break
		}
		p.lines <- lineOrErr{line: bytes.TrimRight(buf, "\r\n")}
	}
}

// next waits for the next line on fd 3.
func (p *Process) next(ctx context.Context) ([]byte, error) {
	select {
	case l, ok := <-p.lines:
		return p.got(l, ok)
	case <-ctx.Done():
		select { // an answer that is already there wins
		case l, ok := <-p.lines:
			return p.got(l, ok)
		default:
		}
		return nil, container.ErrTimeout
	case <-p.exited:
		t := time.NewTimer(exitGrace)
		defer t.Stop()
		select {
		case l, ok := <-p.lines:
			return p.got(l, ok)
		case <-t.C:
			return nil, container.ErrExited
		}
	}
}

func (p *Process) got(l lineOrErr, ok bool) ([]byte, error) {
	if !ok {
		return nil, container.ErrExited
	}
	if l.err != nil {
		return nil, l.err
	}
	return l.line, nil
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
	p.stdin.Close()
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
	werr := make(chan error, 1)
	go func() {
		_, err := p.stdin.Write(msg)
		werr <- err
	}()

	line, err := p.next(ctx)
	if err != nil {
		select {
		case err2 := <-werr:
			if err2 != nil && err == container.ErrTimeout {
				err = container.ErrExited
			}
		default:
		}
		p.mu.Lock()
		if p.broken == nil {
			p.broken = fmt.Errorf("%w: the launcher is out of sync after: %v", ErrProtocol, err)
		}
		p.mu.Unlock()
		return nil, err
	}
	return line, nil
}

// Call is Run followed by ParseResult.
func (p *Process) Call(ctx context.Context, body []byte) (container.RunResult, error) {
	line, err := p.Run(ctx, body)
	if err != nil {
		return container.RunResult{}, err
	}
	return ParseResult(line), nil
}
