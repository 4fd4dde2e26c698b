package process

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// reaperHelperEnv asks the test binary to act as an invoker that is then
// SIGKILLed (see TestHelperReaperInvoker): "<mode>:<name>:<work root>".
const reaperHelperEnv = "GOWHISK_PROCESS_REAPER_HELPER"

// reapBound bounds the wait for the reaper's work (it normally takes
// milliseconds): a bound, not a timing assertion.
const reapBound = 10 * time.Second

// spawnSleep is an action that starts a `sleep 3600` that ignores SIGHUP
// (else the kernel's SIGHUP to an orphaned stopped process group would end
// it) and, when detached, runs in its own session (so that neither the
// launcher's parent-death signal nor its process group reaches it), and
// returns its pid.
func spawnSleep(detached bool) string {
	return fmt.Sprintf(`function main() {
  const c = require('child_process').spawn('nohup', ['sleep', '3600'], {detached: %v, stdio: 'ignore'});
  c.unref();
  // Wait until nohup ignores SIGHUP and runs sleep.
  const fs = require('fs');
  for (let i = 0; i < 1e6; i++) {
    try { if (fs.readFileSync('/proc/' + c.pid + '/comm', 'utf8').trim() === 'sleep') break; } catch (e) {}
  }
  return {pid: c.pid};
}`, detached)
}

// TestHelperReaperInvoker is not a test: run by TestReaperAfterInvokerSIGKILL
// in a child process, it creates a container whose action started a child
// process, pauses it unless the mode is "running", prints what the parent
// test checks and waits to be killed.
func TestHelperReaperInvoker(t *testing.T) {
	spec := os.Getenv(reaperHelperEnv)
	if spec == "" {
		t.Skip("helper process only")
	}
	parts := strings.SplitN(spec, ":", 3)
	if len(parts) != 3 {
		fmt.Println("error bad spec", spec)
		return
	}
	mode, name, root := parts[0], parts[1], parts[2]
	f, err := New(context.Background(), Config{WorkRoot: root, Name: name, CgroupParent: "gowhisk-test",
		NoCgroups: mode == "signals", Logger: testLogger(t)})
	if err != nil {
		fmt.Println("error", err)
		return
	}
	r := f.watchdog.current()
	if r == nil {
		fmt.Println("error no reaper")
		return
	}
	if mode != "signals" && f.cg == nil {
		fmt.Println("skip no writable cgroup here")
		return
	}
	fmt.Println("reaper", r.pid)
	for _, d := range f.parentDirs() {
		fmt.Println("dir", d)
	}
	c := create(t, f, "nodejs:20", 128)
	fmt.Println("pgid", c.pgid)
	if c.cg != nil {
		for _, d := range c.cg.allDirs() {
			fmt.Println("dir", d)
		}
	}
	initCode(t, c, spawnSleep(mode != "signals"))
	res, err := run(c, `{}`, 20*time.Second)
	if err != nil || res.Status != 200 {
		fmt.Println("error run", err, res.Status, string(res.Body))
		return
	}
	var out struct{ PID int }
	if err := json.Unmarshal(res.Body, &out); err != nil || out.PID <= 0 {
		fmt.Println("error result", string(res.Body))
		return
	}
	fmt.Println("child", out.PID)
	if mode != "running" {
		if err := c.Pause(context.Background()); err != nil {
			fmt.Println("error pause", err)
			return
		}
		if c.cg != nil {
			b, _ := os.ReadFile(filepath.Join(c.cg.dirs[ctrlFreezer], "freezer.state"))
			if c.cg.v2 != "" {
				b, _ = os.ReadFile(filepath.Join(c.cg.v2, "cgroup.events"))
			}
			fmt.Println("frozen", strings.Contains(string(b), "FROZEN") || strings.Contains(string(b), "frozen 1"))
		}
	}
	fmt.Println("ready")
	time.Sleep(time.Minute)
}

// helperReport is what TestHelperReaperInvoker printed.
type helperReport struct {
	reaper, pgid, child int
	frozen              string
	dirs                []string
	lines               []string
}

// TestReaperAfterInvokerSIGKILL: when the process owning a factory is
// SIGKILLed, with a paused (frozen, or SIGSTOPped without cgroups) or a
// running container whose action started a child process, the reaper kills
// the launcher and the child and removes the container's and the
// invoker's cgroups, without any later start of an invoker.
func TestReaperAfterInvokerSIGKILL(t *testing.T) {
	for _, mode := range []string{"paused", "running", "signals"} {
		t.Run(mode, func(t *testing.T) {
			root := workRoot(t)
			name := "reap" + strconv.Itoa(os.Getpid()) + "_" + strconv.FormatInt(specSeq.Add(1), 10)
			// Whatever the outcome, a fresh factory of the same name
			// removes what is left, the way a restarted invoker would.
			t.Cleanup(func() {
				f, err := New(context.Background(), Config{WorkRoot: root, Name: name, CgroupParent: "gowhisk-test",
					NoCgroups: mode == "signals", Logger: testLogger(t)})
				if err != nil {
					t.Errorf("New for the cleanup: %v", err)
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				if err := f.Cleanup(ctx); err != nil {
					t.Errorf("Cleanup: %v", err)
				}
				if err := f.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})

			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperReaperInvoker$", "-test.count=1")
			cmd.Env = append(os.Environ(), reaperHelperEnv+"="+mode+":"+name+":"+root)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waited := false
			defer func() {
				if !waited {
					_ = cmd.Process.Kill()
					_ = cmd.Wait()
				}
			}()
			rep := readHelper(t, out)
			if rep.frozen == "false" {
				t.Fatal("the container is not frozen after Pause")
			}
			reaper := identify(rep.reaper)
			if reaper.finished() {
				t.Fatalf("the reaper %d is not running", rep.reaper)
			}
			watched := []int{rep.pgid, rep.child}
			if left := alive(rep.pgid, watched); len(left) != len(watched) {
				t.Fatalf("running before the kill: %v of %v", left, watched)
			}
			if mode == "signals" {
				if st := procState(rep.child); st != "T" {
					t.Fatalf("the action's child is in state %q after Pause, want T (stopped)", st)
				}
			}

			// The invoker dies: none of its code runs any cleanup.
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			waited = true

			ctx, cancel := context.WithTimeout(context.Background(), reapBound)
			defer cancel()
			var left []int
			var dirs []string
			err = pollUntil(ctx, func() (bool, error) {
				left, dirs = alive(rep.pgid, watched), dirs[:0]
				for _, d := range rep.dirs {
					if exists(d) {
						dirs = append(dirs, d)
					}
				}
				return len(left) == 0 && len(dirs) == 0 && reaper.finished(), nil
			})
			if err != nil {
				t.Fatalf("%v after the invoker's death: processes %v (%s), cgroup directories %v, reaper finished %v",
					reapBound, left, describeProcs(left), dirs, reaper.finished())
			}
		})
	}
}

// readHelper reads the helper's report up to "ready" and fails the test on
// an error or an early end.
func readHelper(t *testing.T, out interface{ Read([]byte) (int, error) }) helperReport {
	t.Helper()
	var rep helperReport
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		rep.lines = append(rep.lines, line)
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "ready":
			if rep.reaper == 0 || rep.pgid == 0 || rep.child == 0 {
				t.Fatalf("incomplete helper report:\n%s", strings.Join(rep.lines, "\n"))
			}
			return rep
		case "skip":
			t.Skip(v)
		case "error":
			t.Fatalf("helper: %s", line)
		case "reaper":
			rep.reaper, _ = strconv.Atoi(v)
		case "pgid":
			rep.pgid, _ = strconv.Atoi(v)
		case "child":
			rep.child, _ = strconv.Atoi(v)
		case "frozen":
			rep.frozen = v
		case "dir":
			rep.dirs = append(rep.dirs, v)
		}
	}
	t.Fatalf("the helper invoker ended before it was ready:\n%s", strings.Join(rep.lines, "\n"))
	return rep
}

// TestReaperLifecycle: the reaper runs outside every sandbox cgroup in its
// own session, survives Destroy and Cleanup, and Close ends it (exit
// status 0: it read the quit line, nothing killed it) without touching
// the containers.
func TestReaperLifecycle(t *testing.T) {
	f := newFactory(t, nil)
	r := f.watchdog.current()
	if r == nil {
		t.Fatal("no reaper")
	}
	id := identify(r.pid)
	if sid, err := unix.Getsid(r.pid); err != nil || sid != r.pid {
		t.Errorf("reaper session %d (%v), want its own (%d)", sid, err, r.pid)
	}
	c := create(t, f, "nodejs:20", 128)
	initCode(t, c, `let n = 0; function main() { return {n: ++n}; }`)
	ctx := context.Background()
	if err := c.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if f.cg != nil {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(r.pid) + "/cgroup")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), f.cg.rel) {
			t.Errorf("the reaper is in a sandbox cgroup: %s", b)
		}
	}
	d := create(t, f, "python:3.11", 128)
	if err := d.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if id.finished() {
		t.Fatal("Destroy ended the reaper")
	}

	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-r.done:
	default:
		t.Fatal("Close returned before the reaper exited")
	}
	if r.err != nil {
		t.Errorf("reaper exit: %v, want status 0", r.err)
	}
	if !id.finished() {
		t.Error("the reaper runs after Close")
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// Close left the paused container alone.
	if err := c.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if res, err := run(c, `{}`, 20*time.Second); err != nil || res.Status != 200 {
		t.Fatalf("run after Close: %v %d %s", err, res.Status, res.Body)
	}

	// Cleanup does not end the reaper of another factory either.
	g := newFactory(t, nil)
	gid := identify(g.watchdog.current().pid)
	create(t, g, "nodejs:20", 128)
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := g.Cleanup(cctx); err != nil {
		t.Fatal(err)
	}
	if gid.finished() {
		t.Fatal("Cleanup ended the reaper")
	}
}

// ownerDies closes the owner's end of the reaper's pipe, as the kernel
// does when the owning process dies, and waits for the reaper's exit.
func ownerDies(t *testing.T, r *reaper) {
	t.Helper()
	if r == nil {
		t.Fatal("no reaper")
	}
	r.once.Do(func() { // Close does nothing more
		r.stopped.Store(true)
		_ = unix.Close(r.w)
	})
	select {
	case <-r.done:
	case <-time.After(reapBound):
		t.Fatalf("the reaper did not finish within %v", reapBound)
	}
	if r.err != nil {
		t.Errorf("reaper exit: %v", r.err)
	}
}

// TestReaperKeepsToItsFactory: a reaper kills and removes its own
// factory's sandboxes (paused and running) and never touches those of
// another invoker under the same cgroup parent.
func TestReaperKeepsToItsFactory(t *testing.T) {
	parent := "gowhisk-test-reap" + strconv.Itoa(os.Getpid()) + "_" + strconv.FormatInt(specSeq.Add(1), 10)
	withParent := func(c *Config) { c.CgroupParent = parent }
	a := newFactory(t, withParent)
	if a.cg == nil {
		t.Skip("no writable cgroup here")
	}
	b := newFactory(t, withParent)
	ctx := context.Background()

	var victims []*Container
	var pids []int
	var dirs []string
	for _, paused := range []bool{true, false} {
		c := create(t, a, "nodejs:20", 128)
		initCode(t, c, spawnSleep(true))
		res, err := run(c, `{}`, 20*time.Second)
		if err != nil || res.Status != 200 {
			t.Fatalf("run: %v %d %s", err, res.Status, res.Body)
		}
		var out struct{ PID int }
		if err := json.Unmarshal(res.Body, &out); err != nil || out.PID <= 0 {
			t.Fatalf("result %s", res.Body)
		}
		if paused {
			if err := c.Pause(ctx); err != nil {
				t.Fatal(err)
			}
		}
		victims = append(victims, c)
		pids = append(pids, c.pgid, out.PID)
		dirs = append(dirs, c.cg.allDirs()...)
	}
	dirs = append(dirs, a.parentDirs()...)
	other := create(t, b, "nodejs:20", 128)
	initCode(t, other, `function main() { return {ok: true}; }`)
	if err := other.Pause(ctx); err != nil {
		t.Fatal(err)
	}

	ownerDies(t, a.watchdog.current())

	if left := alive(victims[0].pgid, pids); len(left) > 0 {
		t.Errorf("processes left by the reaper: %v (%s)", left, describeProcs(left))
	}
	for _, d := range dirs {
		if exists(d) {
			t.Errorf("%s left by the reaper", d)
		}
	}
	if len(alive(other.pgid, []int{other.pgid})) == 0 {
		t.Fatal("the reaper killed another invoker's container")
	}
	for _, d := range append(other.cg.allDirs(), b.parentDirs()...) {
		if !exists(d) {
			t.Errorf("the reaper removed another invoker's %s", d)
		}
	}
	if err := other.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if res, err := run(other, `{}`, 20*time.Second); err != nil || res.Status != 200 {
		t.Fatalf("another invoker's container after the reaper: %v %d %s", err, res.Status, res.Body)
	}
}

// TestReaperCgroupV2: the reaper kills a frozen cgroup v2 sandbox (its
// cgroup.kill and cgroup.freeze path) and removes it and the parents.
func TestReaperCgroupV2(t *testing.T) {
	mount := ""
	for _, m := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		if exists(filepath.Join(m, "cgroup.controllers")) {
			mount = m
			break
		}
	}
	if mount == "" {
		t.Skip("no cgroup2 mount")
	}
	top := "gowhisk-test-reapv2_" + strconv.Itoa(os.Getpid())
	g, err := setupV2(mount, filepath.Join(top, "inv"), nil)
	if err != nil {
		t.Skipf("cgroup v2 not writable here: %v", err)
	}
	defer os.Remove(filepath.Join(mount, top)) // runs last
	defer os.Remove(g.v2dir)
	if !g.freeze {
		t.Skip("no cgroup.freeze")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := g.create(ctx, "c1", limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := c.remove(rctx); err != nil {
			t.Error(err)
		}
	}()
	cmd, waited := startSleepersIn(ctx, t, c)
	pids := c.procs()
	if err := c.setFrozen(ctx, true); err != nil {
		t.Fatal(err)
	}
	c.closeFreezer()

	r, err := startReaper(filepath.Join(t.TempDir(), "none"), 2, []string{g.v2dir})
	if err != nil {
		t.Fatal(err)
	}
	ownerDies(t, r)
	select {
	case <-waited:
	case <-ctx.Done():
		t.Fatal("the shell did not end")
	}
	if left := alive(cmd.Process.Pid, pids); len(left) > 0 {
		t.Errorf("processes left: %v", left)
	}
	for _, d := range []string{c.v2, g.v2dir, filepath.Join(mount, top)} {
		if exists(d) {
			t.Errorf("%s left", d)
		}
	}
}

// TestReaperWithoutCgroupsKillsRecordedGroups: without cgroups the reaper
// SIGKILLs (and SIGCONTs) the recorded process groups, here a stopped one,
// and ignores a record that is not a number.
func TestReaperWithoutCgroupsKillsRecordedGroups(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("/bin/sh", "-c", "sleep 3600 & sleep 3600")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	go func() { cmd.Wait(); close(waited) }()
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-waited
	}()
	pg := cmd.Process.Pid
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := pollUntil(ctx, func() (bool, error) { return len(groupMembers(pg)) >= 3, nil }); err != nil {
		t.Fatalf("process group members: %v", groupMembers(pg))
	}
	if err := syscall.Kill(-pg, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"c1": strconv.Itoa(pg), "junk": "1; echo x"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r, err := startReaper(dir, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	ownerDies(t, r)
	select {
	case <-waited:
	case <-ctx.Done():
		t.Fatal("the recorded group's leader did not end")
	}
	if err := pollUntil(ctx, func() (bool, error) { return len(groupMembers(pg)) == 0, nil }); err != nil {
		t.Fatalf("process group %d still has %v", pg, groupMembers(pg))
	}
}

// TestReaperRestarted: a reaper killed by someone is started again, and
// Close ends the new one.
func TestReaperRestarted(t *testing.T) {
	f := newFactory(t, nil)
	old := f.watchdog.current()
	if old == nil {
		t.Fatal("no reaper")
	}
	if err := syscall.Kill(old.pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), reapBound)
	defer cancel()
	var r *reaper
	if err := pollUntil(ctx, func() (bool, error) {
		r = f.watchdog.current()
		return r != nil && r != old, nil
	}); err != nil {
		t.Fatal("no new reaper after the first was killed")
	}
	id := identify(r.pid)
	if id.finished() {
		t.Fatal("the new reaper is not running")
	}
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !id.finished() || r.err != nil {
		t.Errorf("the new reaper after Close: finished %v, exit %v", id.finished(), r.err)
	}
}
