package actionloop_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gowhisk/gowhisk/invoker/container"
)

func TestLauncherZipActions(t *testing.T) {
	tests := []struct {
		name, kind, main string
		files            map[string]string
		want             string
	}{
		{"node package.json main with node_modules", node, "", map[string]string{
			"package.json":                       `{"name":"act","main":"lib/action.js"}`,
			"lib/action.js":                      `const pad = require("left-pad"); exports.main = (a) => ({padded: pad(a.s, 5, "."), cwd: process.cwd().endsWith("/") ? "slash" : "ok"})`,
			"node_modules/left-pad/package.json": `{"name":"left-pad","main":"index.js"}`,
			"node_modules/left-pad/index.js":     `module.exports = (s, n, c) => c.repeat(Math.max(0, n - s.length)) + s`,
		}, `{"padded":"...ab","cwd":"ok"}`},
		{"node index.js", node, "", map[string]string{
			"index.js":  `const h = require("./helper"); exports.main = () => ({v: h.v})`,
			"helper.js": `exports.v = 42`,
		}, `{"v":42}`},
		{"node module.function main", node, "other.run", map[string]string{
			"other.js": `exports.run = () => ({ran: "other"})`,
		}, `{"ran":"other"}`},
		{"node main override in index", node, "hello", map[string]string{
			"index.js": `exports.hello = () => ({h: 1})`,
		}, `{"h":1}`},
		{"python __main__ with vendored module", py, "", map[string]string{
			"__main__.py":     "import helper\nfrom pkg.sub import twice\ndef main(a):\n    return {'v': helper.V, 't': twice(a['n'])}\n",
			"helper.py":       "V = 'vendored'\n",
			"pkg/__init__.py": "",
			"pkg/sub.py":      "def twice(n):\n    return 2 * n\n",
		}, `{"v": "vendored", "t": 6}`},
		{"python virtualenv site-packages", py, "", map[string]string{
			"__main__.py": "import venvmod\ndef main(a):\n    return {'v': venvmod.V}\n",
			"virtualenv/lib/python3.11/site-packages/venvmod.py": "V = 'from venv'\n",
		}, `{"v": "from venv"}`},
		{"python exec file and main override", py, "go", map[string]string{
			"exec": "def go(a):\n    return {'exec': True}\n",
		}, `{"exec": true}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := start(t, tc.kind)
			l.mustInit(t, tc.kind, container.InitRequest{Name: "z", Main: tc.main, Binary: true, Code: zipB64(t, tc.files)})
			res := l.call(t, map[string]any{"s": "ab", "n": 3}, nil)
			if res.Status != 200 || string(res.Body) != tc.want {
				t.Errorf("got %d %s, want 200 %s\nstderr: %s", res.Status, res.Body, tc.want, l.err.String())
			}
		})
	}
}

func TestLauncherZipInitErrors(t *testing.T) {
	tests := []struct {
		name, kind string
		files      map[string]string
		want       string
	}{
		{"node neither package.json nor index.js", node, map[string]string{"other.js": "exports.main = () => ({})"},
			"Initialization has failed due to: Zipped actions must contain either package.json or index.js at the root."},
		{"python without __main__", py, map[string]string{"helper.py": "V = 1\n"}, "Zip file does not include main__"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := start(t, tc.kind)
			err := l.initCode(t, tc.kind, container.InitRequest{Name: "z", Binary: true, Code: zipB64(t, tc.files)})
			var ie *container.InitError
			if !errors.As(err, &ie) || !strings.Contains(string(ie.Body), tc.want) {
				t.Fatalf("Init error = %v, want an InitError containing %q", err, tc.want)
			}
		})
	}
}
