package process

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The controllers a sandbox cgroup uses.
const (
	ctrlMemory  = "memory"
	ctrlPids    = "pids"
	ctrlCPU     = "cpu"
	ctrlFreezer = "freezer"
)

var v1Controllers = []string{ctrlMemory, ctrlPids, ctrlCPU, ctrlFreezer}

// limits are the resource limits of one sandbox cgroup.
type limits struct {
	MemoryBytes int64 // 0 = none
	Pids        int   // 0 = none
	CPUShares   int   // 0 = kernel default
}

// cgroups is what New detected: a cgroup v2 subtree with the controllers
// enabled, or cgroup v1 hierarchies (one per controller), each rooted at
// <mount>/<CgroupParent>/<Name>. A nil *cgroups means no cgroup is usable.
type cgroups struct {
	v2 bool
	// v1: controller -> parent directory of this invoker's sandboxes; only
	// controllers whose directory could be created are present.
	// v2: every enabled controller maps to the same parent directory.
	parents map[string]string
	mounts  map[string]string // v1: controller -> hierarchy mount
	v2dir   string            // v2 parent directory
	v2mount string            // v2 hierarchy mount
	v2ctrls []string          // v2: the controllers enabled down to v2dir
	rel     string            // <CgroupParent>/<Name>, relative to each mount
	memsw   bool              // v1 memory.memsw.limit_in_bytes exists (swap accounting)
	freeze  bool              // a freezer is available (v1 freezer or v2 cgroup.freeze)
	kill    bool              // v2 cgroup.kill exists
}

// has reports whether a controller is enforced.
func (g *cgroups) has(ctrl string) bool {
	if g == nil {
		return false
	}
	if ctrl == ctrlFreezer {
		return g.freeze
	}
	_, ok := g.parents[ctrl]
	return ok
}

// describe says what is enforced, for the startup log.
func (g *cgroups) describe() string {
	if g == nil {
		return "none"
	}
	var on []string
	for _, c := range v1Controllers {
		if g.has(c) {
			on = append(on, c)
		}
	}
	v := "v1"
	if g.v2 {
		v = "v2"
	}
	return v + " " + strings.Join(on, ",")
}

// detectCgroups finds a usable cgroup setup under root (normally
// /sys/fs/cgroup): cgroup v2 when memory and pids can be enabled for the
// subtree, else the writable v1 controllers. It creates the invoker's parent
// directories. It returns nil when nothing is writable, with the reasons.
func detectCgroups(root, parent, name string) (*cgroups, []string) {
	var why []string
	rel := filepath.Join(parent, name)
	if g, err := detectV2(root, rel); err == nil {
		return g, nil
	} else {
		why = append(why, "cgroup v2: "+err.Error())
	}
	g := &cgroups{parents: map[string]string{}, mounts: map[string]string{}, rel: rel}
	for _, c := range v1Controllers {
		mount := filepath.Join(root, c)
		if !isCgroupV1Mount(mount, c) {
			why = append(why, "cgroup v1 "+c+": not mounted at "+mount)
			continue
		}
		dir := filepath.Join(mount, rel)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			why = append(why, "cgroup v1 "+c+": "+err.Error())
			continue
		}
		g.parents[c] = dir
		g.mounts[c] = mount
	}
	if len(g.parents) == 0 {
		return nil, why
	}
	if d, ok := g.parents[ctrlMemory]; ok {
		g.memsw = exists(filepath.Join(d, "memory.memsw.limit_in_bytes"))
	}
	if d, ok := g.parents[ctrlFreezer]; ok {
		g.freeze = d != ""
	}
	return g, why
}

// isCgroupV1Mount reports whether dir looks like the v1 hierarchy of ctrl.
func isCgroupV1Mount(dir, ctrl string) bool {
	switch ctrl {
	case ctrlMemory:
		return exists(filepath.Join(dir, "memory.limit_in_bytes"))
	case ctrlCPU:
		return exists(filepath.Join(dir, "cpu.shares"))
	}
	// pids and freezer have no files in the root cgroup: rely on procs and
	// the absence of the v2 marker.
	return exists(filepath.Join(dir, "cgroup.procs")) && !exists(filepath.Join(dir, "cgroup.controllers"))
}

// detectV2 finds the cgroup2 mount (root itself or root/unified), enables
// memory, pids (and cpu when present) down to root/rel and returns the
// setup. It fails when memory or pids is not available.
func detectV2(root, rel string) (*cgroups, error) {
	mount := root
	if !exists(filepath.Join(mount, "cgroup.controllers")) {
		mount = filepath.Join(root, "unified")
		if !exists(filepath.Join(mount, "cgroup.controllers")) {
			return nil, errors.New("not mounted")
		}
	}
	avail, err := os.ReadFile(filepath.Join(mount, "cgroup.controllers"))
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, c := range strings.Fields(string(avail)) {
		have[c] = true
	}
	if !have[ctrlMemory] || !have[ctrlPids] {
		return nil, fmt.Errorf("memory and pids controllers not available at %s (have %q)", mount, strings.TrimSpace(string(avail)))
	}
	want := []string{ctrlMemory, ctrlPids}
	if have[ctrlCPU] {
		want = append(want, ctrlCPU)
	}
	return setupV2(mount, rel, want)
}

// setupV2 creates mount/rel and enables want in the subtree_control of
// every directory from mount down to mount/rel.
func setupV2(mount, rel string, want []string) (*cgroups, error) {
	dir := filepath.Join(mount, rel)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if len(want) > 0 {
		enable := "+" + strings.Join(want, " +")
		cur := mount
		parts := strings.Split(filepath.Clean(rel), string(filepath.Separator))
		for i := 0; i <= len(parts); i++ {
			if err := os.WriteFile(filepath.Join(cur, "cgroup.subtree_control"), []byte(enable), 0); err != nil {
				return nil, fmt.Errorf("enable %s in %s: %w", enable, cur, err)
			}
			if i < len(parts) {
				cur = filepath.Join(cur, parts[i])
			}
		}
	}
	g := &cgroups{v2: true, v2dir: dir, v2mount: mount, v2ctrls: want, rel: rel, parents: map[string]string{}}
	for _, c := range want {
		g.parents[c] = dir
	}
	g.freeze = exists(filepath.Join(dir, "cgroup.freeze"))
	g.kill = exists(filepath.Join(dir, "cgroup.kill"))
	return g, nil
}

// cgroup is one sandbox's cgroup (one directory per v1 controller, or one
// v2 directory).
type cgroup struct {
	g    *cgroups
	dirs map[string]string // controller -> directory (v2: all the same)
	v2   string            // v2 directory

	// The freezer's state file (v1 freezer.state, v2 cgroup.freeze), open
	// from the first pause until remove: a pause or resume is then a write
	// and a read at offset 0, without walking the cgroup path each time.
	fzMu     sync.Mutex
	fz       *os.File
	fzEvents *os.File // v2 cgroup.events
}

// open returns the cgroup of sandbox name without creating it.
func (g *cgroups) open(name string) *cgroup {
	c := &cgroup{g: g, dirs: map[string]string{}}
	if g.v2 {
		c.v2 = filepath.Join(g.v2dir, name)
	}
	for ctrl, p := range g.parents {
		c.dirs[ctrl] = filepath.Join(p, name)
	}
	return c
}

// create makes the cgroup of sandbox name with lim. A leftover directory of
// the same name is emptied and reused. The invoker's parent directories are
// made again if a Cleanup removed them.
func (g *cgroups) create(ctx context.Context, name string, lim limits) (*cgroup, error) {
	c := g.open(name)
	for _, d := range c.allDirs() {
		err := os.Mkdir(d, 0o755)
		for try := 0; errors.Is(err, os.ErrNotExist) && try < 3; try++ {
			if perr := g.makeParents(); perr != nil {
				err = perr
				break
			}
			err = os.Mkdir(d, 0o755) // a Cleanup may have removed them again
		}
		if err != nil {
			if !errors.Is(err, os.ErrExist) {
				c.remove(ctx)
				return nil, err
			}
			// A leftover (crash without Cleanup): kill what is in it.
			_ = c.killAll(ctx)
		}
	}
	if err := c.setLimits(lim); err != nil {
		c.remove(ctx)
		return nil, err
	}
	return c, nil
}

// allDirs lists the distinct directories of the cgroup.
func (c *cgroup) allDirs() []string {
	if c.v2 != "" {
		return []string{c.v2}
	}
	out := make([]string, 0, len(c.dirs))
	for _, ctrl := range v1Controllers {
		if d, ok := c.dirs[ctrl]; ok {
			out = append(out, d)
		}
	}
	return out
}

func (c *cgroup) setLimits(lim limits) error {
	w := func(ctrl, file, val string) error {
		d, ok := c.dirs[ctrl]
		if !ok {
			return nil
		}
		if err := os.WriteFile(filepath.Join(d, file), []byte(val), 0); err != nil {
			return fmt.Errorf("cgroup %s: %w", file, err)
		}
		return nil
	}
	if c.v2 != "" {
		if lim.MemoryBytes > 0 {
			if err := w(ctrlMemory, "memory.max", strconv.FormatInt(lim.MemoryBytes, 10)); err != nil {
				return err
			}
			if exists(filepath.Join(c.v2, "memory.swap.max")) {
				if err := w(ctrlMemory, "memory.swap.max", "0"); err != nil {
					return err
				}
			}
		}
		if lim.Pids > 0 {
			if err := w(ctrlPids, "pids.max", strconv.Itoa(lim.Pids)); err != nil {
				return err
			}
		}
		if lim.CPUShares > 0 {
			if err := w(ctrlCPU, "cpu.weight", strconv.Itoa(sharesToWeight(lim.CPUShares))); err != nil {
				return err
			}
		}
		return nil
	}
	if lim.MemoryBytes > 0 {
		v := strconv.FormatInt(lim.MemoryBytes, 10)
		if err := w(ctrlMemory, "memory.limit_in_bytes", v); err != nil {
			return err
		}
		if c.g.memsw {
			if err := w(ctrlMemory, "memory.memsw.limit_in_bytes", v); err != nil {
				return err
			}
		}
	}
	if lim.Pids > 0 {
		if err := w(ctrlPids, "pids.max", strconv.Itoa(lim.Pids)); err != nil {
			return err
		}
	}
	if lim.CPUShares > 0 {
		if err := w(ctrlCPU, "cpu.shares", strconv.Itoa(max(lim.CPUShares, 2))); err != nil {
			return err
		}
	}
	return nil
}

// sharesToWeight converts cgroup v1 cpu shares [2, 262144] to a v2
// cpu.weight [1, 10000] (the conversion runc uses).
func sharesToWeight(shares int) int {
	shares = min(max(shares, 2), 262144)
	return 1 + ((shares-2)*9999)/262142
}

// enter moves pid (its whole thread group) into the cgroup.
func (c *cgroup) enter(pid int) error {
	for _, d := range c.allDirs() {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("cgroup join %s: %w", d, err)
		}
	}
	return nil
}

// openFD opens the v2 directory for clone(CLONE_INTO_CGROUP).
func (c *cgroup) openFD() (*os.File, error) {
	if c.v2 == "" {
		return nil, errors.New("not cgroup v2")
	}
	return os.OpenFile(c.v2, os.O_RDONLY|syscall.O_DIRECTORY, 0)
}

// procs lists the processes in the cgroup (union over its directories).
func (c *cgroup) procs() []int {
	seen := map[int]bool{}
	self := os.Getpid()
	var out []int
	for _, d := range c.allDirs() {
		b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			// The invoker itself is never a member (its forker thread
			// visits a v1 cgroup only while forking), but never risk
			// signalling or moving it.
			if p, err := strconv.Atoi(f); err == nil && p > 0 && p != self && !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// setFrozen freezes or thaws the cgroup and waits (bounded by ctx) until
// the kernel reports the new state. Without a freezer it returns
// errNoFreezer.
func (c *cgroup) setFrozen(ctx context.Context, frozen bool) error {
	if !c.g.freeze {
		return errNoFreezer
	}
	c.fzMu.Lock()
	defer c.fzMu.Unlock()
	if err := c.openFreezer(); err != nil {
		return err
	}
	if c.v2 != "" {
		v := "0"
		if frozen {
			v = "1"
		}
		if _, err := c.fz.WriteAt([]byte(v), 0); err != nil {
			return fmt.Errorf("cgroup.freeze: %w", err)
		}
		want := []byte("frozen " + v)
		buf := make([]byte, 256)
		return pollUntil(ctx, func() (bool, error) {
			n, err := c.fzEvents.ReadAt(buf, 0)
			if err != nil && !errors.Is(err, io.EOF) {
				return false, err
			}
			return bytes.Contains(buf[:n], want), nil
		})
	}
	state := "THAWED"
	if frozen {
		state = "FROZEN"
	}
	if _, err := c.fz.WriteAt([]byte(state), 0); err != nil {
		return fmt.Errorf("freezer.state: %w", err)
	}
	written := time.Now()
	buf := make([]byte, 64)
	return pollUntil(ctx, func() (bool, error) {
		n, err := c.fz.ReadAt(buf, 0)
		if err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
		if string(bytes.TrimSpace(buf[:n])) == state {
			return true, nil
		}
		// A freeze can stall on a task in an uninterruptible sleep:
		// asking again now and then retries it (a write costs ~0.1 ms,
		// so not on every poll).
		if frozen && time.Since(written) > 10*time.Millisecond {
			_, _ = c.fz.WriteAt([]byte(state), 0)
			written = time.Now()
		}
		return false, nil
	})
}

// openFreezer opens the freezer's files once; c.fzMu is held.
func (c *cgroup) openFreezer() error {
	if c.fz != nil {
		return nil
	}
	if c.v2 != "" {
		f, err := os.OpenFile(filepath.Join(c.v2, "cgroup.freeze"), os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("cgroup.freeze: %w", err)
		}
		ev, err := os.Open(filepath.Join(c.v2, "cgroup.events"))
		if err != nil {
			f.Close()
			return fmt.Errorf("cgroup.events: %w", err)
		}
		c.fz, c.fzEvents = f, ev
		return nil
	}
	f, err := os.OpenFile(filepath.Join(c.dirs[ctrlFreezer], "freezer.state"), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("freezer.state: %w", err)
	}
	c.fz = f
	return nil
}

// closeFreezer closes the freezer's files (they are opened again when
// needed).
func (c *cgroup) closeFreezer() {
	c.fzMu.Lock()
	defer c.fzMu.Unlock()
	for _, f := range []*os.File{c.fz, c.fzEvents} {
		if f != nil {
			f.Close()
		}
	}
	c.fz, c.fzEvents = nil, nil
}

var errNoFreezer = errors.New("no cgroup freezer")

// pollUntil calls done until it reports true: for the first half
// millisecond without sleeping (a freeze normally completes within tens of
// microseconds and a timer sleep costs more than that), then backing off
// up to a millisecond.
func pollUntil(ctx context.Context, done func() (bool, error)) error {
	start := time.Now()
	wait := 50 * time.Microsecond
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Since(start) < 500*time.Microsecond {
			runtime.Gosched()
			continue
		}
		time.Sleep(wait)
		wait = min(wait*2, time.Millisecond)
	}
}

// oomKills returns how many processes of the cgroup the kernel's OOM
// killer ended (v1 memory.oom_control "oom_kill", v2 memory.events
// "oom_kill"); 0 when unknown.
func (c *cgroup) oomKills() int {
	var file string
	if c.v2 != "" {
		if _, ok := c.dirs[ctrlMemory]; !ok {
			return 0
		}
		file = filepath.Join(c.v2, "memory.events")
	} else if d, ok := c.dirs[ctrlMemory]; ok {
		file = filepath.Join(d, "memory.oom_control")
	} else {
		return 0
	}
	return readKeyed(file, "oom_kill")
}

// readKeyed reads the value of key in a "key value" per line file.
func readKeyed(file, key string) int {
	f, err := os.Open(file)
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), " ")
		if ok && k == key {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// makeParents creates the invoker's parent directories (again): for cgroup
// v2 with the controllers enabled on the way down, as New did.
func (g *cgroups) makeParents() error {
	if g.v2 {
		_, err := setupV2(g.v2mount, g.rel, g.v2ctrls)
		return err
	}
	for _, d := range g.parents {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// removeParents removes the invoker's parent directories
// <mount>/<CgroupParent>/<Name> and then each directory of <CgroupParent>,
// deepest first, as long as they are empty. A directory still holding a
// cgroup (a sandbox being created meanwhile, another invoker's directory
// under a shared CgroupParent) is left alone, as is a missing one; other
// failures are returned.
func (g *cgroups) removeParents() error {
	var errs []error
	for _, mount := range g.mountsInUse() {
		for rel := g.rel; rel != "." && rel != "/" && rel != ""; rel = filepath.Dir(rel) {
			err := syscall.Rmdir(filepath.Join(mount, rel))
			if err == nil || errors.Is(err, syscall.ENOENT) {
				continue
			}
			if !errors.Is(err, syscall.EBUSY) && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
				errs = append(errs, fmt.Errorf("cgroup: rmdir %s: %w", filepath.Join(mount, rel), err))
			}
			break
		}
	}
	return errors.Join(errs...)
}

// mountsInUse lists the distinct hierarchy mounts holding the invoker's
// parent directories.
func (g *cgroups) mountsInUse() []string {
	if g.v2 {
		return []string{g.v2mount}
	}
	var out []string
	for _, c := range v1Controllers {
		if m, ok := g.mounts[c]; ok {
			if _, used := g.parents[c]; used && !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	return out
}

// children lists the sandbox cgroup names under this invoker's parent
// directories (leftovers for Cleanup).
func (g *cgroups) children() []string {
	seen := map[string]bool{}
	var out []string
	dirs := []string{g.v2dir}
	for _, p := range g.parents {
		dirs = append(dirs, p)
	}
	for _, p := range dirs {
		if p == "" {
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.IsDir() && validName(e.Name()) && !seen[e.Name()] {
				seen[e.Name()] = true
				out = append(out, e.Name())
			}
		}
	}
	return out
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
