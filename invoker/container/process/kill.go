package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Killing what runs in a sandbox and making sure it has ended.

// killAll kills every process in the cgroup and waits (bounded by ctx)
// until it is empty and every process killed has ended (a process leaves
// the cgroup's list during its exit, possibly before it is a zombie). With
// a freezer it freezes first so that no process can fork while the others
// are killed, then thaws so the kills are delivered.
func (c *cgroup) killAll(ctx context.Context) error {
	var killed []procID
	seen := map[procID]bool{}
	note := func(pids []int) {
		for _, p := range pids {
			if id := identify(p); id.start != 0 && !seen[id] {
				seen[id] = true
				killed = append(killed, id)
			}
		}
	}
	if err := c.killAllOnce(ctx, note); err != nil {
		return err
	}
	if left, err := waitFinished(ctx, killed); err != nil {
		return fmt.Errorf("cgroup: processes %v killed but still running: %w", left, err)
	}
	return nil
}

// killAllOnce kills every process in the cgroup, passing their pids to
// note before the kill, and waits (bounded by ctx) until the cgroup is
// empty.
func (c *cgroup) killAllOnce(ctx context.Context, note func([]int)) error {
	if c.v2 != "" && c.g.kill {
		note(c.procs())
		if err := os.WriteFile(filepath.Join(c.v2, "cgroup.kill"), []byte("1"), 0); err == nil {
			return c.waitEmpty(ctx)
		}
	}
	for {
		pids := c.procs()
		if len(pids) == 0 {
			return nil
		}
		if c.g.freeze {
			_ = c.setFrozen(ctx, true)
		}
		pids = c.procs()
		note(pids)
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		if c.g.freeze {
			// Always thaw (even after a failed freeze): a frozen task
			// never receives its SIGKILL.
			tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			_ = c.setFrozen(tctx, false)
			cancel()
		}
		if err := c.waitEmptyBriefly(ctx); err == nil {
			return nil
		} else if ctx.Err() != nil {
			return fmt.Errorf("cgroup still has processes %v: %w", c.procs(), ctx.Err())
		}
	}
}

// waitEmpty waits (bounded by ctx) until the cgroup has no process.
func (c *cgroup) waitEmpty(ctx context.Context) error {
	return pollUntil(ctx, func() (bool, error) { return len(c.procs()) == 0, nil })
}

// waitEmptyBriefly waits up to 100 ms for the cgroup to empty.
func (c *cgroup) waitEmptyBriefly(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	return c.waitEmpty(ctx)
}

// remove kills what is left and removes the cgroup's directories.
func (c *cgroup) remove(ctx context.Context) error {
	var errs []error
	if len(c.procs()) > 0 {
		if err := c.killAll(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	c.closeFreezer()
	for _, d := range c.allDirs() {
		err := pollRmdir(ctx, d)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// pollRmdir removes a cgroup directory, retrying while the kernel still
// reports it busy (tasks that are exiting).
func pollRmdir(ctx context.Context, d string) error {
	var last error
	err := pollUntil(ctx, func() (bool, error) {
		last = syscall.Rmdir(d)
		if last == nil || errors.Is(last, syscall.ENOENT) {
			return true, nil
		}
		if errors.Is(last, syscall.EBUSY) {
			return false, nil
		}
		return false, last
	})
	if errors.Is(last, syscall.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("rmdir %s: %w", d, err)
	}
	return nil
}

// processState returns the state letter of a process from /proc ("" when
// it is gone).
func processState(pid int) string {
	st, _ := procStat(pid)
	return st
}

// procStat returns the state letter and the start time (clock ticks since
// boot) of a process from /proc/<pid>/stat ("" when it is gone).
func procStat(pid int) (state string, start uint64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+3 > len(s) {
		return "", 0
	}
	// After "(comm)": state ppid pgrp session tty_nr tpgid flags minflt
	// cminflt majflt cmajflt utime stime cutime cstime priority nice
	// num_threads itrealvalue starttime ...
	f := strings.Fields(s[i+1:])
	if len(f) > 19 {
		start, _ = strconv.ParseUint(f[19], 10, 64)
	}
	return s[i+2 : i+3], start
}

// procID identifies a process across pid reuse.
type procID struct {
	pid   int
	start uint64
}

func identify(pid int) procID {
	_, start := procStat(pid)
	return procID{pid, start}
}

// finished reports whether the process has ended: gone, a zombie (dead,
// not yet reaped) or its pid taken by another process.
func (p procID) finished() bool {
	st, start := procStat(p.pid)
	return st == "" || st == "Z" || st == "X" || start != p.start
}

// waitFinished waits (bounded by ctx) until every process of ids has
// ended, and returns those still running when ctx ends.
func waitFinished(ctx context.Context, ids []procID) ([]int, error) {
	var left []int
	err := pollUntil(ctx, func() (bool, error) {
		left = left[:0]
		for _, id := range ids {
			if !id.finished() {
				left = append(left, id.pid)
			}
		}
		return len(left) == 0, nil
	})
	return left, err
}
