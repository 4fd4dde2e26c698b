package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/invoker/container"
	"github.com/gowhisk/gowhisk/runtimes"
	"github.com/gowhisk/gowhisk/runtimes/actionloop"
)

// Limits applied to every launcher (OpenWhisk's docker --ulimit).
const (
	nofileLimit = 1024
	// killTimeout bounds Destroy's kill when ctx has no earlier deadline.
	killTimeout = 10 * time.Second
	// sandboxPath is the PATH of an action.
	sandboxPath = "/usr/local/bin:/usr/bin:/bin"
)

// Messages of init answers given by the sandbox itself.
const (
	msgInitTwice = "Cannot initialize the action more than once."
)

// Container is a process sandbox: one launcher process (and whatever the
// action starts) in its own process group and, when available, its own
// cgroup. It implements container.Container. Init and Run must not be
// called concurrently with each other; Pause, Resume, Logs and Destroy may
// be called at any time.
type Container struct {
	f       *Factory
	name    string
	kind    string
	workdir string
	cg      *cgroup     // nil without cgroups
	cred    *credential // nil: the invoker's user
	fork    *forker
	proc    *actionloop.Process
	pgid    int
	logs    *logBuffer
	pipes   []*os.File // read ends of stdout and stderr

	mu        sync.Mutex
	inited    bool
	paused    bool
	destroyed bool

	destroyOnce sync.Once
	destroyErr  error
}

var _ container.Container = (*Container)(nil)

// Create starts a launcher for spec (a stem cell, ready for Init) and
// returns once it acknowledged. Errors wrap container.ErrProvision, or
// entity.ErrInvalid for a spec the process sandbox cannot run (a bad name,
// an unknown kind, a non-native blackbox image).
func (f *Factory) Create(ctx context.Context, spec container.Spec) (container.Container, error) {
	c, err := f.create(ctx, spec)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (f *Factory) create(ctx context.Context, spec container.Spec) (*Container, error) {
	if !validName(spec.Name) {
		return nil, fmt.Errorf("%w: %w", container.ErrProvision, entity.Invalidf("invalid container name %q", spec.Name))
	}
	kind := spec.Kind
	if kind == entity.KindBlackbox && !spec.Native {
		return nil, fmt.Errorf("%w: %w", container.ErrProvision,
			entity.Invalidf("the process sandbox cannot run the Docker image %q (only the native skeleton)", spec.Image))
	}
	argv, err := runtimes.LocalCommand(kind, f.launchers)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", container.ErrProvision, err)
	}
	env, err := sandboxEnv(spec.Env)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", container.ErrProvision, err)
	}

	f.mu.Lock()
	if _, dup := f.live[spec.Name]; dup {
		f.mu.Unlock()
		return nil, fmt.Errorf("%w: %w", container.ErrProvision, entity.Errorf(entity.ErrExists, "container %q exists", spec.Name))
	}
	c := &Container{
		f:       f,
		name:    spec.Name,
		kind:    kind,
		workdir: filepath.Join(f.sandboxes, spec.Name),
		logs:    newLogBuffer(f.cfg.LogBufferBytes, f.cfg.Now),
	}
	f.live[spec.Name] = c
	f.mu.Unlock()

	if err := c.start(ctx, spec, argv, append(env, "HOME="+c.workdir, "TMPDIR="+c.workdir)); err != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
		defer cancel()
		_ = c.Destroy(dctx)
		if errors.Is(err, container.ErrProvision) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", container.ErrProvision, err)
	}
	return c, nil
}

// start creates the working directory and the cgroup and starts the
// launcher.
func (c *Container) start(ctx context.Context, spec container.Spec, argv, env []string) error {
	f := c.f
	if err := os.RemoveAll(c.workdir); err != nil { // a leftover
		return err
	}
	if err := os.Mkdir(c.workdir, 0o700); err != nil {
		return err
	}
	cred, err := f.credFor()
	if err != nil {
		return err
	}
	c.cred = cred
	if c.cred != nil {
		if err := os.Chown(c.workdir, int(c.cred.uid), int(c.cred.gid)); err != nil {
			return err
		}
	}
	if f.cg != nil {
		lim := limits{Pids: f.cfg.PidsLimit, CPUShares: spec.CPUShares}
		if spec.MemoryMB > 0 {
			lim.MemoryBytes = int64(spec.MemoryMB) << 20
		}
		cg, err := f.cg.create(ctx, c.name, lim)
		if err != nil {
			return err
		}
		c.cg = cg
	}

	outR, outW, err := os.Pipe()
	if err != nil {
		return err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return err
	}
	c.pipes = []*os.File{outR, errR}
	go c.logs.pump(stdout, outR)
	go c.logs.pump(stderr, errR)
	defer outW.Close()
	defer errW.Close()

	cmd := &exec.Cmd{Path: argv[0], Args: argv, Env: env, Dir: c.workdir, Stdout: outW, Stderr: errW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if c.cred != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: c.cred.uid, Gid: c.cred.gid, Groups: []uint32{}}
	}
	if c.cg != nil && c.cg.v2 != "" {
		fd, err := c.cg.openFD()
		if err != nil {
			return err
		}
		defer fd.Close()
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(fd.Fd())
	}

	sctx, cancel := context.WithTimeout(ctx, f.cfg.StartTimeout)
	defer cancel()
	c.fork = startForker()
	var (
		proc     *actionloop.Process
		startErr error
	)
	ferr := c.fork.do(func() {
		if c.cg != nil && c.cg.v2 == "" {
			leave, err := c.cg.enterThread(syscall.Gettid())
			if err == nil {
				defer func() {
					if err := leave(); err != nil {
						f.log.Warn("process sandbox: forker thread could not leave the sandbox cgroup", "container", c.name, "err", err)
					}
				}()
			} else {
				f.log.Warn("process sandbox: cannot fork inside the cgroup; moving the launcher after its start", "container", c.name, "err", err)
			}
		}
		proc, startErr = actionloop.Start(sctx, cmd)
	})
	if ferr != nil {
		return ferr
	}
	if startErr != nil {
		return startErr
	}
	c.proc = proc
	c.pgid = cmd.Process.Pid
	if c.cg != nil {
		// The launcher has not read its init line yet: no action code has
		// run. The v1 freezer (and, after a failed thread move, every
		// controller) is joined now.
		if err := c.cg.enter(c.pgid); err != nil {
			return err
		}
	} else {
		// Without cgroups Cleanup finds leftovers by their process group.
		if err := os.WriteFile(filepath.Join(f.pgids, c.name), []byte(strconv.Itoa(c.pgid)), 0o600); err != nil {
			return err
		}
	}
	_ = unix.Prlimit(c.pgid, unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: nofileLimit, Max: nofileLimit}, nil)
	_ = unix.Prlimit(c.pgid, unix.RLIMIT_CORE, &unix.Rlimit{}, nil)
	return nil
}

// sandboxEnv is the launcher's environment: PATH, LANG and the container's
// Spec.Env (HOME and TMPDIR are added by the caller). Keys must be
// non-empty and free of '=' and NUL.
func sandboxEnv(extra map[string]string) ([]string, error) {
	env := []string{"PATH=" + sandboxPath, "LANG=C.UTF-8"}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := extra[k]
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return nil, entity.Invalidf("invalid environment variable %q", k)
		}
		switch k {
		case "PATH", "HOME", "TMPDIR", "LANG":
			env = slicesDeleteKey(env, k)
		}
		env = append(env, k+"="+v)
	}
	return env, nil
}

func slicesDeleteKey(env []string, k string) []string {
	out := env[:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, k+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// ID is the launcher's process id, which is also its process group id.
func (c *Container) ID() string { return strconv.Itoa(c.pgid) }

// Init prepares the action code in the working directory (owned by the
// run-as user) and initializes the launcher with it. Errors:
// *container.InitError (bad code or archive, a second Init, the action
// failing to load), container.ErrTimeout, ErrOOM, ErrExited, or
// ErrProvision for an I/O failure of the sandbox.
func (c *Container) Init(ctx context.Context, req container.InitRequest) (container.RunResult, error) {
	c.mu.Lock()
	if c.destroyed {
		c.mu.Unlock()
		return container.RunResult{}, container.ErrExited
	}
	if c.inited {
		c.mu.Unlock()
		return container.RunResult{}, &container.InitError{Status: 403, Body: actionloop.ErrorBody(msgInitTwice)}
	}
	c.inited = true
	c.mu.Unlock()

	path, err := actionloop.Prepare(c.workdir, c.kind, req)
	if err != nil {
		if errors.Is(err, entity.ErrInvalid) || errors.Is(err, entity.ErrTooLarge) {
			msg := userMessage(err)
			status := 502
			if msg == actionloop.MissingCode {
				status = 403
			}
			c.logs.add(stderr, c.f.cfg.Now(), msg, false)
			c.logs.add(stdout, time.Time{}, container.Sentinel, false)
			c.logs.add(stderr, time.Time{}, container.Sentinel, false)
			return container.RunResult{}, &container.InitError{Status: status, Body: actionloop.ErrorBody(msg)}
		}
		return container.RunResult{}, fmt.Errorf("%w: preparing the action: %v", container.ErrProvision, err)
	}
	if c.cred != nil {
		if err := chownTree(c.workdir, int(c.cred.uid), int(c.cred.gid)); err != nil {
			return container.RunResult{}, fmt.Errorf("%w: %v", container.ErrProvision, err)
		}
	}
	if err := c.proc.Init(ctx, req.Name, req.Main, path, req.Env); err != nil {
		var ie *container.InitError
		if errors.As(err, &ie) {
			return container.RunResult{}, err
		}
		return container.RunResult{}, c.failure(ctx, err)
	}
	return container.RunResult{Status: 200, Body: []byte(`{"ok":true}`)}, nil
}

// userMessage strips the sentinel kind's text from a user error.
func userMessage(err error) string {
	msg := err.Error()
	for _, k := range []error{entity.ErrInvalid, entity.ErrTooLarge} {
		msg = strings.TrimPrefix(msg, k.Error()+": ")
	}
	return msg
}

// chownTree gives dir and everything in it to uid:gid (symlinks
// themselves, not their targets).
func chownTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// Run runs one activation. A non-200 answer of the launcher is a
// RunResult. Errors: container.ErrTimeout when ctx ends first (the
// container must then be destroyed), ErrOOM when the sandbox was killed for
// its memory, ErrExited when the launcher died or broke the protocol.
func (c *Container) Run(ctx context.Context, req container.RunRequest) (container.RunResult, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return container.RunResult{}, fmt.Errorf("%w: %v", container.ErrExited, err)
	}
	line, err := c.proc.Run(ctx, body)
	if err != nil {
		return container.RunResult{}, c.failure(ctx, err)
	}
	return actionloop.ParseResult(line), nil
}

// failure maps a launcher error: a timeout stays ErrTimeout; otherwise the
// launcher is gone or broken, and once it has exited an OOM kill recorded
// by the memory cgroup turns it into ErrOOM.
func (c *Container) failure(ctx context.Context, err error) error {
	if errors.Is(err, container.ErrTimeout) {
		return container.ErrTimeout
	}
	if c.cg != nil && !errors.Is(err, actionloop.ErrProtocol) {
		// The launcher died (or is dying): give the kernel's OOM record
		// and the exit a moment to land.
		t := time.NewTimer(time.Second)
		select {
		case <-c.proc.Exited():
		case <-t.C:
		}
		t.Stop()
	}
	if c.cg != nil && c.cg.oomKills() > 0 {
		return container.ErrOOM
	}
	if errors.Is(err, container.ErrExited) {
		return err
	}
	return fmt.Errorf("%w: %v", container.ErrExited, err)
}

// Pause freezes every process of the container (cgroup freezer) or, without
// a freezer, stops its process group with SIGSTOP. Pausing a paused
// container does nothing.
func (c *Container) Pause(ctx context.Context) error { return c.setPaused(ctx, true) }

// Resume thaws what Pause froze (or sends SIGCONT). Resuming a running
// container does nothing.
func (c *Container) Resume(ctx context.Context) error { return c.setPaused(ctx, false) }

func (c *Container) setPaused(ctx context.Context, paused bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed {
		return fmt.Errorf("%w: container destroyed", container.ErrExited)
	}
	if c.paused == paused {
		return nil
	}
	if c.cg != nil && c.cg.g.freeze {
		if err := c.cg.setFrozen(ctx, paused); err != nil {
			if paused { // do not leave it half frozen
				tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
				_ = c.cg.setFrozen(tctx, false)
				cancel()
			}
			return fmt.Errorf("process sandbox: pause=%v: %w", paused, err)
		}
	} else {
		sig := syscall.SIGCONT
		if paused {
			sig = syscall.SIGSTOP
		}
		if err := syscall.Kill(-c.pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("process sandbox: signal %v: %w", sig, err)
		}
		if paused {
			// Signals are delivered asynchronously: wait until the
			// launcher is stopped (or gone).
			if err := pollUntil(ctx, func() (bool, error) {
				st := processState(c.pgid)
				return st == "" || st == "T" || st == "Z" || st == "X", nil
			}); err != nil {
				return fmt.Errorf("process sandbox: waiting for SIGSTOP: %w", err)
			}
		}
	}
	c.paused = paused
	return nil
}

// Logs returns the lines written since the previous call, up to each
// stream's sentinel (see container.Container). It never blocks past ctx,
// nor long after the launcher died: at the end of both streams it returns
// at once, sentinels or not. With waitSentinels, a missing sentinel is an
// error wrapping container.ErrLogsIncomplete, returned with the lines.
func (c *Container) Logs(ctx context.Context, limit int64, waitSentinels bool) ([]container.LogLine, bool, error) {
	var exited <-chan struct{}
	if c.proc != nil {
		exited = c.proc.Exited()
	} else {
		ch := make(chan struct{})
		close(ch)
		exited = ch
	}
	return c.logs.collect(ctx, limit, waitSentinels, exited)
}

// Destroy kills every process of the container (thawing it first so that
// the kills are delivered), waits for the launcher's exit, and removes its
// cgroup and working directory. Later calls return the first call's
// result.
func (c *Container) Destroy(ctx context.Context) error {
	c.destroyOnce.Do(func() { c.destroyErr = c.destroy(ctx) })
	return c.destroyErr
}

func (c *Container) destroy(ctx context.Context) error {
	c.mu.Lock()
	c.destroyed = true
	c.mu.Unlock()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, killTimeout)
		defer cancel()
	}
	var errs []error
	if c.pgid > 0 {
		_ = syscall.Kill(-c.pgid, syscall.SIGKILL)
		_ = syscall.Kill(-c.pgid, syscall.SIGCONT)
	}
	if c.cg != nil {
		if err := c.cg.killAll(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if c.cg == nil && c.pgid > 0 {
		// Without a cgroup the process group is what we can reach (a
		// process that left it with setsid escapes: see the package doc).
		if err := pollUntil(ctx, func() (bool, error) { return len(groupMembers(c.pgid)) == 0, nil }); err != nil {
			errs = append(errs, fmt.Errorf("process sandbox: process group %d still running: %w", c.pgid, err))
		}
	}
	if c.proc != nil {
		select {
		case <-c.proc.Exited():
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("process sandbox: launcher %d did not exit: %w", c.pgid, ctx.Err()))
		}
	}
	if c.fork != nil {
		c.fork.stop()
	}
	for _, p := range c.pipes {
		p.Close() // ends the log pumps even if an escaped process holds the pipe
	}
	if c.cg != nil {
		if err := c.cg.remove(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(c.workdir); err != nil {
		errs = append(errs, err)
	}
	_ = os.Remove(filepath.Join(c.f.pgids, c.name))
	c.f.forget(c.name, c)
	if err := errors.Join(errs...); err != nil {
		// The container's own user id is not reused while a process of
		// it may still run.
		return fmt.Errorf("process sandbox: destroy %s: %w", c.name, err)
	}
	c.f.releaseCred(c.cred)
	return nil
}
