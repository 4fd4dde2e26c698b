package main

// The floor: the same hops as a warm invoke with nothing of gowhisk in
// them. A front server (the controller's place) forwards each request over
// a keep-alive HTTP connection to a back server (the invoker's place),
// which hands it as one JSON line over a pipe to a long-lived action
// process (node or python running a read-line/answer loop; for native
// actions it fork-execs the executable, as the native launcher does) and
// returns the answer. /hop on the front answers at once: a single bare hop.
// Both servers are this program re-executed with -floor-role, so each has
// its own process, scheduler and garbage collector, as gowhisk's would.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gowhisk/gowhisk/runtimes"
)

const floorNode = `const rl = require('readline').createInterface({input: process.stdin});
function main(args) { return {}; }
rl.on('line', (l) => { const r = main(JSON.parse(l)); process.stdout.write(JSON.stringify(r) + '\n'); });
`

const floorPython = `import json, sys
def main(args):
    return {}
while True:
    l = sys.stdin.readline()
    if not l:
        break
    r = main(json.loads(l))
    sys.stdout.write(json.dumps(r) + "\n")
    sys.stdout.flush()
`

// floorScripts writes the action-loop scripts of the floor into dir.
func floorScripts(dir string) (node, python string, err error) {
	node, python = filepath.Join(dir, "floor.js"), filepath.Join(dir, "floor.py")
	err = errors.Join(os.WriteFile(node, []byte(floorNode), 0o644), os.WriteFile(python, []byte(floorPython), 0o644))
	return node, python, err
}

// loopProc is a long-lived action process answering one line per line.
type loopProc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startLoopProc(argv []string) (*loopProc, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	// The environment of an action in the process sandbox: the invoker's
	// own (NODE_EXTRA_CA_CERTS here: node reads the certificates at start,
	// 22 → 61 ms) would make the floor dearer than what it bounds.
	cmd.Env = floorEnv()
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &loopProc{cmd: cmd, in: in, out: bufio.NewReader(out)}, nil
}

// floorEnv is the environment of the floor's action processes, as the
// process sandbox gives its launchers (PATH and LANG).
func floorEnv() []string { return []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"} }

// interpreter is the interpreter the process sandbox runs kind's launcher
// with (the runtimes manifest's), for the floor to start the same one (a
// name looked up in the invoker's PATH may be a shim: pyenv's python3).
func interpreter(kind string) string {
	argv, err := runtimes.LocalCommand(kind, os.TempDir())
	if err != nil || len(argv) == 0 {
		return kind
	}
	return argv[0]
}

func (p *loopProc) call(line []byte) ([]byte, error) {
	if _, err := p.in.Write(append(bytes.TrimSpace(line), '\n')); err != nil {
		return nil, err
	}
	return p.out.ReadBytes('\n')
}

func (p *loopProc) close() {
	_ = p.in.Close()
	_ = p.cmd.Wait()
}

// procPool hands out idle processes of one kind and starts a new one when
// none is idle (as a pool starts a container when no warm one is free).
type procPool struct {
	argv []string
	mu   sync.Mutex
	idle []*loopProc
	all  []*loopProc
}

func (p *procPool) get() (*loopProc, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		lp := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return lp, nil
	}
	p.mu.Unlock()
	lp, err := startLoopProc(p.argv)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.all = append(p.all, lp)
	p.mu.Unlock()
	return lp, nil
}

func (p *procPool) put(lp *loopProc) {
	p.mu.Lock()
	p.idle = append(p.idle, lp)
	p.mu.Unlock()
}

func (p *procPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, lp := range p.all {
		lp.close()
	}
}

// runFloorBack serves /run/{node,python,native}, printing its address on
// stdout, until stdin closes (the parent exited or is done).
func runFloorBack(nodeScript, pyScript, nativeExe string) error {
	pools := map[string]*procPool{
		"node":   {argv: []string{interpreter("nodejs:20"), nodeScript}},
		"python": {argv: []string{interpreter("python:3.11"), pyScript}},
	}
	defer func() {
		for _, p := range pools {
			p.close()
		}
	}()
	mux := http.NewServeMux()
	for kind, pool := range pools {
		mux.HandleFunc("POST /run/"+kind, func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			lp, err := pool.get()
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			out, err := lp.call(body)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return // the process is broken: not returned to the pool
			}
			pool.put(lp)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(out)
		})
	}
	mux.HandleFunc("POST /run/native", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		out, err := exec.Command(nativeExe, string(body)).Output()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		out = bytes.TrimSpace(out)
		if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
			out = out[i+1:]
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	})
	return serveUntilStdinCloses(mux)
}

// runFloorFront serves /chain/KIND (forwarded to next/run/KIND) and /hop.
func runFloorFront(next string) error {
	c := newClient(next, "", 256)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /chain/{kind}", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		code, out, err := c.do(r.Context(), "POST", "/run/"+r.PathValue("kind"), body)
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write(out)
	})
	mux.HandleFunc("POST /hop", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("{}\n"))
	})
	return serveUntilStdinCloses(mux)
}

func serveUntilStdinCloses(h http.Handler) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("http://%s\n", ln.Addr())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// floorProc is a floor server started by the harness.
type floorProc struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	addr string
}

// startFloorProc re-executes this program with args and reads the address
// it prints.
func startFloorProc(args ...string) (*floorProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, args...)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = in.Close()
		_ = cmd.Wait()
		return nil, fmt.Errorf("floor server %v printed no address: %w", args, err)
	}
	return &floorProc{cmd: cmd, in: in, addr: strings.TrimSpace(line)}, nil
}

func (f *floorProc) pid() int { return f.cmd.Process.Pid }

func (f *floorProc) stop() {
	_ = f.in.Close()
	done := make(chan struct{})
	go func() { _ = f.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = f.cmd.Process.Kill()
		<-done
	}
}

// interpreterStart measures starting argv and getting the answer to one
// line: the least a cold start without a stem cell can cost.
func interpreterStart(ctx context.Context, argv []string, n int) loadResult {
	var res loadResult
	t0 := time.Now()
	for range n {
		if ctx.Err() != nil {
			break
		}
		s := time.Now()
		lp, err := startLoopProc(argv)
		if err != nil {
			res.errs++
			res.firstErr = err
			continue
		}
		out, err := lp.call([]byte("{}"))
		d := time.Since(s)
		lp.close() // the exit is not part of the start
		if err == nil && strings.TrimSpace(string(out)) != "{}" {
			err = fmt.Errorf("floor action answered %q", out)
		}
		if err != nil {
			res.errs++
			res.firstErr = err
			continue
		}
		res.lat = append(res.lat, d)
	}
	res.wall = time.Since(t0)
	return res
}
