package actionloop_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/invoker/container"
	"github.com/gowhisk/gowhisk/runtimes/actionloop"
)

// Regression tests of the launchers against what the end-to-end tests
// found: logs overtaken by the sentinel, forked processes answering,
// launcher internals in init errors, errors the action did not catch.

// sentinelAfter checks that the stream holds exactly n lines of want and
// then the sentinel, waiting (bounded) for the copy of the output.
func sentinelAfter(t *testing.T, name string, s *syncBuffer, want string, n int) {
	t.Helper()
	wantAll := strings.Repeat(want+"\n", n) + container.Sentinel + "\n"
	got := s.waitFor(t, wantAll)
	if got == wantAll {
		return
	}
	lines := strings.Split(got, "\n")
	at := -1
	for i, l := range lines {
		if l == container.Sentinel {
			at = i
			break
		}
	}
	t.Errorf("%s: %d lines, the sentinel at line %d, want %d lines of output and then the sentinel", name, len(lines)-1, at+1, n)
}

// TestNodejsSentinelAfterQueuedOutput: under a slow log reader, node queues
// console output; the sentinels and the answer must come after all of it.
func TestNodejsSentinelAfterQueuedOutput(t *testing.T) {
	line := strings.Repeat("x", 1023)
	t.Run("activation", func(t *testing.T) {
		l := startWith(t, node, true, nil)
		l.mustInit(t, node, container.InitRequest{Name: "chatty", Code: `function main(a) {
  const line = "x".repeat(1023);
  for (let i = 0; i < a.n; i++) { console.log(line); console.error(line) }
  return {done: true};
}`})
		for range 2 { // the second activation starts with a drained queue
			res := l.call(t, map[string]any{"n": 1500}, nil)
			if res.Status != 200 || string(res.Body) != `{"done":true}` {
				t.Fatalf("got %d %s", res.Status, res.Body)
			}
			sentinelAfter(t, "stdout", l.out, line, 1500)
			sentinelAfter(t, "stderr", l.err, line, 1500)
			l.out.reset()
			l.err.reset()
		}
	})
	t.Run("failed init", func(t *testing.T) {
		l := startWith(t, node, true, nil)
		err := l.initCode(t, node, container.InitRequest{Name: "chatty", Code: `const line = "x".repeat(1023);
for (let i = 0; i < 3000; i++) console.log(line);
throw new Error("after the logs");`})
		var ie *container.InitError
		if !errors.As(err, &ie) || !strings.Contains(string(ie.Body), "Error: after the logs") {
			t.Fatalf("Init error = %v, want the init failure", err)
		}
		sentinelAfter(t, "stdout", l.out, line, 3000)
		if got := l.err.waitFor(t, container.Sentinel); !strings.HasSuffix(got, "Error: after the logs\n    at Object.<anonymous> (chatty:3:7)\n"+container.Sentinel+"\n") {
			t.Errorf("stderr = %q, want the error and then the sentinel", got)
		}
	})
}

// TestNodejsInitErrorsShowTheActionsCode: an init failure names the
// position in the action's code, not the launcher's wrapper, its frames or
// a host path.
func TestNodejsInitErrorsShowTheActionsCode(t *testing.T) {
	tests := []struct {
		name   string
		req    container.InitRequest
		want   []string
		absent []string
	}{
		{"unclosed parameter list", container.InitRequest{Name: "faulta", Code: "function main( {"},
			[]string{"Initialization has failed due to: SyntaxError: Unexpected end of input\n    at faulta:1"}, nil},
		{"unexpected token", container.InitRequest{Name: "hello", Code: "function main(a) {\n  return {x: }\n}"},
			[]string{"Initialization has failed due to: SyntaxError: Unexpected token '}'\n    at hello:2:14\n  return {x: }\n             ^"}, nil},
		{"duplicate declaration", container.InitRequest{Name: "dup", Code: "let main = 1;\nfunction main() {}"},
			[]string{"SyntaxError: Identifier 'main' has already been declared\n    at dup:2:1\nfunction main() {}\n^"}, nil},
		{"throws at load", container.InitRequest{Name: "thrower", Code: "\n\nthrow new Error('at load')"},
			[]string{"Initialization has failed due to: Error: at load\n    at Object.<anonymous> (thrower:3:7)"}, nil},
		{"missing module", container.InitRequest{Name: "req", Code: "require('./nope')\nfunction main() {}"},
			[]string{"Error: Cannot find module './nope'", "- action.js", "(req:1:1)"}, nil},
		{"zip syntax error", container.InitRequest{Name: "z", Binary: true, Code: zipB64(t, map[string]string{
			"package.json": `{"main": "lib/index.js"}`, "lib/index.js": "exports.main = function( {"})},
			[]string{"Initialization has failed due to: SyntaxError: Unexpected end of input\n    at lib/index.js:1"}, []string{"wrapSafe"}},
		{"zip throws at load", container.InitRequest{Name: "z", Binary: true, Code: zipB64(t, map[string]string{
			"index.js": "\nthrow new TypeError('bad')"})},
			[]string{"Initialization has failed due to: TypeError: bad\n    at Object.<anonymous> (index.js:2:7)"}, []string{"Module._compile"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := start(t, node)
			err := l.initCode(t, node, tc.req)
			var ie *container.InitError
			if !errors.As(err, &ie) || ie.Status != 502 {
				t.Fatalf("Init error = %v, want a 502 init failure", err)
			}
			body := jsonField(t, ie.Body)
			msg, _ := body["error"].(string)
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			// Neither the launcher (its wrapper's tail, its file, its
			// frames) nor a host path.
			for _, bad := range append([]string{"e__", "try { return", "launcher.js", "loadSource", "node:internal", l.dir, "/tmp/"}, tc.absent...) {
				if strings.Contains(msg, bad) {
					t.Errorf("error %q shows %q", msg, bad)
				}
			}
			if logs := l.err.waitFor(t, container.Sentinel); !strings.Contains(logs, "Error during initialization: "+strings.SplitN(msg, ": ", 2)[1]) {
				t.Errorf("stderr %q does not log the error", logs)
			}
		})
	}
}

// TestNodejsUncaughtErrors: an exception thrown by a callback or an
// unhandled rejection ends the activation in progress with an error, and
// is only logged when no activation runs; the launcher never answers twice.
func TestNodejsUncaughtErrors(t *testing.T) {
	const code = `function main(a) {
  switch (a.mode) {
  case "throw in callback":
    setTimeout(() => { throw new Error("from a callback") }, 1);
    return new Promise(() => {});
  case "unhandled rejection":
    Promise.reject(new Error("nobody listens"));
    return new Promise(r => setTimeout(() => r({late: true}), 20));
  case "throw after return":
    setTimeout(() => { throw new Error("after the activation") }, 1);
    return {returned: true};
  }
  return {n: a.n};
}`
	tests := []struct {
		mode, want, log string
		status          int
	}{
		{"throw in callback", `{"error":"An error has occurred: Error: from a callback"}`, "Uncaught exception: Error: from a callback", 502},
		{"unhandled rejection", `{"error":"An error has occurred: Error: nobody listens"}`, "Unhandled rejection: Error: nobody listens", 502},
		{"throw after return", `{"returned":true}`, "Uncaught exception: Error: after the activation", 200},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			l := start(t, node)
			l.mustInit(t, node, container.InitRequest{Name: "a", Code: code})
			res := l.call(t, map[string]any{"mode": tc.mode}, nil)
			if res.Status != tc.status || string(res.Body) != tc.want {
				t.Errorf("got %d %s, want %d %s", res.Status, res.Body, tc.status, tc.want)
			}
			if got := l.err.waitFor(t, tc.log); !strings.Contains(got, tc.log) {
				t.Errorf("stderr %q does not log %q", got, tc.log)
			}
			// The launcher lives on, in step: the next activation gets its
			// own answer (not the late result of the previous one).
			for n := 1; n <= 2; n++ {
				res = l.call(t, map[string]any{"n": n}, nil)
				if want := fmt.Sprintf(`{"n":%d}`, n); res.Status != 200 || string(res.Body) != want {
					t.Errorf("next activation = %d %s, want %s", res.Status, res.Body, want)
				}
			}
			if n := strings.Count(l.err.String(), tc.log); n != 1 {
				t.Errorf("stderr logs %q %d times, want once", tc.log, n)
			}
		})
	}
}

// TestPythonForkedProcessesNeverAnswer: a process the action forks ends
// when its copy of main returns or raises (or its copy of the module's
// code finishes at init), without answering on fd 3 or reading requests;
// what it printed (line-buffered) is not lost.
func TestPythonForkedProcessesNeverAnswer(t *testing.T) {
	const code = `import os, sys
if os.environ.get("FORK_AT_INIT"):
    if os.fork() == 0:
        print("child of init")
    else:
        os.wait()

def main(a):
    print("before fork")
    pid = os.fork()
    if pid == 0:
        print("from child")
        print("child on stderr", file=sys.stderr)
        if a.get("raise"):
            raise ValueError("raised in the child")
        return {"child": True}
    _, st = os.waitpid(pid, 0)
    return {"parent": True, "child_exit": os.waitstatus_to_exitcode(st)}
`
	l := start(t, py)
	l.mustInit(t, py, container.InitRequest{Name: "a", Code: code, Env: map[string]string{"FORK_AT_INIT": "1"}})
	s := container.Sentinel + "\n"
	want := "child of init\n"
	for i, tc := range []struct {
		raise  bool
		result string
	}{
		{false, `{"parent": true, "child_exit": 0}`},
		{true, `{"parent": true, "child_exit": 1}`},
		{false, `{"parent": true, "child_exit": 0}`},
	} {
		res := l.call(t, map[string]any{"raise": tc.raise}, nil)
		if res.Status != 200 || string(res.Body) != tc.result {
			t.Errorf("activation %d = %d %s, want %s", i, res.Status, res.Body, tc.result)
		}
		want += "before fork\nfrom child\n" + s
	}
	if got := l.out.waitFor(t, want); got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if got := l.err.waitFor(t, "ValueError: raised in the child"); !strings.Contains(got, "ValueError: raised in the child") {
		t.Errorf("stderr %q lacks the child's traceback", got)
	}
}

// TestPythonForkBombHitsThePidsLimit runs a fork bomb in a pids cgroup: the
// activation ends in a 502 (the container must go), only the launcher
// answers, and the launcher exits. It needs root and a pids cgroup.
func TestPythonForkBombHitsThePidsLimit(t *testing.T) {
	dir := pidsCgroup(t, 40)
	var pgid int
	l := startWith(t, py, false, func(cmd *exec.Cmd) {
		// Join the cgroup, then become the launcher.
		cmd.Args = append([]string{"/bin/sh", "-c", `echo $$ > "$0/cgroup.procs" && exec "$@"`, dir}, cmd.Args...)
		cmd.Path = "/bin/sh"
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	})
	pgid = l.p.Cmd().Process.Pid
	t.Cleanup(func() { killCgroup(t, dir, pgid) })
	l.mustInit(t, py, container.InitRequest{Name: "bomb", Code: "import os\ndef main(a):\n    while True:\n        os.fork()\n"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := l.p.Call(ctx, runBody(t, nil, nil))
	if err != nil {
		t.Fatalf("Call: %v\nstderr: %.2000s", err, l.err.String())
	}
	want := `{"error":"The action exhausted the process limit of its container and was aborted."}`
	if res.Status != 502 || string(res.Body) != want {
		t.Errorf("fork bomb = %d %s, want 502 %s", res.Status, res.Body, want)
	}
	select {
	case <-l.p.Exited():
	case <-ctx.Done():
		t.Fatal("the launcher still runs after reporting the exhausted process limit")
	}
	// No forked process answered after the launcher.
	if _, err := l.p.Run(ctx, runBody(t, nil, nil)); !errors.Is(err, container.ErrExited) {
		t.Errorf("Run after the bomb: %v, want ErrExited", err)
	}
}

// pidsCgroup creates a cgroup (v1 pids hierarchy, or cgroup2 with pids
// enabled at its root) limited to max processes, removed at cleanup.
func pidsCgroup(t *testing.T, max int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a pids cgroup")
	}
	var parent string
	if exists("/sys/fs/cgroup/pids/cgroup.procs") && !exists("/sys/fs/cgroup/pids/cgroup.controllers") {
		parent = "/sys/fs/cgroup/pids"
	} else if b, err := os.ReadFile("/sys/fs/cgroup/cgroup.subtree_control"); err == nil && strings.Contains(string(b), "pids") {
		parent = "/sys/fs/cgroup"
	} else {
		t.Skip("no pids cgroup hierarchy to create a cgroup in")
	}
	dir := filepath.Join(parent, "gowhisk-launcher-test-"+strconv.Itoa(os.Getpid())+"-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot create a pids cgroup: %v", err)
	}
	t.Cleanup(func() {
		for i := 0; i < 500; i++ {
			if err := os.Remove(dir); err == nil || errors.Is(err, fs.ErrNotExist) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Errorf("cannot remove the cgroup %s", dir)
	})
	if err := os.WriteFile(filepath.Join(dir, "pids.max"), []byte(strconv.Itoa(max)), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// killCgroup kills the process group and every process left in the
// cgroup until it is empty.
func killCgroup(t *testing.T, dir string, pgid int) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		syscall.Kill(-pgid, syscall.SIGKILL)
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			return
		}
		pids := strings.Fields(string(b))
		if len(pids) == 0 {
			return
		}
		for _, p := range pids {
			if n, err := strconv.Atoi(p); err == nil {
				syscall.Kill(n, syscall.SIGKILL)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Errorf("processes left in %s", dir)
}

// TestPrepareErrorsHideHostPaths: an error of Prepare never shows the
// directory it writes into (its messages reach the action's developer),
// and still wraps its cause.
func TestPrepareErrorsHideHostPaths(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no", "such", "dir")
	for _, tc := range []struct {
		name string
		kind string
		req  container.InitRequest
	}{
		{"source", node, container.InitRequest{Code: "function main() {}"}},
		{"zip", py, container.InitRequest{Binary: true, Code: zipB64(t, map[string]string{"__main__.py": "x"})}},
		{"native", "blackbox", container.InitRequest{Code: "#!/bin/sh\necho '{}'\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := actionloop.Prepare(missing, tc.kind, tc.req)
			if err == nil {
				t.Fatal("Prepare into a missing directory succeeded")
			}
			if strings.Contains(err.Error(), missing) || strings.Contains(err.Error(), "/tmp") {
				t.Errorf("error %q shows the host path", err)
			}
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error %v does not wrap fs.ErrNotExist", err)
			}
		})
	}
}

// TestPythonSentinelsWhenStreamsReplaced: an action that replaces
// sys.stdout and sys.stderr still gets its sentinels on fds 1 and 2, behind
// what it printed before (later prints go to its replacements).
func TestPythonSentinelsWhenStreamsReplaced(t *testing.T) {
	l := start(t, py)
	l.mustInit(t, py, container.InitRequest{Name: "a", Code: "import io, sys\ndef main(a):\n    print('out before')\n    print('err before', file=sys.stderr)\n    sys.stdout, sys.stderr = io.StringIO(), io.StringIO()\n    print('swallowed')\n    return {'ok': True}\n"})
	for range 2 {
		if res := l.call(t, nil, nil); res.Status != 200 {
			t.Fatalf("call = %d %s", res.Status, res.Body)
		}
	}
	want := "out before\n" + container.Sentinel + "\n" + container.Sentinel + "\n"
	if got := l.out.waitFor(t, want); got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	want = "err before\n" + container.Sentinel + "\n" + container.Sentinel + "\n"
	if got := l.err.waitFor(t, want); got != want {
		t.Errorf("stderr = %q, want %q", got, want)
	}
}
