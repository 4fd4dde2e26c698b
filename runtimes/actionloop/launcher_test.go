package actionloop_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/invoker/container"
)

const (
	node = "nodejs:20"
	py   = "python:3.11"
)

// TestLauncherResults runs one activation per case and checks the answer.
func TestLauncherResults(t *testing.T) {
	tests := []struct {
		name, kind, code, main string
		value                  any
		status                 int
		want                   string // substring of the body
	}{
		{"node plain", node, `function main(a) { return {greeting: "Hello " + a.name} }`, "", map[string]any{"name": "W"}, 200, `{"greeting":"Hello W"}`},
		{"node exports.main", node, `exports.main = (a) => ({n: a.n + 1})`, "", map[string]any{"n": 1}, 200, `{"n":2}`},
		{"node module.exports", node, `module.exports = { main: function (a) { return {ok: 1} } }`, "", nil, 200, `{"ok":1}`},
		{"node module.exports.main", node, `module.exports.main = () => ({m: true})`, "", nil, 200, `{"m":true}`},
		{"node main override", node, `function main() { return {which: "main"} }
function hello(a) { return {which: "hello"} }`, "hello", nil, 200, `{"which":"hello"}`},
		{"node exported override", node, `exports.niam = () => ({which: "niam"})`, "niam", nil, 200, `{"which":"niam"}`},
		{"node async", node, `async function main(a) { await new Promise(r => setTimeout(r, 5)); return {later: a.x} }`, "", map[string]any{"x": 7}, 200, `{"later":7}`},
		{"node promise", node, `function main() { return new Promise(r => setTimeout(() => r({p: 1}), 5)) }`, "", nil, 200, `{"p":1}`},
		{"node array result", node, `function main(a) { return [1, 2] }`, "", nil, 200, `[1,2]`},
		{"node array input", node, `function main(a) { return {len: a.length} }`, "", []int{1, 2, 3}, 200, `{"len":3}`},
		{"node undefined result", node, `function main() { }`, "", nil, 200, `{}`},
		{"node string result", node, `function main() { return "hello" }`, "", nil, 502, `{"error":"The action did not return a dictionary."}`},
		{"node throw", node, `function main() { throw new Error("boom") }`, "", nil, 502, `{"error":"An error has occurred: Error: boom"}`},
		{"node reject error", node, `async function main() { throw new Error("later boom") }`, "", nil, 200, `"message":"later boom"`},
		{"node reject string", node, `function main() { return Promise.reject("nope") }`, "", nil, 200, `{"error":"nope"}`},
		{"node application error", node, `function main() { return {error: "mine"} }`, "", nil, 200, `{"error":"mine"}`},
		{"node unicode", node, `function main(a) { return {s: a.s + "✓"} }`, "", map[string]any{"s": "é\u2028"}, 200, `"s":"é` + "\u2028" + `✓"`},
		{"node require builtin", node, `const os = require("os"); function main() { return {t: typeof os.hostname()} }`, "", nil, 200, `{"t":"string"}`},

		{"python plain", py, "def main(args):\n    return {'greeting': 'Hello ' + args['name']}\n", "", map[string]any{"name": "W"}, 200, `{"greeting": "Hello W"}`},
		{"python main override", py, "def main(a):\n    return {'which': 'main'}\ndef hello(a):\n    return {'which': 'hello'}\n", "hello", nil, 200, `{"which": "hello"}`},
		{"python async", py, "import asyncio\nasync def main(a):\n    await asyncio.sleep(0.005)\n    return {'later': a['x']}\n", "", map[string]any{"x": 7}, 200, `{"later": 7}`},
		{"python list result", py, "def main(a):\n    return [1, 2]\n", "", nil, 200, `[1, 2]`},
		{"python list input", py, "def main(a):\n    return {'len': len(a)}\n", "", []int{1, 2, 3}, 200, `{"len": 3}`},
		{"python string result", py, "def main(a):\n    return 'hello'\n", "", nil, 502, `{"error":"The action did not return a dictionary or array."}`},
		{"python none result", py, "def main(a):\n    pass\n", "", nil, 502, `The action did not return a dictionary or array.`},
		{"python unserializable", py, "def main(a):\n    return {'s': {1, 2}}\n", "", nil, 502, `The action did not return a dictionary or array.`},
		{"python exception", py, "def main(a):\n    raise ValueError('boom')\n", "", nil, 200, `{"error": "boom"}`},
		{"python unicode", py, "def main(a):\n    return {'s': a['s'] + '✓'}\n", "", map[string]any{"s": "é"}, 200, `{"s": "é✓"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := start(t, tc.kind)
			l.mustInit(t, tc.kind, container.InitRequest{Name: "a", Main: tc.main, Code: tc.code})
			res := l.call(t, tc.value, nil)
			if res.Status != tc.status || !strings.Contains(string(res.Body), tc.want) {
				t.Errorf("got %d %s, want %d containing %s\nstderr: %s", res.Status, res.Body, tc.status, tc.want, l.err.String())
			}
			// Every activation ends with the sentinel on both streams.
			for name, s := range map[string]*syncBuffer{"stdout": l.out, "stderr": l.err} {
				if got := s.waitFor(t, container.Sentinel); !strings.Contains(got, container.Sentinel) {
					t.Errorf("%s has no sentinel: %q", name, got)
				}
			}
		})
	}
}

func TestLauncherLogsAndSentinels(t *testing.T) {
	for _, tc := range []struct{ kind, code string }{
		{node, `function main(a) { console.log("out " + a.i); console.error("err " + a.i); return {} }`},
		{py, "import sys\ndef main(a):\n    print('out', a['i'])\n    print('err', a['i'], file=sys.stderr)\n    return {}\n"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			l := start(t, tc.kind)
			l.mustInit(t, tc.kind, container.InitRequest{Name: "a", Code: tc.code})
			for i := 1; i <= 2; i++ {
				l.call(t, map[string]any{"i": i}, nil)
			}
			s := container.Sentinel + "\n"
			wantOut := "out 1\n" + s + "out 2\n" + s
			wantErr := "err 1\n" + s + "err 2\n" + s
			if got := l.out.waitFor(t, wantOut); got != wantOut {
				t.Errorf("stdout = %q, want %q", got, wantOut)
			}
			if got := l.err.waitFor(t, wantErr); got != wantErr {
				t.Errorf("stderr = %q, want %q", got, wantErr)
			}
		})
	}
}

func TestLauncherEnvironment(t *testing.T) {
	for _, tc := range []struct{ kind, code string }{
		{node, `function main() { const e = process.env; return {ns: e.__OW_NAMESPACE, name: e.__OW_ACTION_NAME, id: e.__OW_ACTIVATION_ID, key: e.__OW_API_KEY || null, dl: e.__OW_DEADLINE, init: e.INIT_PARAM} }`},
		{py, "import os\ndef main(a):\n    e = os.environ\n    return {'ns': e.get('__OW_NAMESPACE'), 'name': e.get('__OW_ACTION_NAME'), 'id': e.get('__OW_ACTIVATION_ID'), 'key': e.get('__OW_API_KEY'), 'dl': e.get('__OW_DEADLINE'), 'init': e.get('INIT_PARAM')}\n"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			l := start(t, tc.kind)
			l.mustInit(t, tc.kind, container.InitRequest{Name: "a", Code: tc.code, Env: map[string]string{"INIT_PARAM": "ip"}})
			got := jsonField(t, l.call(t, nil, map[string]string{"api_key": "u:k", "activation_id": "first"}).Body)
			want := map[string]any{"ns": "guest", "name": "/guest/a", "id": "first", "key": "u:k", "dl": "1700000060000", "init": "ip"}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("first %s = %v, want %v", k, got[k], v)
				}
			}
			got = jsonField(t, l.call(t, nil, map[string]string{"activation_id": "second"}).Body)
			if got["id"] != "second" || got["key"] != nil {
				t.Errorf("second activation: id %v key %v, want second and no key", got["id"], got["key"])
			}
		})
	}
}

// Child processes see the activation's variables: all of them in nodejs
// (child_process passes process.env), the API key, namespace and action in
// python (the per-activation ids are kept out of the C environment there).
func TestLauncherEnvironmentOfChildren(t *testing.T) {
	for _, tc := range []struct{ kind, code, want string }{
		{node, `const cp = require('child_process'); function main() { return {out: cp.execSync('echo $__OW_ACTIVATION_ID $__OW_API_KEY $__OW_NAMESPACE').toString().trim()} }`, "second u:k guest"},
		{py, "import subprocess\ndef main(a):\n    return {'out': subprocess.run(['sh', '-c', 'echo $__OW_API_KEY $__OW_NAMESPACE'], capture_output=True, text=True).stdout.strip()}\n", "u:k guest"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			l := start(t, tc.kind)
			l.mustInit(t, tc.kind, container.InitRequest{Name: "a", Code: tc.code})
			l.call(t, nil, map[string]string{"api_key": "u:k", "activation_id": "first"})
			got := jsonField(t, l.call(t, nil, map[string]string{"api_key": "u:k", "activation_id": "second"}).Body)
			if got["out"] != tc.want {
				t.Errorf("the child printed %q, want %q", got["out"], tc.want)
			}
		})
	}
}

func TestLauncherInitErrors(t *testing.T) {
	tests := []struct {
		name, kind, code, main string
		want                   []string
	}{
		{"node syntax", node, "function main(a) {\n  return {x: }\n}", "", []string{"Initialization has failed due to: ", "SyntaxError: Unexpected token"}},
		{"node no main", node, "function other() {}", "", []string{"Initialization has failed due to: Action entrypoint 'main' is not a function."}},
		{"node main not function", node, "var main = 3", "", []string{"Action entrypoint 'main' is not a function."}},
		{"node throws at load", node, "throw new Error('at load')", "", []string{"Initialization has failed due to: Error: at load"}},
		{"python syntax", py, "def main(a)\n    return {}\n", "", []string{`{"error":"expected ':'"}`}},
		{"python indentation", py, "def main(a):\nreturn {}\n", "", []string{`expected an indented block`}},
		{"python no main", py, "def other(a):\n    return {}\n", "", []string{"cannot start action: Command exited abruptly during initialization."}},
		{"python raises at import", py, "import no_such_module_xyz\ndef main(a):\n    return {}\n", "", []string{"cannot start action: Command exited abruptly during initialization."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := start(t, tc.kind)
			err := l.initCode(t, tc.kind, container.InitRequest{Name: "a", Main: tc.main, Code: tc.code})
			var ie *container.InitError
			if !errors.As(err, &ie) {
				t.Fatalf("Init error = %v, want *container.InitError", err)
			}
			if ie.Status != 502 {
				t.Errorf("status = %d, want 502", ie.Status)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(ie.Body), w) {
					t.Errorf("body %s lacks %q", ie.Body, w)
				}
			}
			l.err.waitFor(t, container.Sentinel)
			if !strings.Contains(l.out.waitFor(t, container.Sentinel), container.Sentinel) {
				t.Errorf("no sentinel on stdout after a failed init")
			}
			select { // the launcher exits after a failed init
			case <-l.p.Exited():
			case <-time.After(5 * time.Second):
				t.Error("launcher still running after a failed init")
			}
		})
	}
}

func TestLauncherExit(t *testing.T) {
	for _, tc := range []struct{ kind, code string }{
		{node, `function main() { process.exit(3) }`},
		{py, "import sys\ndef main(a):\n    sys.exit(3)\n"},
		{py, "import os\ndef main(a):\n    os._exit(0)\n"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			l := start(t, tc.kind)
			l.mustInit(t, tc.kind, container.InitRequest{Name: "a", Code: tc.code})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := l.p.Run(ctx, runBody(t, nil, nil))
			if !errors.Is(err, container.ErrExited) {
				t.Fatalf("Run error = %v, want ErrExited", err)
			}
			if _, err := l.p.Run(ctx, runBody(t, nil, nil)); !errors.Is(err, container.ErrExited) {
				t.Errorf("Run after exit: %v, want ErrExited", err)
			}
		})
	}
}

func TestLauncherNeverReturns(t *testing.T) {
	for _, tc := range []struct{ kind, code string }{
		{node, `function main() { return new Promise(() => {}) }`},
		{node, `function main() { for (;;) {} }`},
		{py, "import time\ndef main(a):\n    time.sleep(3600)\n"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			l := start(t, tc.kind)
			l.mustInit(t, tc.kind, container.InitRequest{Name: "a", Code: tc.code})
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err := l.p.Run(ctx, runBody(t, nil, nil))
			if !errors.Is(err, container.ErrTimeout) {
				t.Fatalf("Run error = %v, want ErrTimeout", err)
			}
			select {
			case <-l.p.Exited():
				t.Fatal("Run killed the process; the caller destroys it")
			default:
			}
			// Out of sync now: a later run must not read the stale answer.
			ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel2()
			if _, err := l.p.Run(ctx2, runBody(t, nil, nil)); !errors.Is(err, container.ErrExited) {
				t.Errorf("Run after timeout: %v, want an ErrExited-wrapping error", err)
			}
		})
	}
}

// A python action's module is main__ with its file, as OpenWhisk's runtime
// imports it.
func TestPythonActionModule(t *testing.T) {
	l := start(t, py)
	l.mustInit(t, py, container.InitRequest{Name: "a", Code: "import sys\ndef main(a):\n    return {'name': __name__, 'file': __file__.endswith('.py') or __file__.endswith('exec'), 'spec': __spec__.name, 'registered': sys.modules['main__'].main is main}\n"})
	got := jsonField(t, l.call(t, nil, nil).Body)
	want := map[string]any{"name": "main__", "file": true, "spec": "main__", "registered": true}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}
