package cli

import (
	"archive/zip"
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.txt from this run")

// Files the golden commands use, written into the work directory.
var goldenFiles = map[string]string{
	"hello.js":    "function main(p) {\n  console.log('hello ' + p.name);\n  return {greeting: 'hello ' + (p.name || 'stranger')};\n}\n",
	"hello.py":    "def main(args):\n    return {'greeting': 'hello ' + str(args.get('name', 'stranger'))}\n",
	"fail.js":     "function main(p) { return {error: 'boom'} }\n",
	"feed.js":     "function main(p) {\n  if (p.fail) return {error: 'feed refused'};\n  return {event: p.lifecycleEvent, trigger: p.triggerName, keyed: typeof p.authKey === 'string' && p.authKey.includes(':'), x: p.x};\n}\n",
	"data.txt":    "not code\n",
	"params.json": `{"name": "from a file", "n": 3}`,
}

// goldenSteps are the commands of the golden transcript. {APIHOST} and
// {AUTH} are the server's; {id} is the last activation id the previous
// commands printed. A step starting with "#await" waits until `wsk
// activation get {id}` succeeds (an asynchronous activation was stored); a
// step starting with "#env" runs the rest with the given extra variable.
var goldenSteps = [][]string{
	// properties
	{"property", "set", "--apihost", "{APIHOST}", "--auth", "{AUTH}"},
	{"property", "get", "--apihost"},
	{"property", "get", "--auth"},
	{"property", "get", "--apiversion"},
	{"property", "get", "--namespace"},
	{"property", "get", "--apibuild"},
	{"property", "get", "--apibuildno"},
	{"property", "get", "--apihost", "-o", "raw"},
	{"property", "set", "--apiversion", "v1"},
	{"property", "unset", "--apiversion"},
	{"property", "get", "--apiversion"},
	{"property", "set", "--apihost", "http://"},
	// no configuration, environment instead
	{"#env", "WSK_CONFIG_FILE=/nonexistent/wskprops", "action", "list"},
	{"#env", "WSK_CONFIG_FILE=/nonexistent/wskprops", "--apihost", "{APIHOST}", "action", "list"},
	{"#env", "WSK_CONFIG_FILE=/nonexistent/wskprops", "#env", "WHISK_APIHOST={APIHOST}", "#env", "WHISK_AUTH={AUTH}", "namespace", "list"},
	// usage and global errors
	{"nosuchcommand"},
	{"action", "list", "--nosuchflag"},
	{"action", "list", "--limit", "many"},
	{"-u", "nobody:secret", "action", "list"},
	{"--apihost", "http://127.0.0.1:1", "action", "list"},
	{"action", "invoke", "hello", "-p", "onlykey"},
	{"action", "create", "x", "hello.js", "-P", "nosuch.json"},
	// actions
	{"action", "list"},
	{"action", "create", "hello", "hello.js"},
	{"action", "create", "hello", "hello.js"},
	{"action", "create"},
	{"action", "create", "a", "b", "c"},
	{"action", "create", "x"},
	{"action", "create", "x", "missing.js"},
	{"action", "create", "x", "data.txt"},
	{"action", "create", "x", "pkg.zip"},
	{"action", "create", "x", "hello.js", "--kind", "nodejs:20", "--docker", "some/image"},
	{"action", "create", "x", "hello.js", "--kind", "cobol:1"},
	{"action", "create", "x", "hello.js", "--web", "maybe"},
	{"action", "create", "x", "hello.js", "--web-secure", "s3cret"},
	{"action", "create", "hellopy", "hello.py", "-p", "name", "py", "-a", "description", "says hello"},
	{"action", "create", "limited", "hello.js", "-t", "3000", "-m", "128", "-l", "5", "-P", "params.json"},
	{"action", "get", "limited", "limits"},
	{"action", "get", "limited", "parameters"},
	{"action", "create", "native", "pkg.zip", "--native"},
	{"action", "get", "native", "exec"},
	{"action", "create", "zipped", "pkg.zip", "--kind", "python:3", "--main", "handler"},
	{"action", "get", "zipped", "exec"},
	{"action", "create", "copy", "--copy", "hellopy"},
	{"action", "get", "copy", "parameters"},
	{"action", "create", "fail", "fail.js"},
	{"action", "create", "seq", "--sequence", "hello,hellopy"},
	{"action", "get", "seq", "exec"},
	{"action", "update", "hello", "-p", "name", "Bob", "-a", "description", "greets"},
	{"action", "update", "hello", "--web", "true"},
	{"action", "get", "hello"},
	{"action", "get", "hello", "--summary"},
	{"action", "get", "hello", "--url"},
	{"action", "get", "hellopy", "--url"},
	{"action", "update", "hello", "--web-secure", "s3cret"},
	{"action", "get", "hello", "annotations"},
	{"action", "update", "hello", "--web", "false", "--del-annotation", "description"},
	{"action", "get", "hello", "annotations"},
	{"action", "get", "hello", "nosuchfield"},
	{"action", "get", "nope"},
	{"action", "get", "hello", "--save-as", "saved.js"},
	{"action", "get", "hello", "--save-as", "saved.js"},
	{"action", "list"},
	{"action", "list", "-n", "--limit", "3"},
	{"action", "list", "/guest", "--skip", "5"},
	// invocations
	{"action", "invoke", "hello", "-r"},
	{"action", "invoke", "hello", "-r", "-p", "name", "world"},
	{"action", "invoke", "hello", "--blocking", "-p", "name", "blocking"},
	{"action", "invoke", "hellopy", "-r", "-P", "params.json"},
	{"action", "invoke", "fail", "-b"},
	{"action", "invoke", "fail", "-r"},
	{"action", "invoke", "nope"},
	{"action", "invoke", "hello", "-p", "name", "async"},
	{"#await"},
	{"activation", "get", "{id}"},
	{"activation", "get", "{id}", "response"},
	{"activation", "get", "{id}", "nosuchfield"},
	{"activation", "get", "{id}", "--summary"},
	{"activation", "logs", "{id}"},
	{"activation", "logs", "{id}", "--strip"},
	{"activation", "result", "{id}"},
	{"activation", "result", "--last"},
	{"activation", "logs", "--last", "-r"},
	{"activation", "list", "hello", "-l", "1"},
	{"activation", "list", "hello", "-l", "1", "--full"},
	{"activation", "list", "--upto", "1"},
	{"activation", "get", "123"},
	{"activation", "get", "0123456789abcdef0123456789abcdef"},
	{"activation", "get"},
	{"action", "create", "pollme", "hello.js"},
	{"action", "invoke", "pollme", "-b", "-p", "name", "polled"},
	{"activation", "poll", "pollme", "--exit", "1", "--since-minutes", "10"},
	// packages
	{"package", "create", "utils", "-p", "x", "1", "--shared", "yes"},
	{"package", "create", "utils"},
	{"package", "create", "other", "--shared", "maybe"},
	{"package", "update", "utils", "-a", "description", "utilities"},
	{"action", "create", "utils/inpkg", "hello.js"},
	{"action", "list", "utils"},
	{"package", "get", "utils"},
	{"package", "get", "utils", "--summary"},
	{"package", "bind", "utils", "bound", "-p", "y", "2"},
	{"package", "get", "bound", "binding"},
	{"package", "bind", "nosuchpkg", "bound2"},
	{"package", "list"},
	{"action", "invoke", "bound/inpkg", "-r", "-p", "name", "via binding"},
	{"package", "delete", "utils"},
	{"package", "delete", "bound"},
	{"package", "delete", "nosuchpkg"},
	// triggers and rules
	{"trigger", "create", "t1", "-p", "a", "1"},
	{"trigger", "create", "t1"},
	{"trigger", "create"},
	{"trigger", "get", "t1"},
	{"trigger", "get", "t1", "--summary"},
	{"trigger", "update", "t1", "-p", "b", "2"},
	{"trigger", "get", "t1", "parameters"},
	{"trigger", "fire", "t1"},
	{"rule", "create", "r1", "t1", "hello"},
	{"rule", "create", "r1", "t1", "hello"},
	{"rule", "create", "r2", "nosuchtrigger", "hello"},
	{"rule", "create", "r2", "t1"},
	{"rule", "status", "r1"},
	{"rule", "get", "r1"},
	{"rule", "get", "r1", "--summary"},
	{"rule", "get", "r1", "status"},
	{"rule", "list"},
	{"trigger", "fire", "t1", "-p", "name", "fired"},
	{"#await"},
	{"activation", "logs", "{id}"},
	{"#await"},
	{"activation", "result", "{id}"},
	{"rule", "disable", "r1"},
	{"rule", "status", "r1"},
	{"trigger", "fire", "t1"},
	{"rule", "enable", "r1"},
	{"rule", "update", "r1", "t1", "hellopy"},
	{"rule", "get", "r1", "action"},
	{"trigger", "list"},
	{"list"},
	{"namespace", "list"},
	{"namespace", "get"},
	{"list", "hello"},
	{"rule", "delete", "r1", "--disable"},
	{"rule", "get", "r1"},
	{"rule", "delete", "r1"},
	{"trigger", "delete", "t1"},
	{"trigger", "delete", "t1"},
	{"trigger", "fire", "nope"},
	// feeds
	{"action", "create", "myfeed", "feed.js"},
	{"trigger", "create", "ft", "--feed", "myfeed", "-p", "x", "1"},
	{"trigger", "get", "ft"},
	{"trigger", "update", "ft", "-p", "x", "2"},
	{"trigger", "delete", "ft"},
	{"trigger", "create", "ft2", "--feed", "myfeed", "-p", "fail", "true"},
	{"trigger", "get", "ft2"},
	// deletes
	{"action", "delete", "seq"},
	{"action", "delete", "seq"},
	{"action", "delete", "hello"},
}

// normalizers make a transcript independent of ids, times and ports.
var normalizers = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`\b[0-9a-f]{32}\b`), "<ID>"},
	{regexp.MustCompile(`\(code [^)]+\)`), "(code <TID>)"},
	{regexp.MustCompile(`"(start|end|duration|updated|waitTime|initTime)": \d+`), `"$1": <N>`},
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z +`), "<TS> "},
	{regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d( \+0000 UTC)?`), "<DATETIME>"},
	{regexp.MustCompile(`(?m)^(<DATETIME> <ID> \S+ +)(warm|cold) +\S+ +`), "${1}<START> <DUR> "},
	// initTime is only on cold starts: drop it; waitTime varies.
	{regexp.MustCompile(`,\s*\{\s*"key": "initTime",\s*"value": \d+\s*\}`), ""},
	{regexp.MustCompile(`\{\s*"key": "initTime",\s*"value": \d+\s*\},\s*`), ""},
	{regexp.MustCompile(`("key": "waitTime",\s*"value": )\d+`), "${1}<N>"},
}

func normalize(s string, e *env) string {
	s = strings.ReplaceAll(s, e.srv.apihost, "<APIHOST>")
	s = strings.ReplaceAll(s, e.srv.auth, "<AUTH>")
	s = strings.ReplaceAll(s, e.dir, "<WORK>")
	for _, n := range normalizers {
		s = n.re.ReplaceAllString(s, n.repl)
	}
	return s
}

var anyID = regexp.MustCompile(`\b[0-9a-f]{32}\b`)

func TestGolden(t *testing.T) {
	e := setup(t)
	for name, content := range goldenFiles {
		e.writeFile(t, name, content)
	}
	e.writeFile(t, "pkg.zip", string(zipOf(t, map[string]string{"__main__.py": "def handler(args):\n    return {'zipped': True}\n", "exec": "#!/bin/sh\necho '{\"native\": true}'\n"})))

	var transcript strings.Builder
	lastID := ""
	subst := func(s string) string {
		s = strings.ReplaceAll(s, "{APIHOST}", e.srv.apihost)
		s = strings.ReplaceAll(s, "{AUTH}", e.srv.auth)
		return strings.ReplaceAll(s, "{id}", lastID)
	}
	for _, step := range goldenSteps {
		if step[0] == "#await" {
			awaitActivation(t, e, lastID)
			continue
		}
		var extra, args []string
		for i := 0; i < len(step); i++ {
			if step[i] == "#env" {
				extra = append(extra, subst(step[i+1]))
				i++
				continue
			}
			args = append(args, subst(step[i]))
		}
		r := e.run(t, extra, args...)
		var shown []string
		named := false
		for i := 0; i < len(step); i++ {
			if step[i] == "#env" {
				shown = append(shown, quoteArg(step[i+1]))
				i++
				continue
			}
			if !named {
				shown, named = append(shown, "wsk"), true
			}
			shown = append(shown, quoteArg(step[i]))
		}
		fmt.Fprintf(&transcript, "$ %s\n", strings.Join(shown, " "))
		fmt.Fprintf(&transcript, "[exit %d]\n", r.code)
		if r.stdout != "" {
			fmt.Fprintf(&transcript, "-- stdout --\n%s", ensureNL(normalize(r.stdout, e)))
		}
		if r.stderr != "" {
			fmt.Fprintf(&transcript, "-- stderr --\n%s", ensureNL(normalize(r.stderr, e)))
		}
		transcript.WriteString("\n")
		if ids := anyID.FindAllString(r.stdout+r.stderr, -1); len(ids) > 0 {
			lastID = ids[len(ids)-1]
		}
	}
	got := transcript.String()
	golden := filepath.Join("testdata", "golden.txt")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		diffTranscripts(t, string(want), got, e.srv.stderr.String())
	}
	saved, err := os.ReadFile(filepath.Join(e.dir, "saved.js"))
	if err != nil || string(saved) != goldenFiles["hello.js"] {
		t.Errorf("action get --save-as wrote %q (%v), want the action's code", saved, err)
	}
}

// awaitActivation waits until the activation id is stored.
func awaitActivation(t *testing.T, e *env, id string) {
	t.Helper()
	deadline := time.Now().Add(readyWait)
	for {
		if r := e.run(t, nil, "activation", "get", id); r.code == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("activation %s not stored within %v", id, readyWait)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// diffTranscripts reports the first differing command of two transcripts.
func diffTranscripts(t *testing.T, want, got, serverLog string) {
	t.Helper()
	w, g := strings.Split(want, "\n$ "), strings.Split(got, "\n$ ")
	for i := 0; i < len(w) || i < len(g); i++ {
		var ws, gs string
		if i < len(w) {
			ws = w[i]
		}
		if i < len(g) {
			gs = g[i]
		}
		if ws != gs {
			t.Fatalf("transcript differs from testdata/golden.txt (rerun with -update to accept)\n--- want\n%s\n--- got\n%s\n--- server log (tail)\n%s", ws, gs, tail(serverLog))
		}
	}
}

func quoteArg(s string) string {
	if s == "" || strings.ContainsAny(s, " \t'\"") {
		return "'" + s + "'"
	}
	return s
}

func ensureNL(s string) string {
	if strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}

// zipOf builds a zip archive of files (mode 0755).
func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range sortedKeys(files) {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		h.SetMode(0o755)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(files[name])); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
