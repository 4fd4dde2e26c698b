package actionloop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gowhisk/gowhisk/invoker/container"
)

// maxArgLen is Linux's MAX_ARG_STRLEN - 1: a larger argument is passed on
// stdin only (as the docker skeleton does).
const maxArgLen = 131071

// NotReceivedDictionary is the docker skeleton's answer (status 404) to a
// /run whose value is not an object or array.
const NotReceivedDictionary = "The action did not receive a dictionary or array as an argument."

// Native runs a native executable the way OpenWhisk's docker skeleton
// does: once per activation, with the JSON arguments as argv[1] (and on
// stdin); the last line of its stdout is the result, the other lines and
// stderr are logs. Native writes the activation sentinel to Stdout and
// Stderr after every activation. Init once, then Run; Run calls are
// serialized.
type Native struct {
	// Command builds the command of one activation; nil means
	// exec.CommandContext. It must leave Stdin, Stdout, Stderr unset.
	Command func(ctx context.Context, path string, args ...string) *exec.Cmd
	// Env is the base environment (KEY=VALUE) of every activation.
	Env []string
	// Stdout and Stderr receive the logs (required).
	Stdout, Stderr io.Writer

	mu      sync.Mutex
	path    string
	initEnv map[string]string
}

// Init checks the prepared executable at path (see Prepare) and keeps env
// for the activations. name and main are unused (the skeleton ignores
// them). Error: *container.InitError (502) when path is not an executable
// file.
func (n *Native) Init(ctx context.Context, name, main, path string, env map[string]string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		if err == nil {
			err = errors.New("not an executable file")
		}
		fmt.Fprintf(n.Stderr, "%s: %v\n", path, err)
		n.sentinels()
		return &container.InitError{Status: 502, Body: ErrorBody(NoBinary)}
	}
	n.path = path
	n.initEnv = env
	return nil
}

func (n *Native) sentinels() {
	io.WriteString(n.Stdout, container.Sentinel+"\n")
	io.WriteString(n.Stderr, container.Sentinel+"\n")
}

// Run runs one activation for a /run body and returns the answer line
// (see ParseResult). Errors: container.ErrTimeout when ctx ends first (the
// executable is killed); an error when Init did not succeed or the
// executable cannot be started.
func (n *Native) Run(ctx context.Context, body []byte) ([]byte, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.path == "" {
		return nil, errors.New("actionloop: native action is not initialized")
	}
	var msg map[string]json.RawMessage
	if err := json.Unmarshal(body, &msg); err != nil {
		n.sentinels()
		return statusLine(400, ErrorBody(fmt.Sprintf("Error unmarshaling request: %v", err))), nil
	}
	args := bytes.TrimSpace(msg["value"])
	if len(args) == 0 || string(args) == "null" {
		args = []byte("{}")
	}
	if args[0] != '{' && args[0] != '[' {
		n.sentinels()
		return statusLine(404, ErrorBody(NotReceivedDictionary)), nil
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, args); err == nil {
		args = compact.Bytes()
	}

	env := append([]string(nil), n.Env...)
	for _, k := range sortedKeys(n.initEnv) {
		env = append(env, k+"="+n.initEnv[k])
	}
	keys := make([]string, 0, len(msg))
	for k := range msg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var s string
		if k == "value" || json.Unmarshal(msg[k], &s) != nil {
			continue
		}
		env = append(env, "__OW_"+strings.ToUpper(k)+"="+s)
	}

	argv := []string{}
	if len(args) <= maxArgLen {
		argv = append(argv, string(args))
	}
	var cmd *exec.Cmd
	if n.Command != nil {
		cmd = n.Command(ctx, n.path, argv...)
	} else {
		cmd = exec.CommandContext(ctx, n.path, argv...)
	}
	cmd.Env = env
	if cmd.Dir == "" {
		cmd.Dir = filepath.Dir(n.path)
	}
	cmd.Stdin = bytes.NewReader(args)
	out := &lastLineWriter{log: n.Stdout}
	cmd.Stdout = out
	cmd.Stderr = n.Stderr
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	}
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		out.flushAll()
		n.sentinels()
		return nil, container.ErrTimeout
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) && !errors.Is(err, exec.ErrWaitDelay) {
		fmt.Fprintf(n.Stdout, "%v\n", err)
		n.sentinels()
		return statusLine(502, ErrorBody(NotDictionary)), nil
	}
	last := out.finish()
	res := ParseResult(last)
	if res.Status != 200 && len(last) > 0 {
		n.Stdout.Write(append(last, '\n')) // the skeleton logs a bad result line
	}
	n.sentinels()
	if res.Status != 200 {
		return statusLine(res.Status, res.Body), nil
	}
	return res.Body, nil
}

// Call is Run followed by ParseResult.
func (n *Native) Call(ctx context.Context, body []byte) (container.RunResult, error) {
	line, err := n.Run(ctx, body)
	if err != nil {
		return container.RunResult{}, err
	}
	return ParseResult(line), nil
}

func statusLine(status int, body []byte) []byte {
	return append([]byte(fmt.Sprintf("%d ", status)), body...)
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// lastLineWriter passes every stdout line but the last to log and keeps the
// last one (at most MaxLine bytes of it).
type lastLineWriter struct {
	log      io.Writer
	pending  []byte // last complete line (with its newline), not yet logged
	havePend bool
	partial  []byte // current unterminated line
	overflow bool
}

func (w *lastLineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.addPartial(p)
			break
		}
		w.addPartial(p[:i+1])
		if w.havePend {
			w.log.Write(w.pending)
		}
		w.pending, w.partial = w.partial, w.pending[:0]
		w.havePend = true
		p = p[i+1:]
	}
	return n, nil
}

func (w *lastLineWriter) addPartial(p []byte) {
	if len(w.partial)+len(p) > MaxLine {
		w.overflow = true
		w.log.Write(w.partial)
		w.partial = w.partial[:0]
	}
	w.partial = append(w.partial, p...)
}

// finish returns the result line: the unterminated tail if any, else the
// last complete line; everything before it is logged.
func (w *lastLineWriter) finish() []byte {
	if len(w.partial) > 0 {
		if w.havePend {
			w.log.Write(w.pending)
		}
		return bytes.TrimSpace(w.partial)
	}
	if w.havePend {
		return bytes.TrimSpace(w.pending)
	}
	return []byte{}
}

// flushAll logs whatever is held.
func (w *lastLineWriter) flushAll() {
	if w.havePend {
		w.log.Write(w.pending)
	}
	if len(w.partial) > 0 {
		w.log.Write(append(w.partial, '\n'))
	}
}
