package standalone_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/test/gowhisktest"
)

// pauseGrace is the server's --pause-grace in these tests.
const pauseGrace = 100 * time.Millisecond

// TestExecution is issue 3's "Done when" for the process sandbox: the
// standalone server runs actions for real (controller → lean balancer →
// lean bus → invoker → pool → process sandbox), over REST with the guest
// key.
func TestExecution(t *testing.T) {
	runExecution(t, processSandbox())
}

// sandboxUnderTest is what differs between the sandboxes the execution
// scenarios run on.
type sandboxUnderTest struct {
	// name is the --sandbox value, which the server logs as sandbox=<name>.
	name string
	// setup prepares the test's temporary directory tmp and returns the
	// server's sandbox flags.
	setup func(t *testing.T, tmp string) []string
	// waitPaused returns once the container that ran first (an activation
	// of counterAction) is paused, or fails the test.
	waitPaused func(t *testing.T, first *activation)
	// checkStopped fails the test if anything of the sandbox is left
	// after the server stopped cleanly.
	checkStopped func(t *testing.T, tmp string)
}

// processSandbox is the process sandbox: actions are child processes with
// their working directories under --sandbox-dir.
func processSandbox() sandboxUnderTest {
	return sandboxUnderTest{
		name: "process",
		setup: func(t *testing.T, tmp string) []string {
			// Actions run as an unprivileged user when the test runs as root: the
			// sandbox root must be reachable by it (t.TempDir's parent is 0700).
			if err := os.Chmod(filepath.Dir(tmp), 0o711); err != nil {
				t.Fatal(err)
			}
			return []string{"--sandbox", "process", "--sandbox-dir", filepath.Join(tmp, "sandbox")}
		},
		waitPaused: waitFrozen,
		checkStopped: func(t *testing.T, tmp string) {
			if n := countProcesses(t, filepath.Join(tmp, "sandbox")); n > 0 {
				t.Errorf("%d action processes still run after the server stopped", n)
			}
			if left, _ := filepath.Glob(filepath.Join(tmp, "sandbox", "*", "*")); len(left) > 0 {
				t.Errorf("the server left sandbox files after a clean stop: %q", left)
			}
		},
	}
}

// runExecution starts the standalone server on sb and runs every
// execution scenario against it over REST.
//
// scenarioLimits are namespace throttles the execution scenario never
// reaches.
var scenarioLimits = []string{"--invocations-per-minute", "100000", "--concurrent-invocations", "1000", "--fires-per-minute", "100000"}

// The scenario makes more than the default 60 invocations in a minute: its
// server gets throttles it never reaches (scenarioLimits; the throttles are
// tested end to end in test/cli's TestThrottlesPerMinute).
func runExecution(t *testing.T, sb sandboxUnderTest) {
	bin := gowhisktest.BuildGowhisk(t)
	tmp := t.TempDir()
	sbFlags := sb.setup(t, tmp)
	dataDir := filepath.Join(tmp, "data")
	srv := startServer(t, bin, append(append([]string{"--data-dir", dataDir, "--pause-grace", pauseGrace.String()}, scenarioLimits...), sbFlags...)...)
	keepServerLog(t, srv, "server.log")
	c := api{t: t, srv: srv}
	if !strings.Contains(srv.Stderr.String(), "sandbox="+sb.name) {
		t.Fatalf("server did not log its sandbox choice:\n%s", tail(srv.Stderr.String()))
	}
	c.putAction(t, "healthy", source("nodejs:20", `function main(p) { return {healthy: true, n: p.n} }`), nil)

	t.Run("nodejs source", func(t *testing.T) { testNodejsSource(t, c) })
	t.Run("python source", func(t *testing.T) { testPythonSource(t, c) })
	t.Run("python zip with a vendored module", func(t *testing.T) { testPythonZip(t, c) })
	t.Run("nodejs zip with package.json and node_modules", func(t *testing.T) { testNodejsZip(t, c) })
	t.Run("native executable", func(t *testing.T) { testNative(t, c) })
	t.Run("cold then warm", func(t *testing.T) { testColdThenWarm(t, c) })
	t.Run("pause after the grace then resume", func(t *testing.T) { testPauseResume(t, c, sb.waitPaused) })
	t.Run("an update never runs old code", func(t *testing.T) { testUpdate(t, c) })
	t.Run("faults", func(t *testing.T) { testFaults(t, c) })
	t.Run("memory limit", func(t *testing.T) { testMemoryLimit(t, c) })
	t.Run("megabytes of logs", func(t *testing.T) { testLogFlood(t, c) })
	t.Run("fork bomb", func(t *testing.T) { testForkBomb(t, c) })
	t.Run("trigger rule action", func(t *testing.T) { testTriggerRuleAction(t, c) })
	t.Run("activation logs", func(t *testing.T) { testActivationLogs(t, c) })

	// SIGTERM lets the activations in progress finish and stores their
	// records before the store closes.
	c.putAction(t, "slow", source("nodejs:20", `function main() { return new Promise(r => setTimeout(() => r({slept: true}), 1000)) }`), nil)
	slowID := c.invokeAsync(t, "slow", nil)
	srv.stop(t)
	sb.checkStopped(t, tmp)
	srv = startServer(t, bin, append(append([]string{"--data-dir", dataDir}, scenarioLimits...), sbFlags...)...)
	keepServerLog(t, srv, "server-restarted.log")
	c = api{t: t, srv: srv}
	if a := c.activation(t, slowID); a.Response.Status != "success" {
		t.Errorf("activation running at shutdown: %s, want its successful record", a.raw)
	}
	srv.stop(t)
}

// startProcessServer starts `gowhisk standalone` on the process sandbox
// with a new data directory under tmp and the flags extra, keeping its log
// when the test fails.
func startProcessServer(t *testing.T, tmp string, extra ...string) *server {
	t.Helper()
	bin := gowhisktest.BuildGowhisk(t)
	args := append([]string{"--data-dir", filepath.Join(tmp, "data")}, processSandbox().setup(t, tmp)...)
	srv := startServer(t, bin, append(args, extra...)...)
	keepServerLog(t, srv, "server.log")
	return srv
}

// keepServerLog writes the server's log into the test's artifact
// directory (kept with go test -artifacts) when the test failed.
func keepServerLog(t *testing.T, srv *server, name string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		path := filepath.Join(t.ArtifactDir(), name)
		if err := os.WriteFile(path, []byte(srv.Stderr.String()), 0o644); err != nil {
			t.Logf("keeping the server log: %v", err)
			return
		}
		t.Logf("server log: %s", path)
	})
}

// healthy checks that the invoker still serves other actions.
func healthy(t *testing.T, c api) {
	t.Helper()
	a := c.invokeOK(t, "healthy", map[string]any{"n": 7})
	wantField(t, a, "healthy", true)
	wantField(t, a, "n", 7)
}

func testNodejsSource(t *testing.T, c api) {
	c.putAction(t, "hello", source("nodejs:20", `function main(params) {
  console.log("hello from " + params.name);
  return {greeting: "hello " + params.name, apihost: process.env.__OW_API_HOST,
          activation: process.env.__OW_ACTIVATION_ID, action: process.env.__OW_ACTION_NAME};
}`), nil)
	t.Run("blocking", func(t *testing.T) {
		a := c.invokeOK(t, "hello", map[string]any{"name": "node"})
		if a.Namespace != "guest" || a.Name != "hello" || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(a.ActivationID) {
			t.Fatalf("record = %s", a.raw)
		}
		wantField(t, a, "greeting", "hello node")
		wantField(t, a, "apihost", c.srv.APIHost)
		wantField(t, a, "activation", a.ActivationID)
		wantField(t, a, "action", "/guest/hello")
		for key, want := range map[string]string{"path": `"guest/hello"`, "kind": `"nodejs:20"`, "timeout": "false"} {
			if v, ok := a.annotation(key); !ok || string(v) != want {
				t.Errorf("annotation %s = %s, want %s", key, v, want)
			}
		}
		for _, key := range []string{"limits", "waitTime"} {
			if _, ok := a.annotation(key); !ok {
				t.Errorf("no annotation %s: %s", key, a.raw)
			}
		}
		if len(a.Logs) != 1 || !strings.HasSuffix(a.Logs[0], " stdout: hello from node") {
			t.Errorf("logs = %q, want the one console.log line", a.Logs)
		}
	})
	t.Run("non-blocking", func(t *testing.T) {
		id := c.invokeAsync(t, "hello", map[string]any{"name": "async"})
		a := c.activation(t, id)
		if a.Response.Status != "success" {
			t.Fatalf("record = %s", a.raw)
		}
		wantField(t, a, "greeting", "hello async")
	})
}

func testPythonSource(t *testing.T, c api) {
	c.putAction(t, "pyhello", source("python:3", `import os
def main(args):
    print("hello from python")
    return {"greeting": "hello " + args.get("name", "?"), "ns": os.environ.get("__OW_NAMESPACE")}
`), nil)
	t.Run("blocking", func(t *testing.T) {
		a := c.invokeOK(t, "pyhello", map[string]any{"name": "py"})
		wantField(t, a, "greeting", "hello py")
		wantField(t, a, "ns", "guest")
		if len(a.Logs) != 1 || !strings.HasSuffix(a.Logs[0], " stdout: hello from python") {
			t.Errorf("logs = %q", a.Logs)
		}
	})
	t.Run("non-blocking", func(t *testing.T) {
		a := c.activation(t, c.invokeAsync(t, "pyhello", map[string]any{"name": "later"}))
		if a.Response.Status != "success" {
			t.Fatalf("record = %s", a.raw)
		}
		wantField(t, a, "greeting", "hello later")
	})
}

func testPythonZip(t *testing.T, c api) {
	code := zipBase64(t, map[string]string{
		"__main__.py": `import shouter
def main(args):
    return {"shout": shouter.shout(args.get("word", "x"))}
`,
		"shouter/__init__.py": "from .impl import shout\n",
		"shouter/impl.py":     "def shout(s):\n    return s.upper() + '!'\n",
	})
	c.putAction(t, "pyzip", map[string]any{"kind": "python:3", "code": code, "binary": true}, nil)
	wantField(t, c.invokeOK(t, "pyzip", map[string]any{"word": "vendored"}), "shout", "VENDORED!")
	wantField(t, c.activation(t, c.invokeAsync(t, "pyzip", map[string]any{"word": "async"})), "shout", "ASYNC!")
}

func testNodejsZip(t *testing.T, c api) {
	code := zipBase64(t, map[string]string{
		"package.json": `{"name": "zipped", "main": "lib/entry.js"}`,
		"lib/entry.js": `const pad = require('padder');
exports.main = function (p) { return {padded: pad(p.s, 6)}; };
`,
		"node_modules/padder/package.json": `{"name": "padder", "main": "pad.js"}`,
		"node_modules/padder/pad.js":       `module.exports = (s, n) => String(s).padStart(n, '*');`,
	})
	c.putAction(t, "nodezip", map[string]any{"kind": "nodejs:20", "code": code, "binary": true}, nil)
	wantField(t, c.invokeOK(t, "nodezip", map[string]any{"s": "ab"}), "padded", "****ab")
	wantField(t, c.activation(t, c.invokeAsync(t, "nodezip", map[string]any{"s": "xyz"})), "padded", "***xyz")
}

func testNative(t *testing.T, c api) {
	t.Run("zip with exec", func(t *testing.T) {
		code := zipBase64(t, map[string]string{
			"exec": "#!/bin/sh\necho \"native log line\"\necho \"{\\\"native\\\": true, \\\"args\\\": $1}\"\n",
		}, "exec")
		c.putAction(t, "native", map[string]any{"kind": "blackbox", "image": "openwhisk/dockerskeleton", "code": code, "binary": true}, nil)
		a := c.invokeOK(t, "native", map[string]any{"x": 1})
		wantField(t, a, "native", true)
		wantField(t, a, "args", map[string]any{"x": 1})
		if len(a.Logs) != 1 || !strings.HasSuffix(a.Logs[0], " stdout: native log line") {
			t.Errorf("logs = %q", a.Logs)
		}
		wantField(t, c.activation(t, c.invokeAsync(t, "native", map[string]any{"y": 2})), "args", map[string]any{"y": 2})
	})
	t.Run("plain script", func(t *testing.T) {
		script := "#!/usr/bin/env python3\nimport json, sys\nprint(json.dumps({\"got\": json.loads(sys.argv[1])}))\n"
		c.putAction(t, "nativescript", map[string]any{"kind": "blackbox", "image": "openwhisk/dockerskeleton", "code": script}, nil)
		wantField(t, c.invokeOK(t, "nativescript", map[string]any{"z": 3}), "got", map[string]any{"z": 3})
	})
}

func testColdThenWarm(t *testing.T, c api) {
	for _, tt := range []struct{ name, kind, code string }{
		{"nodejs", "nodejs:20", `function main() { return {ok: true} }`},
		{"python", "python:3", "def main(args):\n    return {'ok': True}\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name := "coldwarm_" + tt.name
			c.putAction(t, name, source(tt.kind, tt.code), nil)
			first := c.invokeOK(t, name, nil)
			second := c.invokeOK(t, name, nil)
			if !first.cold() {
				t.Errorf("first activation has no initTime: %s", first.raw)
			}
			if second.cold() {
				t.Errorf("second activation has initTime (not warm): %s", second.raw)
			}
		})
	}
}

// counterAction counts its activations per container and reports where
// its freezer state is (cgroup v1), so that the test can see it paused.
const counterAction = `const fs = require('fs');
let count = 0;
function freezerFile() {
  try {
    for (const line of fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
      const parts = line.split(':');
      if (parts.length >= 3 && parts[1].split(',').includes('freezer') && parts[2] !== '/') {
        return '/sys/fs/cgroup/freezer' + parts.slice(2).join(':') + '/freezer.state';
      }
    }
  } catch (e) {}
  return '';
}
function main() {
  count++;
  return {count: count, pid: process.pid, freezer: freezerFile()};
}`

func testPauseResume(t *testing.T, c api, waitPaused func(*testing.T, *activation)) {
	c.putAction(t, "counter", source("nodejs:20", counterAction), nil)
	first := c.invokeOK(t, "counter", nil)
	wantField(t, first, "count", 1)
	waitPaused(t, first)
	second := c.invokeOK(t, "counter", nil)
	wantField(t, second, "count", 2) // the same process, resumed
	wantField(t, second, "pid", first.result(t)["pid"])
	if second.cold() {
		t.Fatalf("activation after the pause has initTime (not a resumed warm container): %s", second.raw)
	}
}

// waitFrozen waits until the cgroup freezer of the process sandbox has
// frozen the counter action that ran first (when the action has a freezer
// cgroup; else it can only wait some pause graces).
func waitFrozen(t *testing.T, first *activation) {
	t.Helper()
	if file, _ := first.result(t)["freezer"].(string); file != "" {
		// Paused means frozen by the cgroup freezer: wait for it.
		deadline := time.Now().Add(pollWait)
		for {
			b, err := os.ReadFile(file)
			if err == nil && strings.TrimSpace(string(b)) == "FROZEN" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("container not frozen within %v of its pause grace %v: %s = %q (%v)", pollWait, pauseGrace, file, b, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	} else {
		t.Logf("no cgroup v1 freezer for the action (not root, or no freezer): cannot observe the pause, waiting 10 pause graces")
		time.Sleep(10 * pauseGrace)
	}
}

func testUpdate(t *testing.T, c api) {
	for _, tt := range []struct{ name, kind, v1, v2 string }{
		{"nodejs", "nodejs:20", `function main() { return {version: 1} }`, `function main() { return {version: 2} }`},
		{"python", "python:3", "def main(a):\n    return {'version': 1}\n", "def main(a):\n    return {'version': 2}\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name := "updated_" + tt.name
			c.putAction(t, name, source(tt.kind, tt.v1), nil)
			wantField(t, c.invokeOK(t, name, nil), "version", 1)
			warm := c.invokeOK(t, name, nil)
			wantField(t, warm, "version", 1)
			c.putAction(t, name, source(tt.kind, tt.v2), nil)
			for i := 0; i < 3; i++ {
				wantField(t, c.invokeOK(t, name, nil), "version", 2)
			}
		})
	}
}

// fault is an action that fails and the record it must produce.
type fault struct {
	name, kind, code string
	limits           map[string]any
	status           string // response.status
	errorIs          string // exact result.error, or
	errorHas         string // a part of it
	logHas           string // a part of the logs
	timeout          bool   // annotation timeout true
	keepsContainer   bool   // application error: the container stays warm
}

func faults() []fault {
	const dev, app = "action developer error", "application error"
	exited := "The action did not produce a valid response and exited unexpectedly."
	return []fault{
		{name: "nodejs code that does not parse", kind: "nodejs:20", code: "function main( {", status: dev,
			errorHas: "Initialization has failed due to: ", logHas: "SyntaxError"},
		{name: "python code that does not parse", kind: "python:3", code: "def main(a) return {}\n", status: dev,
			logHas: "SyntaxError"},
		{name: "nodejs throws", kind: "nodejs:20", code: `function main() { throw new Error("boom") }`, status: dev,
			errorIs: "An error has occurred: Error: boom", logHas: "Error: boom"},
		{name: "nodejs rejects", kind: "nodejs:20", code: `function main() { return Promise.reject("rejected") }`, status: app,
			errorIs: "rejected", keepsContainer: true},
		{name: "python raises", kind: "python:3", code: "def main(a):\n    raise ValueError('boom')\n", status: app,
			errorIs: "boom", logHas: "ValueError: boom", keepsContainer: true},
		{name: "nodejs returns a scalar", kind: "nodejs:20", code: `function main() { return 42 }`, status: dev,
			errorIs: "The action did not return a dictionary."},
		{name: "python returns a scalar", kind: "python:3", code: "def main(a):\n    return 'text'\n", status: dev,
			errorIs: "The action did not return a dictionary or array."},
		{name: "python returns non-JSON", kind: "python:3", code: "def main(a):\n    return {'s': {1, 2}}\n", status: dev,
			errorIs: "The action did not return a dictionary or array."},
		{name: "native prints non-JSON", kind: "blackbox", code: "#!/bin/sh\necho 'not json'\n", status: dev,
			errorIs: "The action did not return a dictionary or array."},
		{name: "nodejs exits", kind: "nodejs:20", code: `function main() { process.exit(1) }`, status: dev, errorIs: exited},
		{name: "python exits", kind: "python:3", code: "import os\ndef main(a):\n    os._exit(3)\n", status: dev, errorIs: exited},
		{name: "nodejs never returns", kind: "nodejs:20", code: `function main() { while (true) {} }`, limits: map[string]any{"timeout": 1000},
			status: dev, errorIs: "The action exceeded its time limits of 1000 milliseconds.", timeout: true},
		{name: "nodejs promise never settles", kind: "nodejs:20", code: `function main() { return new Promise(() => {}) }`, limits: map[string]any{"timeout": 1000},
			status: dev, errorIs: "The action exceeded its time limits of 1000 milliseconds.", timeout: true},
	}
}

func testFaults(t *testing.T, c api) {
	for i, f := range faults() {
		t.Run(f.name, func(t *testing.T) {
			name := "fault" + string(rune('a'+i))
			exec := source(f.kind, f.code)
			if f.kind == "blackbox" {
				exec["image"] = "openwhisk/dockerskeleton"
			}
			c.putAction(t, name, exec, f.limits)
			first := checkFault(t, c, name, f)
			if !first.cold() {
				t.Errorf("first activation has no initTime: %s", first.raw)
			}
			// Again: a developer error destroyed the container (cold
			// again), an application error kept it (warm).
			again := checkFault(t, c, name, f)
			if again.cold() == f.keepsContainer {
				t.Errorf("second activation cold=%v, want cold=%v (container kept only on application errors): %s", again.cold(), !f.keepsContainer, again.raw)
			}
			healthy(t, c)
		})
	}
}

// checkFault invokes action name and checks its failure record.
func checkFault(t *testing.T, c api, name string, f fault) *activation {
	t.Helper()
	st, a := c.invoke(t, name, nil)
	if st != 502 || a.Response.Status != f.status || a.Response.Success {
		t.Fatalf("invoke = %d %q, want 502 %q\nrecord: %s", st, a.Response.Status, f.status, a.raw)
	}
	e := a.errorText()
	if f.errorIs != "" && e != f.errorIs || f.errorHas != "" && !strings.Contains(e, f.errorHas) || e == "" {
		t.Errorf("error = %q, want %q%q\nrecord: %s", e, f.errorIs, f.errorHas, a.raw)
	}
	if f.logHas != "" && !strings.Contains(strings.Join(a.Logs, "\n"), f.logHas) {
		if f.status != "action developer error" {
			t.Errorf("logs do not mention %q: %q", f.logHas, a.Logs)
		} else {
			// After a developer error logs are read without waiting for
			// the sentinels ("Log data might be missing."), as OpenWhisk.
			t.Logf("logs do not mention %q (read without waiting for the sentinels): %q", f.logHas, a.Logs)
		}
	}
	if v, _ := a.annotation("timeout"); string(v) != map[bool]string{true: "true", false: "false"}[f.timeout] {
		t.Errorf("annotation timeout = %s, want %v", v, f.timeout)
	}
	return a
}

func testMemoryLimit(t *testing.T, c api) {
	c.putAction(t, "hog", source("python:3", "def main(a):\n    s = 'x' * (512 * 1024 * 1024)\n    return {'n': len(s)}\n"),
		map[string]any{"memory": 128})
	st, a := c.invoke(t, "hog", nil)
	if st == 200 {
		if strings.Contains(c.srv.Stderr.String(), "no memory limit") {
			t.Skipf("the process sandbox enforces no memory limit here (no writable memory cgroup; the server says so): the 512 MB allocation succeeded")
		}
		t.Fatalf("a 128 MB action allocated 512 MB although the server enforces memory limits: %s", a.raw)
	}
	if st != 502 || a.Response.Status != "action developer error" || a.errorText() != "The action exhausted its memory and was aborted." {
		t.Fatalf("invoke = %d %s, want 502 developer error \"The action exhausted its memory and was aborted.\"", st, a.raw)
	}
	healthy(t, c)
}

func testLogFlood(t *testing.T, c api) {
	// 3000 lines of 1 KiB (about 3 MB) against a 1 MB log limit.
	c.putAction(t, "chatty", source("nodejs:20", `function main() {
  const line = "x".repeat(1023);
  for (let i = 0; i < 3000; i++) console.log(line);
  return {done: true};
}`), map[string]any{"logs": 1})
	const truncated = "stderr: Logs were truncated because the total bytes size exceeds the limit of 1048576 bytes."
	// Twice: cold, then warm in the same container, whose logs must start
	// afresh (nothing of the first activation's output may spill over).
	for i, name := range []string{"cold", "warm"} {
		a := c.invokeOK(t, "chatty", nil)
		wantField(t, a, "done", true)
		if a.cold() != (i == 0) {
			t.Errorf("%s activation: cold=%v", name, a.cold())
		}
		size := 0
		for _, l := range a.Logs {
			size += len(l)
		}
		if len(a.Logs) == 0 || !strings.HasSuffix(a.Logs[len(a.Logs)-1], truncated) {
			t.Errorf("%s activation: %d log lines (%d bytes) of 3000 printed, the last is not the truncation line: %.80q",
				name, len(a.Logs), size, a.Logs[max(len(a.Logs)-1, 0):])
		} else if size > 2<<20 || len(a.Logs) < 900 {
			t.Errorf("%s activation: %d log lines of %d bytes kept for a 1 MB limit, want about 1 MB", name, len(a.Logs), size)
		}
	}
	healthy(t, c)
}

func testForkBomb(t *testing.T, c api) {
	// The pids limit (1024) stops the bomb; the action must end in an
	// error, its container must go, and the invoker must keep serving.
	c.putAction(t, "bomb", source("python:3", `import os
def main(args):
    if args.get("bomb"):
        while True:
            os.fork()
    return {"pid": os.getpid()}
`), map[string]any{"timeout": 5000})
	st, a := c.invoke(t, "bomb", map[string]any{"bomb": true})
	if st != 502 || a.Response.Success {
		t.Fatalf("fork bomb = %d %s, want 502 with an error", st, tail(a.raw))
	}
	t.Logf("fork bomb ended in %q: %q", a.Response.Status, a.errorText())
	healthy(t, c)
	// The bombed container (with its thousand processes) must not serve
	// the next activation of the action.
	st, next := c.invoke(t, "bomb", nil)
	if st != 200 || !next.Response.Success || !next.cold() {
		t.Errorf("the activation after the fork bomb = %d %q %q cold=%v, want 200 success in a new container (initTime); record: %.600s",
			st, next.Response.Status, next.errorText(), next.cold(), next.raw)
	}
}

func testTriggerRuleAction(t *testing.T, c api) {
	c.putAction(t, "echo", source("nodejs:20", `function main(p) { console.log("got " + p.payload); return {echoed: p.payload} }`), nil)
	if st, _, b := c.request(t, "PUT", "/triggers/tick?overwrite=true", map[string]any{}); st != 200 {
		t.Fatalf("PUT trigger = %d %s", st, b)
	}
	if st, _, b := c.request(t, "PUT", "/rules/tick2echo?overwrite=true", map[string]any{"trigger": "/_/tick", "action": "/_/echo"}); st != 200 {
		t.Fatalf("PUT rule = %d %s", st, b)
	}
	st, _, b := c.request(t, "POST", "/triggers/tick", map[string]any{"payload": "fired"})
	var fired struct {
		ActivationID string `json:"activationId"`
	}
	if st != 202 || json.Unmarshal(b, &fired) != nil || fired.ActivationID == "" {
		t.Fatalf("fire = %d %s, want 202 with the trigger activation id", st, b)
	}
	trig := c.activation(t, fired.ActivationID)
	if trig.Name != "tick" || len(trig.Logs) != 1 {
		t.Fatalf("trigger activation = %s, want one rule log line", trig.raw)
	}
	var rule struct {
		StatusCode   int    `json:"statusCode"`
		Success      bool   `json:"success"`
		ActivationID string `json:"activationId"`
		Rule         string `json:"rule"`
		Action       string `json:"action"`
	}
	if err := json.Unmarshal([]byte(trig.Logs[0]), &rule); err != nil || !rule.Success || rule.StatusCode != 0 ||
		rule.Rule != "guest/tick2echo" || rule.Action != "guest/echo" || len(rule.ActivationID) != 32 {
		t.Fatalf("rule log line = %q (%v)", trig.Logs[0], err)
	}
	act := c.activation(t, rule.ActivationID)
	if act.Name != "echo" || act.Response.Status != "success" {
		t.Fatalf("rule's action activation = %s", act.raw)
	}
	wantField(t, act, "echoed", "fired")
}

// logLine is a stored log line: RFC3339Nano UTC time padded to 30, the
// stream, the text.
var logLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z *(stdout|stderr): (.*)$`)

func testActivationLogs(t *testing.T, c api) {
	c.putAction(t, "talker", source("nodejs:20", `function main() {
  console.log("line one");
  console.error("line two");
  console.log("line three");
  return {};
}`), nil)
	a := c.invokeOK(t, "talker", nil)
	st, _, b := c.request(t, "GET", "/activations/"+a.ActivationID+"/logs", nil)
	var got struct {
		Logs []string `json:"logs"`
	}
	if st != 200 || json.Unmarshal(b, &got) != nil {
		t.Fatalf("GET logs = %d %s", st, b)
	}
	// Lines keep their order within a stream; across stdout and stderr
	// the order is the order the server read them in (as with Docker).
	want := map[string][]string{"stdout": {"line one", "line three"}, "stderr": {"line two"}}
	got2 := map[string][]string{}
	for _, l := range got.Logs {
		m := logLine.FindStringSubmatch(l)
		if m == nil || len(l) < 31 || l[30] != ' ' {
			t.Fatalf("log line %q is not \"<RFC3339Nano time padded to 30> <stream>: <text>\"", l)
		}
		got2[m[2]] = append(got2[m[2]], m[3])
	}
	for stream, lines := range want {
		if strings.Join(got2[stream], "|") != strings.Join(lines, "|") {
			t.Errorf("%s lines = %q, want %q (all logs %q)", stream, got2[stream], lines, got.Logs)
		}
	}
	if len(got.Logs) != 3 {
		t.Errorf("logs = %q, want 3 lines", got.Logs)
	}
}

// countProcesses counts the processes whose working directory is under
// dir (the sandboxes of this test's server).
func countProcesses(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Logf("cannot list /proc: %v", err)
		return 0
	}
	n := 0
	for _, e := range ents {
		if cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd")); err == nil && strings.HasPrefix(cwd, dir+"/") {
			n++
		}
	}
	return n
}
