package process

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The reaper: nothing frozen (or running) is left behind when the process
// that owns a Factory dies, however it dies.
//
// A launcher has a parent-death signal, but a frozen process acts on no
// signal (cgroup v1 freezer), and the processes an action starts have no
// parent-death signal at all. So New starts one small watchdog process per
// factory: /bin/sh running reaperScript, blocked reading the read end of a
// pipe whose write end only the factory's process holds (close-on-exec, so
// no launcher inherits it). When that process ends by any means, SIGKILL
// included, the kernel closes the write end and the read sees end of file:
// the watchdog then thaws, kills and removes every sandbox cgroup under the
// factory's own parent directories (<CgroupParent>/<Name> in each
// hierarchy, nothing above or beside them), removes those parent
// directories when empty, and, without cgroups, SIGKILLs and SIGCONTs the
// process groups recorded in the factory's pgids directory. Close tells it
// to exit without doing anything.
//
// Why a shell and not a re-execution of the invoker's own binary in a
// helper mode: the package cannot make every binary that uses it (gowhisk,
// but also any test binary that creates a factory) call a helper-mode hook
// first, and a binary without the hook, re-executed, would run its whole
// program again (a test binary: all its tests, each starting factories and
// watchdogs). /bin/sh is on every host the process sandbox targets; the
// script is fixed text (paths are passed as arguments, never interpolated)
// and uses only shell builtins plus rmdir and sleep; it takes under 2 MB
// of memory (dash) instead of a Go runtime's.
//
// The watchdog runs in its own session (no terminal signal reaches it, nor
// a kill of the invoker's process group) and in the invoker's cgroups,
// never in a sandbox cgroup or process group, so neither Destroy nor
// Cleanup ever signals it. If it exits on its own (killed by someone), the
// factory starts another one.
//
// Limits: a kill of every process of the invoker's own cgroup (a service
// manager stopping it) kills the watchdog too, and then the next start of
// an invoker of the same Name cleans up, as before; working directories
// are left to that Cleanup as well; and the watchdog lists the sandbox
// cgroups once, when its owner dies, so an invoker of the same Name that
// starts within the few milliseconds of the reaping and creates a sandbox
// of the same name could lose it.

// reaperShell runs reaperScript.
const reaperShell = "/bin/sh"

// reaperQuit is the line Close writes: exit without reaping.
const reaperQuit = "quit"

// reaperScript is the watchdog, read by the shell from fd 4. fd 3: the
// read end of the pipe. $1: the
// directory of the process group records; $2: how many directory levels,
// from each parent up, belong to the factory (<CgroupParent>/<Name>); then
// the factory's parent cgroup directories (one per hierarchy).
//
// At end of file it takes the list of the sandbox cgroups once (names are
// the factory's container names: letters, digits, '_', '-', '.') and then,
// in rounds until each is gone (at most about 10 s): freezes it (no fork
// while its processes are killed), SIGKILLs every process in it (or writes
// cgroup.kill), thaws it so that the kills are delivered, and removes its
// directories.
const reaperScript = `
while IFS= read -r line <&3; do
	[ "$line" = ` + reaperQuit + ` ] && exit 0
done
[ "$line" = ` + reaperQuit + ` ] && exit 0
exec 3<&-
pgids=$1 depth=$2
shift 2

for f in "$pgids"/*; do
	[ -f "$f" ] || continue
	g=
	read -r g <"$f"
	case $g in '' | *[!0-9]*) continue ;; esac
	[ "$g" -gt 1 ] || continue
	kill -KILL "-$g"
	kill -CONT "-$g"
done

names=
for a; do
	for d in "$a"/*/; do
		[ -d "$d" ] || continue
		c=${d%/}
		c=${c##*/}
		case $c in .* | *[!A-Za-z0-9_.-]*) continue ;; esac
		case " $names " in *" $c "*) ;; *) names="$names $c" ;; esac
	done
done

# reap NAME PARENT...: one round for the sandbox cgroup NAME; true once its
# directories are gone.
reap() {
	c=$1
	shift
	for a; do
		d=$a/$c
		[ -d "$d" ] || continue
		[ -f "$d/freezer.state" ] && echo FROZEN >"$d/freezer.state"
		[ -f "$d/cgroup.freeze" ] && echo 1 >"$d/cgroup.freeze"
		[ -f "$d/cgroup.kill" ] && echo 1 >"$d/cgroup.kill"
	done
	for a; do
		d=$a/$c
		[ -f "$d/cgroup.procs" ] || continue
		while read -r p; do
			[ "$p" = "$$" ] || kill -KILL "$p"
		done <"$d/cgroup.procs"
	done
	for a; do
		d=$a/$c
		[ -f "$d/freezer.state" ] && echo THAWED >"$d/freezer.state"
		[ -f "$d/cgroup.freeze" ] && echo 0 >"$d/cgroup.freeze"
	done
	left=
	for a; do
		d=$a/$c
		[ -d "$d" ] || continue
		rmdir "$d" || left=1
	done
	[ -z "$left" ]
}

round=0
while [ -n "$names" ] && [ "$round" -lt 400 ]; do
	rest=
	for c in $names; do
		reap "$c" "$@" || rest="$rest $c"
	done
	names=$rest
	[ -n "$names" ] || break
	round=$((round + 1))
	sleep 0.02 || sleep 1
done

for a; do
	k=0
	p=$a
	while [ "$k" -lt "$depth" ] && rmdir "$p"; do
		p=${p%/*}
		k=$((k + 1))
	done
done
`

// reaper is a factory's running watchdog.
type reaper struct {
	pid int
	// w is the write end of the pipe, a bare descriptor on purpose: an
	// *os.File's finalizer would close it when a factory is dropped
	// without Close, and the watchdog would then reap while its owner
	// still runs (possibly with a new factory of the same Name).
	w    int
	done chan struct{} // closed once the watchdog exited and was waited for
	err  error         // its exit, set before done is closed

	once     sync.Once
	closeErr error
	stopped  atomic.Bool // stop was called: its exit is expected
}

// reaperCloseTimeout bounds Close's wait for the watchdog's exit.
const reaperCloseTimeout = 5 * time.Second

// startReaper starts the watchdog of a factory whose sandbox cgroups are
// the children of parents (their last depth path elements are the
// factory's own) and whose process group records are in pgids.
func startReaper(pgids string, depth int, parents []string) (*reaper, error) {
	// The script is read from a memory file (fd 4) rather than given with
	// -c, so that ps shows "gowhisk-reaper <what it watches>".
	mfd, err := unix.MemfdCreate("gowhisk-reaper", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("reaper script: %w", err)
	}
	script := os.NewFile(uintptr(mfd), "gowhisk-reaper")
	defer script.Close()
	if _, err := script.WriteString(reaperScript); err != nil {
		return nil, fmt.Errorf("reaper script: %w", err)
	}
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("reaper pipe: %w", err)
	}
	rd := os.NewFile(uintptr(fds[0]), "reaper-pipe")
	defer rd.Close()
	cmd := &exec.Cmd{
		Path: reaperShell,
		Args: append([]string{"gowhisk-reaper", "/proc/self/fd/4", pgids, strconv.Itoa(depth)}, parents...),
		Dir:  "/",
		Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"},
		// fd 3: the pipe; fd 4: the script.
		ExtraFiles: []*os.File{rd, script},
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		_ = unix.Close(fds[1])
		return nil, fmt.Errorf("reaper: %w", err)
	}
	r := &reaper{pid: cmd.Process.Pid, w: fds[1], done: make(chan struct{})}
	go func() {
		r.err = cmd.Wait()
		close(r.done)
	}()
	return r, nil
}

// stop tells the watchdog to exit without reaping and waits (bounded) for
// its exit; past the bound it is killed. Later calls return the first
// call's result.
func (r *reaper) stop() error {
	r.once.Do(func() {
		r.stopped.Store(true)
		_, werr := unix.Write(r.w, []byte(reaperQuit+"\n"))
		_ = unix.Close(r.w)
		t := time.NewTimer(reaperCloseTimeout)
		defer t.Stop()
		select {
		case <-r.done:
		case <-t.C:
			_ = syscall.Kill(r.pid, syscall.SIGKILL)
			<-r.done
			r.closeErr = fmt.Errorf("process sandbox: reaper %d did not exit within %v; killed", r.pid, reaperCloseTimeout)
			return
		}
		if werr != nil {
			r.closeErr = fmt.Errorf("process sandbox: telling the reaper to exit: %w", werr)
		} else if r.err != nil {
			r.closeErr = fmt.Errorf("process sandbox: reaper: %w", r.err)
		}
	})
	return r.closeErr
}

// reaperArgs returns what the factory's watchdog watches: its parent
// cgroup directories (one per hierarchy in use, none without cgroups) and
// how many trailing elements of each are the factory's own.
func (f *Factory) reaperArgs() (depth int, parents []string) {
	if f.cg == nil {
		return 0, nil
	}
	for _, c := range v1Controllers {
		if d, ok := f.cg.parents[c]; ok && !slices.Contains(parents, d) {
			parents = append(parents, d)
		}
	}
	if f.cg.v2 && !slices.Contains(parents, f.cg.v2dir) {
		parents = append(parents, f.cg.v2dir)
	}
	return len(strings.Split(filepath.Clean(f.cg.rel), string(filepath.Separator))), parents
}

// reaperRestartDelay spaces the restarts of a reaper that exited on its
// own.
const reaperRestartDelay = time.Second

// watchdog keeps one reaper running for a factory until Close: a reaper
// that exits unexpectedly (killed by someone) is started again.
type watchdog struct {
	f    *Factory
	quit chan struct{} // closed by Close

	mu     sync.Mutex
	cur    *reaper // nil: none running
	closed bool
}

// startReaper starts the factory's watchdog; without a reaper (no
// /bin/sh) the factory works and says what is not guaranteed.
func (f *Factory) startReaper() {
	w := &watchdog{f: f, quit: make(chan struct{})}
	f.watchdog = w
	w.mu.Lock()
	defer w.mu.Unlock()
	w.startLocked()
}

// startLocked starts a reaper and its supervision; w.mu is held.
func (w *watchdog) startLocked() {
	depth, parents := w.f.reaperArgs()
	r, err := startReaper(w.f.pgids, depth, parents)
	if err != nil {
		w.f.log.Warn("process sandbox: no reaper; if this process is killed, its paused sandboxes stay frozen until the next start of an invoker of the same name", "err", err)
		return
	}
	w.cur = r
	go w.supervise(r)
}

// supervise starts another reaper when r exits without being stopped.
func (w *watchdog) supervise(r *reaper) {
	<-r.done
	if r.stopped.Load() {
		return
	}
	w.f.log.Warn("process sandbox: the reaper exited; starting another", "pid", r.pid, "err", r.err)
	t := time.NewTimer(reaperRestartDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-w.quit:
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.cur != r {
		return
	}
	w.cur = nil
	w.startLocked()
}

// current returns the running reaper (nil when none).
func (w *watchdog) current() *reaper {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cur
}

// Close ends the factory's reaper, the watchdog that kills and removes the
// factory's sandboxes when its process dies, and leaves the containers as
// they are: call Cleanup first. Without Close, the reaper acts when the
// process exits (finding nothing after a Cleanup). Later calls return the
// first call's result; the factory must not be used after Close.
func (f *Factory) Close() error {
	w := f.watchdog
	if w == nil {
		return nil
	}
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.quit)
	}
	r := w.cur
	w.mu.Unlock()
	if r == nil {
		return nil
	}
	return r.stop()
}
