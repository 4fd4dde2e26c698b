// Package process is the local process sandbox of the invoker, used when
// no Docker daemon is reachable: each container is a language launcher
// (runtimes/actionloop) started as a child process in its own process
// group, driven directly over its pipes (no HTTP hop).
//
// Isolation, as far as the host allows (New detects it once and logs what
// is enforced):
//
//   - cgroups: one cgroup per container under <CgroupRoot>/<controller>/
//     <CgroupParent>/<Name>/<container> (cgroup v1) or <mount>/
//     <CgroupParent>/<Name>/<container> (cgroup v2, when the memory and
//     pids controllers can be enabled there), with the memory limit (swap
//     included), a pids limit and cpu shares; the freezer pauses and
//     resumes. The launcher is inside its cgroup from its first
//     instruction: with cgroup v2 it is cloned into it
//     (CLONE_INTO_CGROUP); with cgroup v1 it is forked by a dedicated OS
//     thread that joins the container's memory, pids and cpu cgroups just
//     for the fork (a child inherits its parent thread's cgroups) and then
//     goes back (see forker). The freezer cgroup (and, if the thread could
//     not move, every cgroup) is joined right after the launcher's ready
//     ack, before the init line, which is the first moment action code can
//     run.
//   - without cgroups: no memory, pids or cpu limit; pause and resume send
//     SIGSTOP and SIGCONT to the process group, and Destroy kills the
//     process group (a process that calls setsid leaves it and escapes).
//   - as root, the launcher runs as an unprivileged user (RunAsUser,
//     default "nobody", or one user id per container with UIDCount) with
//     an empty supplementary group list, in a
//     private working directory (0700, owned by that user) that is also
//     its HOME and TMPDIR, with only PATH, HOME, TMPDIR, LANG and the
//     container's Spec.Env in its environment (the launcher adds the
//     __OW_* values of init and run); nothing of the invoker's environment.
//   - RLIMIT_NOFILE 1024 and no core dumps, as OpenWhisk's docker
//     arguments; the parent-death signal kills the launcher if the invoker
//     dies.
//
// Destroy kills every process of the container (the cgroup's members, or
// the process group without cgroups), removes its cgroup and its working
// directory. Cleanup does the same for whatever a previous run of the same
// invoker Name left behind, and for every container still alive.
//
// When the process owning a Factory dies by any means (SIGKILL included),
// its reaper, a watchdog process started by New, thaws and kills every
// process of the factory's sandboxes and removes their cgroups at once,
// without waiting for a later Cleanup (see reaper.go). Close ends the
// reaper.
package process

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/invoker/container"
	"github.com/gowhisk/gowhisk/runtimes"
)

// Defaults of Config.
const (
	DefaultRunAsUser      = "nobody"
	DefaultCgroupParent   = "gowhisk"
	DefaultCgroupRoot     = "/sys/fs/cgroup"
	DefaultName           = "invoker0"
	DefaultPidsLimit      = 1024
	DefaultLogBufferBytes = 16 << 20
	DefaultStartTimeout   = 30 * time.Second
)

// Config configures a Factory. WorkRoot is required.
type Config struct {
	// WorkRoot holds this invoker's directory <WorkRoot>/<Name>: the
	// containers' working directories and, unless LauncherDir is set, the
	// installed launchers.
	WorkRoot string
	// LauncherDir holds the launchers (runtimes.InstallLaunchers). Empty:
	// New installs them into <WorkRoot>/<Name>/launchers.
	LauncherDir string
	// RunAsUser is the user actions run as when the invoker is root
	// (default "nobody"). Ignored when the invoker is not root.
	RunAsUser string
	// UIDCount > 0 (with the invoker root) gives every container its own
	// user and group id, UIDBase+i for a free i < UIDCount, instead of
	// RunAsUser: actions of different containers then cannot signal,
	// trace or read each other (same-user processes can read each other's
	// /proc/<pid>/environ and working directories). The ids need no
	// /etc/passwd entry; pick a range no real user or user namespace uses
	// (e.g. 200000, 10000). Create fails when all are taken.
	UIDBase  uint32
	UIDCount int
	// CgroupParent is the cgroup path, relative to each hierarchy's root,
	// under which this invoker's cgroups are created (default "gowhisk").
	CgroupParent string
	// CgroupRoot is where the cgroup hierarchies are mounted (default
	// /sys/fs/cgroup).
	CgroupRoot string
	// NoCgroups disables cgroups (no limits; SIGSTOP/SIGCONT to pause).
	NoCgroups bool
	// PidsLimit is the maximum number of processes and threads of a
	// container (default 1024, OpenWhisk's --pids-limit).
	PidsLimit int
	// LogBufferBytes caps the log text a container holds between two Logs
	// calls (default 16 MiB); beyond it lines are dropped and reported as
	// truncation.
	LogBufferBytes int64
	// StartTimeout bounds a launcher's start in Create when ctx has no
	// earlier deadline (default 30 s).
	StartTimeout time.Duration
	// Logger receives the factory's logs (default slog.Default()).
	Logger *slog.Logger
	// Name is the invoker's name: it scopes the cgroups and working
	// directories that Cleanup removes (default "invoker0").
	Name string
	// Now is the clock of log line timestamps (default time.Now).
	Now func() time.Time
}

// Factory creates process sandboxes. It implements container.Factory and
// is safe for concurrent use.
type Factory struct {
	cfg       Config
	log       *slog.Logger
	cg        *cgroups    // nil: no cgroups
	cred      *credential // nil: run as the invoker's user
	root      string      // <WorkRoot>/<Name>
	sandboxes string      // working directories
	pgids     string      // process group ids of live containers (for Cleanup without cgroups)
	launchers string

	watchdog *watchdog // keeps the reaper running (reaper.go)

	mu       sync.Mutex
	live     map[string]*Container
	uidsUsed map[uint32]bool // UIDCount > 0: ids of live containers
}

var _ container.Factory = (*Factory)(nil)

// credential is the user the launchers run as.
type credential struct {
	name     string
	uid, gid uint32
}

// New checks cfg, creates the invoker's directories, installs the
// launchers unless cfg.LauncherDir is set, and detects once which isolation
// the host offers (logged at Info, with what is not enforced at Warn).
// It does not remove leftovers: call Cleanup. Errors wrap
// entity.ErrInvalid (bad configuration) or describe an I/O failure.
func New(ctx context.Context, cfg Config) (*Factory, error) {
	if cfg.WorkRoot == "" {
		return nil, entity.Invalidf("process sandbox: WorkRoot is required")
	}
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if !validName(cfg.Name) {
		return nil, entity.Invalidf("process sandbox: invalid invoker name %q", cfg.Name)
	}
	if cfg.CgroupParent == "" {
		cfg.CgroupParent = DefaultCgroupParent
	}
	if p := filepath.Clean("/" + cfg.CgroupParent); p == "/" {
		return nil, entity.Invalidf("process sandbox: invalid cgroup parent %q", cfg.CgroupParent)
	} else {
		cfg.CgroupParent = p[1:]
	}
	if cfg.CgroupRoot == "" {
		cfg.CgroupRoot = DefaultCgroupRoot
	}
	if cfg.PidsLimit <= 0 {
		cfg.PidsLimit = DefaultPidsLimit
	}
	if cfg.LogBufferBytes <= 0 {
		cfg.LogBufferBytes = DefaultLogBufferBytes
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	abs, err := filepath.Abs(cfg.WorkRoot)
	if err != nil {
		return nil, entity.Invalidf("process sandbox: WorkRoot: %v", err)
	}
	f := &Factory{
		cfg:  cfg,
		log:  cfg.Logger.With("component", "process-sandbox", "invoker", cfg.Name),
		root: filepath.Join(abs, cfg.Name),
		live: map[string]*Container{},
	}
	f.sandboxes = filepath.Join(f.root, "sandboxes")
	f.pgids = filepath.Join(f.root, "pgids")

	root := os.Geteuid() == 0
	if root {
		name := cfg.RunAsUser
		if name == "" {
			name = DefaultRunAsUser
		}
		c, err := lookupUser(name)
		if err != nil {
			return nil, entity.Invalidf("process sandbox: run-as user: %v", err)
		}
		if c.uid != 0 {
			f.cred = c
		}
		if cfg.UIDCount > 0 {
			if cfg.UIDBase == 0 || uint64(cfg.UIDBase)+uint64(cfg.UIDCount) > 1<<31 {
				return nil, entity.Invalidf("process sandbox: invalid uid range %d+%d", cfg.UIDBase, cfg.UIDCount)
			}
			f.cred = &credential{name: fmt.Sprintf("uids %d-%d (one per container)", cfg.UIDBase, cfg.UIDBase+uint32(cfg.UIDCount)-1)}
			f.uidsUsed = map[uint32]bool{}
		}
	}

	// The working root must be traversable (not listable) by the run-as
	// user; the pgid records are the invoker's alone.
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{abs, 0o711}, {f.root, 0o711}, {f.sandboxes, 0o711}, {f.pgids, 0o700}} {
		if err := mkdirMode(d.path, d.mode, d.path != abs); err != nil {
			return nil, fmt.Errorf("process sandbox: %w", err)
		}
	}
	f.launchers = cfg.LauncherDir
	if f.launchers == "" {
		f.launchers = filepath.Join(f.root, "launchers")
		if err := runtimes.InstallLaunchers(f.launchers); err != nil {
			return nil, fmt.Errorf("process sandbox: install launchers: %w", err)
		}
	}

	if f.cred != nil {
		if err := reachable(f.launchers, f.sandboxes); err != nil {
			return nil, entity.Invalidf("process sandbox: %v: the run-as user %s cannot reach it", err, f.cred.name)
		}
	}

	var why []string
	if !cfg.NoCgroups {
		f.cg, why = detectCgroups(cfg.CgroupRoot, cfg.CgroupParent, cfg.Name)
	} else {
		why = []string{"disabled by configuration"}
	}
	f.logIsolation(root, why)
	f.startReaper()
	return f, nil
}

// logIsolation says once what is and is not enforced.
func (f *Factory) logIsolation(root bool, why []string) {
	user := "the invoker's user (not root)"
	if f.cred != nil {
		user = f.cred.name
	} else if root {
		user = "root (RunAsUser is root)"
	}
	attrs := []any{"cgroups", f.cg.describe(), "runAs", user, "workRoot", f.root}
	var missing []string
	for _, c := range v1Controllers {
		if !f.cg.has(c) {
			missing = append(missing, c)
		}
	}
	if len(missing) == 0 && f.cred != nil {
		f.log.Info("process sandbox isolation: memory, pids and cpu limits, freezer pause, unprivileged user", attrs...)
		return
	}
	if len(missing) > 0 {
		attrs = append(attrs, "notEnforced", missing, "reasons", why)
	}
	msg := "process sandbox isolation is partial"
	if !f.cg.has(ctrlFreezer) {
		msg += "; pause and resume use SIGSTOP/SIGCONT on the process group"
	}
	if !f.cg.has(ctrlMemory) {
		msg += "; no memory limit (and no OOM detection)"
	}
	if f.cred == nil {
		msg += "; actions run as " + user
	}
	f.log.Warn(msg, attrs...)
}

// Cleanup destroys every container this factory still owns, then removes
// what a previous run of the same invoker Name left behind: it kills the
// processes of leftover cgroups (or, without cgroups, of recorded process
// groups that still run in a sandbox directory) and removes the cgroups and
// working directories. Last, it removes the invoker's cgroup directories
// <CgroupParent>/<Name> and then <CgroupParent> when they are empty (a
// later Create makes them again). It returns the errors it met, joined.
func (f *Factory) Cleanup(ctx context.Context) error {
	f.mu.Lock()
	live := make([]*Container, 0, len(f.live))
	for _, c := range f.live {
		live = append(live, c)
	}
	f.mu.Unlock()
	var errs []error
	for _, c := range live {
		if err := c.Destroy(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cg != nil {
		for _, name := range f.cg.children() {
			if _, ok := f.live[name]; ok {
				continue
			}
			if err := f.cg.open(name).remove(ctx); err != nil {
				errs = append(errs, err)
			} else {
				f.log.Info("removed a leftover sandbox cgroup", "container", name)
			}
		}
	}
	if ents, err := os.ReadDir(f.pgids); err == nil {
		for _, e := range ents {
			if _, ok := f.live[e.Name()]; ok {
				continue
			}
			n, err := killRecordedGroup(ctx, filepath.Join(f.pgids, e.Name()), filepath.Join(f.sandboxes, e.Name()))
			if err != nil {
				errs = append(errs, err)
				continue // tried again by the next Cleanup
			}
			if n > 0 {
				f.log.Info("killed leftover sandbox processes", "container", e.Name(), "processes", n)
			}
			_ = os.Remove(filepath.Join(f.pgids, e.Name()))
		}
	}
	if ents, err := os.ReadDir(f.sandboxes); err == nil {
		for _, e := range ents {
			if _, ok := f.live[e.Name()]; ok {
				continue
			}
			if err := os.RemoveAll(filepath.Join(f.sandboxes, e.Name())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if f.cg != nil && len(f.live) == 0 {
		// Create makes them again when needed.
		if err := f.cg.removeParents(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// killRecordedGroup kills the processes of the process group recorded in
// file that still look like the sandbox's (their working directory is
// inside dir, or the group leader's was), and returns how many it
// signalled, after waiting (bounded by ctx) until they are gone (else an
// error). A recycled process group id of an unrelated process is left
// alone.
func killRecordedGroup(ctx context.Context, file, dir string) (int, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, nil
	}
	pgid, err := strconv.Atoi(string(b))
	if err != nil || pgid <= 1 {
		return 0, nil
	}
	members := groupMembers(pgid)
	ours := false
	for _, p := range members {
		if cwd, err := os.Readlink("/proc/" + strconv.Itoa(p) + "/cwd"); err == nil && (cwd == dir || filepath.Dir(cwd) == dir || isWithin(cwd, dir)) {
			ours = true
			break
		}
	}
	if !ours {
		return 0, nil
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	if err := pollUntil(ctx, func() (bool, error) { return len(groupMembers(pgid)) == 0, nil }); err != nil {
		return len(members), fmt.Errorf("process sandbox: leftover process group %d still running: %w", pgid, err)
	}
	return len(members), nil
}

func isWithin(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && filepath.IsLocal(rel)
}

// groupMembers lists the running (not zombie) processes whose process
// group is pgid.
func groupMembers(pgid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if g, err := syscall.Getpgid(pid); err == nil && g == pgid {
			if st := processState(pid); st != "" && st != "Z" && st != "X" {
				out = append(out, pid)
			}
		}
	}
	return out
}

// reachable checks that every ancestor of the given directories can be
// traversed by any user (the run-as user is neither owner nor group
// member of the invoker's directories).
func reachable(dirs ...string) error {
	for _, d := range dirs {
		for p := d; ; p = filepath.Dir(p) {
			st, err := os.Stat(p)
			if err != nil {
				return err
			}
			if st.Mode().Perm()&0o001 == 0 {
				return fmt.Errorf("directory %s is not searchable by others (mode %v)", p, st.Mode().Perm())
			}
			if p == "/" || p == "." {
				break
			}
		}
	}
	return nil
}

// lookupUser resolves a user name or numeric uid.
func lookupUser(name string) (*credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		var uerr error
		u, uerr = user.LookupId(name)
		if uerr != nil {
			return nil, err
		}
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %q: uid %q", name, u.Uid)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %q: gid %q", name, u.Gid)
	}
	return &credential{name: u.Username, uid: uint32(uid), gid: uint32(gid)}, nil
}

// mkdirMode creates dir (and parents) and, when fix, sets its mode.
func mkdirMode(dir string, mode os.FileMode, fix bool) error {
	if err := os.MkdirAll(dir, mode); err != nil {
		return err
	}
	if fix {
		return os.Chmod(dir, mode)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	// Make the work root traversable without loosening anything else.
	if st.Mode().Perm()&0o011 != 0o011 {
		return os.Chmod(dir, st.Mode().Perm()|0o011)
	}
	return nil
}

// validName reports whether s is a safe path element: letters, digits,
// '_', '-' and '.', not starting with '.'.
func validName(s string) bool {
	if s == "" || len(s) > 200 || s[0] == '.' {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
		default:
			return false
		}
	}
	return true
}

// credFor returns the credential of a new container: its own id from the
// range, or the shared run-as user, or nil (no switch).
func (f *Factory) credFor() (*credential, error) {
	if f.uidsUsed == nil {
		return f.cred, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.cfg.UIDCount {
		id := f.cfg.UIDBase + uint32(i)
		if !f.uidsUsed[id] {
			f.uidsUsed[id] = true
			return &credential{name: strconv.Itoa(int(id)), uid: id, gid: id}, nil
		}
	}
	return nil, fmt.Errorf("all %d container user ids are in use", f.cfg.UIDCount)
}

// releaseCred returns a container's own id to the range.
func (f *Factory) releaseCred(c *credential) {
	if f.uidsUsed == nil || c == nil {
		return
	}
	f.mu.Lock()
	delete(f.uidsUsed, c.uid)
	f.mu.Unlock()
}

// forget drops a destroyed container from the live set.
func (f *Factory) forget(name string, c *Container) {
	f.mu.Lock()
	if f.live[name] == c {
		delete(f.live, name)
	}
	f.mu.Unlock()
}
