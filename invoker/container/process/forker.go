package process

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// forker is a goroutine locked to its own OS thread that starts a
// container's launcher. A forked child inherits the cgroups and the
// parent-death signal binding of the thread that forked it, so:
//
//   - with cgroup v1 the thread joins the container's memory, pids and cpu
//     cgroups (per-thread membership is allowed in v1) just for the fork,
//     and goes back to its own cgroups right after: the launcher is limited
//     from its first instruction. The thread never joins the freezer cgroup
//     (a frozen Go thread could stall the runtime); the launcher is moved
//     there right after its ready ack, before any action code runs.
//   - the launcher's parent-death signal (SIGKILL) fires when this thread
//     ends, which is when the container is destroyed or the invoker dies:
//     the thread stays parked for the container's lifetime.
//
// The goroutine never unlocks its thread, so the Go runtime terminates the
// thread when stop ends the goroutine; the thread is never reused for
// other goroutines (nor are goroutines ever run on a thread left in a
// sandbox cgroup).
type forker struct {
	reqs chan func()
	quit chan struct{}
	done chan struct{}
	once sync.Once
}

var errForkerStopped = errors.New("process sandbox: container destroyed")

// startForker starts the thread.
func startForker() *forker {
	f := &forker{reqs: make(chan func()), quit: make(chan struct{}), done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		defer close(f.done)
		close(ready)
		for {
			select {
			case fn := <-f.reqs:
				fn()
			case <-f.quit:
				return
			}
		}
	}()
	<-ready
	return f
}

// do runs fn on the forker's thread and waits for it.
func (f *forker) do(fn func()) error {
	finished := make(chan struct{})
	select {
	case f.reqs <- func() { defer close(finished); fn() }:
		<-finished
		return nil
	case <-f.done:
		return errForkerStopped
	}
}

// stop ends the goroutine (after a call in progress returns) and with it
// the thread. It does not wait.
func (f *forker) stop() {
	f.once.Do(func() { close(f.quit) })
}

// enterThread moves one thread of the invoker into the cgroup's v1
// memory, pids and cpu directories (not the freezer) and returns a
// function that moves it back where it was.
func (c *cgroup) enterThread(tid int) (leave func() error, err error) {
	origin := threadCgroups(tid)
	var moved []string
	leave = func() error {
		var errs []error
		for _, ctrl := range moved {
			back := filepath.Join(c.g.mounts[ctrl], origin[ctrl], "tasks")
			if err := os.WriteFile(back, []byte(strconv.Itoa(tid)), 0); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	for _, ctrl := range []string{ctrlMemory, ctrlPids, ctrlCPU} {
		d, ok := c.dirs[ctrl]
		if !ok {
			continue
		}
		if _, ok := origin[ctrl]; !ok {
			_ = leave()
			return nil, fmt.Errorf("thread %d: no %s cgroup in /proc", tid, ctrl)
		}
		if err := os.WriteFile(filepath.Join(d, "tasks"), []byte(strconv.Itoa(tid)), 0); err != nil {
			_ = leave()
			return nil, err
		}
		moved = append(moved, ctrl)
	}
	return leave, nil
}

// threadCgroups reads the v1 cgroup paths of a thread of this process
// (controller -> path relative to its hierarchy's root).
func threadCgroups(tid int) map[string]string {
	b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/cgroup")
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || parts[1] == "" {
			continue
		}
		for _, ctrl := range strings.Split(parts[1], ",") {
			out[ctrl] = parts[2]
		}
	}
	return out
}
