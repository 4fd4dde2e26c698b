package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/invoker/container"
)

const nodeHello = `function main(params) {
  console.log("hello from node", params.name);
  console.error("to stderr");
  return {greeting: "Hello " + params.name, ns: process.env.__OW_NAMESPACE, api: process.env.__OW_API_HOST};
}`

const pyHello = `import os, sys
def main(args):
    print("hello from python", args.get("name"))
    print("to stderr", file=sys.stderr)
    return {"greeting": "Hello " + args.get("name"), "ns": os.environ.get("__OW_NAMESPACE"), "init": os.environ.get("INIT_PARAM")}
`

func TestNodeAndPythonActions(t *testing.T) {
	f := newFactory(t, nil)
	for _, tc := range []struct {
		kind, code, log string
		extra           map[string]string
	}{
		{"nodejs:20", nodeHello, "stdout: hello from node Ada", map[string]string{"api": "http://127.0.0.1:1"}},
		{"python:3.11", pyHello, "stdout: hello from python Ada", map[string]string{"init": "p"}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			c := create(t, f, tc.kind, 256)
			initCode(t, c, tc.code)
			for i := range 3 { // warm reuse
				res, err := run(c, `{"name":"Ada"}`, 20*time.Second)
				if err != nil {
					t.Fatalf("run %d: %v", i, err)
				}
				if res.Status != 200 {
					t.Fatalf("run %d: status %d %s", i, res.Status, res.Body)
				}
				m := decode(t, res.Body)
				if m["greeting"] != "Hello Ada" || m["ns"] != "guest" {
					t.Fatalf("run %d: result %s", i, res.Body)
				}
				for k, v := range tc.extra {
					if m[k] != v {
						t.Errorf("run %d: %s = %v, want %q (result %s)", i, k, m[k], v, res.Body)
					}
				}
				lines, truncated := logs(t, c, 1<<20)
				// Streams are ordered by arrival: python's buffered stdout
				// arrives after its stderr.
				sort.Strings(lines)
				want := []string{"stderr: to stderr", tc.log}
				if truncated || strings.Join(lines, "|") != strings.Join(want, "|") {
					t.Fatalf("run %d: logs %q (truncated %v), want %q", i, lines, truncated, want)
				}
			}
		})
	}
}

func TestLogsSentinelsAndLimit(t *testing.T) {
	f := newFactory(t, nil)
	c := create(t, f, "python:3.11", 128)
	initCode(t, c, `import sys
def main(args):
    for i in range(args["n"]):
        print("line %d" % i)
    print("err", file=sys.stderr)
    return {"n": args["n"]}
`)
	// Logs without waiting before any run: nothing, no error.
	lines, truncated, err := c.Logs(context.Background(), 100, false)
	if err != nil || len(lines) != 0 || truncated {
		t.Fatalf("empty Logs = %v, %v, %v", lines, truncated, err)
	}
	if _, err := run(c, `{"n":3}`, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := run(c, `{"n":2}`, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// Two activations ran before any collection: each call returns one.
	got, _ := logs(t, c, 1<<20)
	sort.Strings(got) // stderr and stdout interleave by arrival
	if want := "stderr: err|stdout: line 0|stdout: line 1|stdout: line 2"; strings.Join(got, "|") != want {
		t.Fatalf("first activation logs %q", got)
	}
	got, _ = logs(t, c, 1<<20)
	sort.Strings(got)
	if want := "stderr: err|stdout: line 0|stdout: line 1"; strings.Join(got, "|") != want {
		t.Fatalf("second activation logs %q", got)
	}
	// A limit cuts at whole lines and reports truncation.
	if _, err := run(c, `{"n":10}`, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	got, truncated = logs(t, c, 20)
	if !truncated || len(got) != 3 {
		t.Fatalf("limited logs %q truncated=%v, want 3 lines and truncation", got, truncated)
	}
	// Waiting with no activation in flight ends with the context.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := c.Logs(ctx, 100, true); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Logs waiting without activation: %v", err)
	}
}

func TestActionRunsUnprivilegedWithOwnEnvironment(t *testing.T) {
	t.Setenv("GOWHISK_TEST_SECRET", "s3cret")
	f := newFactory(t, nil)
	c := create(t, f, "python:3.11", 128)
	initCode(t, c, `import os
def main(args):
    secret = [k for k, v in os.environ.items() if "s3cret" in v or k == "GOWHISK_TEST_SECRET"]
    try:
        open("/proc/%d/environ" % os.getppid()).read()
        parent_env = "readable"
    except Exception as e:
        parent_env = type(e).__name__
    return {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "home": os.environ.get("HOME"),
            "cwd": os.getcwd(), "keys": sorted(os.environ.keys()), "secret": secret, "parent_env": parent_env,
            "mode": oct(os.stat(os.getcwd()).st_mode & 0o777)}
`)
	res, err := run(c, `{}`, 10*time.Second)
	if err != nil || res.Status != 200 {
		t.Fatalf("run: %v %d %s", err, res.Status, res.Body)
	}
	m := decode(t, res.Body)
	if s := fmt.Sprint(m["secret"]); s != "[]" {
		t.Errorf("the action sees the invoker's secret: %s", s)
	}
	if m["home"] != c.workdir || m["cwd"] != c.workdir || m["mode"] != "0o700" {
		t.Errorf("home %v cwd %v mode %v, want %s 0o700", m["home"], m["cwd"], m["mode"], c.workdir)
	}
	for _, k := range m["keys"].([]any) {
		k := k.(string)
		switch {
		case k == "PATH", k == "HOME", k == "TMPDIR", k == "LANG", k == "INIT_PARAM", strings.HasPrefix(k, "__OW_"),
			k == "LC_CTYPE": // set by the python interpreter itself
		default:
			t.Errorf("unexpected environment variable %q in the action", k)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("not root: the action runs as the invoker's user")
	}
	if m["uid"].(interface{ String() string }).String() != "65534" || fmt.Sprint(m["groups"]) != "[]" {
		t.Errorf("uid %v groups %v, want nobody (65534) with no groups", m["uid"], m["groups"])
	}
	if m["parent_env"] == "readable" {
		t.Errorf("the action can read the invoker's /proc/<pid>/environ")
	}
}

func TestPauseResume(t *testing.T) {
	for _, mode := range []string{"cgroups", "signals"} {
		t.Run(mode, func(t *testing.T) {
			f := newFactory(t, func(c *Config) { c.NoCgroups = mode == "signals" })
			if mode == "cgroups" {
				requireCgroup(t, f, ctrlFreezer)
			}
			c := create(t, f, "nodejs:20", 128)
			initCode(t, c, `let n = 0; function main() { return {n: ++n}; }`)
			if _, err := run(c, `{}`, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for range 2 { // idempotent
				if err := c.Pause(ctx); err != nil {
					t.Fatalf("Pause: %v", err)
				}
			}
			if mode == "cgroups" {
				b, _ := os.ReadFile(filepath.Join(c.cg.dirs[ctrlFreezer], "freezer.state"))
				if c.cg.v2 != "" {
					b, _ = os.ReadFile(filepath.Join(c.cg.v2, "cgroup.events"))
				}
				if s := string(b); !strings.Contains(s, "FROZEN") && !strings.Contains(s, "frozen 1") {
					t.Fatalf("freezer state %q after Pause", s)
				}
			} else if st := procState(c.pgid); st != "T" {
				t.Fatalf("launcher state %q after Pause, want T (stopped)", st)
			}
			var resumed atomic.Bool
			done := make(chan error, 1)
			go func() {
				res, err := run(c, `{}`, 30*time.Second)
				if err == nil && !resumed.Load() {
					err = fmt.Errorf("the run completed while paused: %s", res.Body)
				}
				if err == nil && !strings.Contains(string(res.Body), `"n":2`) {
					err = fmt.Errorf("result %s", res.Body)
				}
				done <- err
			}()
			// Give a broken pause the chance to let the run finish first.
			select {
			case err := <-done:
				t.Fatalf("run finished on a paused container: %v", err)
			case <-time.After(300 * time.Millisecond):
			}
			resumed.Store(true)
			for range 2 {
				if err := c.Resume(ctx); err != nil {
					t.Fatalf("Resume: %v", err)
				}
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			// A paused container is destroyed completely.
			if err := c.Pause(ctx); err != nil {
				t.Fatal(err)
			}
			destroyAndCheck(t, c)
		})
	}
}

// destroyAndCheck destroys c and checks that no process, cgroup or working
// directory is left.
func destroyAndCheck(t *testing.T, c *Container) {
	t.Helper()
	var pids []int
	if c.cg != nil {
		pids = c.cg.procs()
	}
	pids = append(pids, c.pgid)
	dirs := []string{c.workdir}
	if c.cg != nil {
		dirs = append(dirs, c.cg.allDirs()...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Destroy(ctx); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if err := c.Destroy(ctx); err != nil {
		t.Fatalf("second Destroy: %v", err)
	}
	if left := alive(c.pgid, pids); len(left) > 0 {
		t.Errorf("processes left after Destroy: %v (%s)", left, describeProcs(left))
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after Destroy (%v)", d, err)
		}
	}
}

func TestMemoryLimitOOM(t *testing.T) {
	f := newFactory(t, nil)
	requireCgroup(t, f, ctrlMemory)
	c := create(t, f, "python:3.11", 128)
	initCode(t, c, `def main(args):
    chunks = []
    for i in range(512):
        chunks.append(bytearray(1 << 20))
    return {"allocated": len(chunks)}
`)
	_, err := run(c, `{}`, 30*time.Second)
	if !errors.Is(err, container.ErrOOM) {
		t.Fatalf("run allocating 512 MB with 128 MB: %v, want ErrOOM", err)
	}
	if err.Error() != "The action exhausted its memory and was aborted." {
		t.Errorf("message %q", err)
	}
	destroyAndCheck(t, c)
}

func TestForkBombContained(t *testing.T) {
	const limit = 64
	f := newFactory(t, func(c *Config) { c.PidsLimit = limit })
	requireCgroup(t, f, ctrlPids)
	c := create(t, f, "python:3.11", 256)
	initCode(t, c, `import os, time
def main(args):
    n, failed = 0, 0
    while n + failed < 1000:
        try:
            if os.fork() == 0:
                time.sleep(3600)
                os._exit(0)
            n += 1
        except OSError:
            failed += 1
    return {"forked": n, "failed": failed}
`)
	res, err := run(c, `{}`, 60*time.Second)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	m := decode(t, res.Body)
	forked, _ := strconv.Atoi(fmt.Sprint(m["forked"]))
	if forked >= limit || fmt.Sprint(m["failed"]) == "0" {
		t.Fatalf("fork bomb result %s: want fewer than %d forks and failures", res.Body, limit)
	}
	if n := len(c.cg.procs()); n < forked {
		t.Fatalf("cgroup has %d processes, forked %d", n, forked)
	}
	destroyAndCheck(t, c)
}

func TestTimeoutThenDestroy(t *testing.T) {
	f := newFactory(t, nil)
	c := create(t, f, "nodejs:20", 128)
	initCode(t, c, `function main() { require('child_process').spawn('sleep', ['3600'], {stdio: 'inherit'}); return new Promise(() => {}); }`)
	_, err := run(c, `{}`, 300*time.Millisecond)
	if !errors.Is(err, container.ErrTimeout) {
		t.Fatalf("run of a never-returning action: %v, want ErrTimeout", err)
	}
	// The logs do not wait forever for sentinels that never come.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, _, err := c.Logs(ctx, 1000, true); err == nil {
		t.Fatal("Logs waited for sentinels of a timed-out activation without error")
	}
	destroyAndCheck(t, c)
}

func TestProcessExit(t *testing.T) {
	f := newFactory(t, nil)
	c := create(t, f, "nodejs:20", 128)
	initCode(t, c, `function main() { console.log("bye"); process.exit(3); }`)
	_, err := run(c, `{}`, 10*time.Second)
	if !errors.Is(err, container.ErrExited) {
		t.Fatalf("run of an exiting action: %v, want ErrExited", err)
	}
	// Logs after the exit return what was written at the end of the
	// streams, without the sentinels (and not at the end of ctx).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lines, _, err := c.Logs(ctx, 1000, true)
	if !errors.Is(err, container.ErrLogsIncomplete) || ctx.Err() != nil || len(lines) != 1 || lines[0].Text != "bye" {
		t.Fatalf("Logs after exit: %v %v (ctx %v)", lines, err, ctx.Err())
	}
	destroyAndCheck(t, c)
}

func TestMegabytesOfLogs(t *testing.T) {
	const buffer = 1 << 20
	f := newFactory(t, func(c *Config) { c.LogBufferBytes = buffer })
	c := create(t, f, "python:3.11", 256)
	initCode(t, c, `import sys
def main(args):
    line = "x" * 1023 + "\n"
    for i in range(32 * 1024):
        sys.stdout.write(line)
    sys.stderr.write("y" * (3 << 20) + "\n")
    return {"done": True}
`)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, err := run(c, `{}`, 60*time.Second)
	if err != nil || res.Status != 200 {
		t.Fatalf("run printing 35 MB: %v %s", err, res.Body)
	}
	lines, truncated := logs(t, c, 10<<20)
	runtime.GC()
	runtime.ReadMemStats(&after)
	if !truncated {
		t.Error("35 MB of logs with a 1 MiB buffer: not truncated")
	}
	var total int
	for _, l := range lines {
		total += len(l) - len("stdout: ")
	}
	if total > buffer+64 || len(lines) == 0 {
		t.Errorf("collected %d bytes in %d lines, buffer is %d", total, len(lines), buffer)
	}
	if grow := int64(after.HeapAlloc) - int64(before.HeapAlloc); grow > 8*buffer {
		t.Errorf("heap grew by %d bytes for a %d-byte log buffer", grow, buffer)
	}
	// The container still works and its next activation's logs are whole.
	initOK, err := run(c, `{}`, 60*time.Second)
	if err != nil || initOK.Status != 200 {
		t.Fatalf("second run: %v", err)
	}
}

func TestCleanupRemovesLeftoversOfCrashedFactory(t *testing.T) {
	for _, mode := range []string{"cgroups", "signals"} {
		t.Run(mode, func(t *testing.T) {
			root := workRoot(t)
			name := "crash" + strconv.Itoa(os.Getpid()) + "_" + strconv.FormatInt(specSeq.Add(1), 10)
			mod := func(c *Config) {
				c.WorkRoot, c.Name, c.NoCgroups = root, name, mode == "signals"
			}
			crashed := newFactory(t, mod)
			if mode == "cgroups" && crashed.cg == nil {
				t.Skip("no writable cgroup here")
			}
			var victims []*Container
			for range 2 {
				c := create(t, crashed, "python:3.11", 128)
				initCode(t, c, `def main(a):
    import subprocess
    subprocess.Popen(["sleep", "3600"])
    return {}
`)
				if _, err := run(c, `{}`, 10*time.Second); err != nil {
					t.Fatal(err)
				}
				victims = append(victims, c)
			}
			var pids []int
			var dirs []string
			for _, c := range victims {
				pids = append(pids, c.pgid)
				if c.cg != nil {
					pids = append(pids, c.cg.procs()...)
					dirs = append(dirs, c.cg.allDirs()...)
				}
				dirs = append(dirs, c.workdir)
			}
			// A "crash": the new factory knows nothing of the old one.
			fresh := newFactory(t, mod)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := fresh.Cleanup(ctx); err != nil {
				t.Fatalf("Cleanup: %v", err)
			}
			for _, c := range victims {
				if left := alive(c.pgid, pids); len(left) > 0 {
					t.Errorf("processes left after Cleanup: %v (%s)", left, describeProcs(left))
				}
			}
			for _, d := range dirs {
				if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s left after Cleanup (%v)", d, err)
				}
			}
		})
	}
}

func TestCleanupAtShutdownDestroysLiveContainers(t *testing.T) {
	f := newFactory(t, nil)
	a := create(t, f, "nodejs:20", 128)
	b := create(t, f, "python:3.11", 128)
	if err := a.Pause(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := f.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Container{a, b} {
		if left := alive(c.pgid, []int{c.pgid}); len(left) > 0 {
			t.Errorf("processes left after Cleanup: %v (%s)", left, describeProcs(left))
		}
		if _, err := run(c, `{}`, time.Second); !errors.Is(err, container.ErrExited) {
			t.Errorf("run after Cleanup: %v, want ErrExited", err)
		}
	}
}

func TestInitErrors(t *testing.T) {
	f := newFactory(t, nil)
	for _, tc := range []struct {
		name, kind string
		req        container.InitRequest
		status     int
		contains   string
	}{
		{"no code", "nodejs:20", container.InitRequest{Main: "main"}, 403, "Missing main/no code to execute."},
		{"bad zip", "python:3.11", container.InitRequest{Main: "main", Code: "bm90IGEgemlw", Binary: true}, 502, "uncompressing"},
		{"syntax error", "nodejs:20", container.InitRequest{Main: "main", Code: "function main( {"}, 502, "error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := create(t, f, tc.kind, 128)
			_, err := c.Init(context.Background(), tc.req)
			var ie *container.InitError
			if !errors.As(err, &ie) || ie.Status != tc.status || !strings.Contains(string(ie.Body), tc.contains) {
				t.Fatalf("Init: %v, want InitError %d containing %q", err, tc.status, tc.contains)
			}
			// The failed init's logs end with the sentinels.
			if _, _, err := c.Logs(context.Background(), 1<<20, true); err != nil {
				t.Fatalf("Logs after failed init: %v", err)
			}
		})
	}
	c := create(t, f, "nodejs:20", 128)
	initCode(t, c, nodeHello)
	_, err := c.Init(context.Background(), container.InitRequest{Main: "main", Code: nodeHello})
	var ie *container.InitError
	if !errors.As(err, &ie) || ie.Status != 403 {
		t.Fatalf("second Init: %v, want 403", err)
	}
}

func TestCreateRejectsBadSpecs(t *testing.T) {
	f := newFactory(t, nil)
	for _, spec := range []container.Spec{
		{Name: "../escape", Kind: "nodejs:20"},
		{Name: "", Kind: "nodejs:20"},
		{Name: "ok1", Kind: "cobol:1"},
		{Name: "ok2", Kind: "blackbox", Image: "someone/image"},
		{Name: "ok3", Kind: "nodejs:20", Env: map[string]string{"A=B": "x"}},
	} {
		if c, err := f.Create(context.Background(), spec); !errors.Is(err, container.ErrProvision) {
			t.Errorf("Create(%+v) = %v, %v; want ErrProvision", spec, c, err)
		}
	}
	ents, _ := os.ReadDir(f.sandboxes)
	if len(ents) != 0 {
		t.Errorf("rejected specs left working directories: %v", ents)
	}
}

func TestNativeExecutable(t *testing.T) {
	f := newFactory(t, nil)
	spec := container.Spec{Name: "native" + strconv.FormatInt(specSeq.Add(1), 10), Kind: "blackbox", Native: true, MemoryMB: 128}
	cc, err := f.Create(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	c := cc.(*Container)
	defer c.Destroy(context.Background())
	initCode(t, c, "#!/bin/sh\necho log line\necho \"{\\\"args\\\": $1, \\\"uid\\\": $(id -u)}\"\n")
	res, err := run(c, `{"x":1}`, 10*time.Second)
	if err != nil || res.Status != 200 {
		t.Fatalf("run: %v %d %s", err, res.Status, res.Body)
	}
	m := decode(t, res.Body)
	if fmt.Sprint(m["args"]) != "map[x:1]" {
		t.Fatalf("result %s", res.Body)
	}
	if os.Geteuid() == 0 && fmt.Sprint(m["uid"]) != "65534" {
		t.Errorf("native action uid %v, want 65534", m["uid"])
	}
	lines, _ := logs(t, c, 1<<20)
	if strings.Join(lines, "|") != "stdout: log line" {
		t.Errorf("logs %q", lines)
	}
	destroyAndCheck(t, c)
}

func TestOwnUserPerContainer(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: cannot switch users")
	}
	f := newFactory(t, func(c *Config) { c.UIDBase, c.UIDCount = 231000, 2 })
	a := create(t, f, "python:3.11", 128)
	b := create(t, f, "python:3.11", 128)
	if _, err := f.Create(context.Background(), container.Spec{Name: "third", Kind: "python:3.11"}); !errors.Is(err, container.ErrProvision) {
		t.Fatalf("third container with 2 ids: %v, want ErrProvision", err)
	}
	probe := `import os, json
def main(args):
    out = {"uid": os.getuid()}
    for what, path in (("environ", "/proc/%d/environ" % args["pid"]), ("workdir", args["dir"])):
        try:
            if what == "workdir":
                os.listdir(path)
            else:
                open(path).read()
            out[what] = "readable"
        except Exception as e:
            out[what] = type(e).__name__
    return out
`
	initCode(t, a, probe)
	res, err := run(a, fmt.Sprintf(`{"pid":%d,"dir":%q}`, b.pgid, b.workdir), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m := decode(t, res.Body)
	if fmt.Sprint(m["uid"]) != "231000" || m["environ"] == "readable" || m["workdir"] == "readable" {
		t.Fatalf("container a: %s; want uid 231000 and no access to container b", res.Body)
	}
	if st, err := os.Stat(b.workdir); err != nil || st.Sys().(*syscall.Stat_t).Uid != 231001 {
		t.Fatalf("container b's working directory: %v %v", st, err)
	}
	// A destroyed container's id is free again.
	destroyAndCheck(t, a)
	c := create(t, f, "nodejs:20", 128)
	if c.cred.uid != 231000 {
		t.Fatalf("reused id %d, want 231000", c.cred.uid)
	}
}
