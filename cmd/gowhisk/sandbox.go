package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/invoker/container"
	"github.com/gowhisk/gowhisk/invoker/container/docker"
	"github.com/gowhisk/gowhisk/invoker/container/process"
)

// The values of --sandbox.
const (
	sandboxAuto    = "auto"
	sandboxProcess = "process"
	sandboxDocker  = "docker"
)

// Defaults of the sandbox flags.
const (
	defaultDockerHost = "unix:///var/run/docker.sock"
	// dockerProbeTimeout bounds the check whether Docker is usable.
	dockerProbeTimeout = 5 * time.Second
)

// sandbox is the container factory the invoker's pool creates containers
// with.
type sandbox struct {
	kind    string // sandboxProcess or sandboxDocker
	factory container.Factory
	close   func() error // releases the factory's resources (after Cleanup)
	// dir is the process sandbox's directory of this invoker
	// (<work root>/<invoker name>, see process.Config.WorkRoot), removed
	// after a complete cleanup at shutdown; "" for docker.
	dir string
}

// sandboxConfig is what opening a sandbox needs besides the flags.
type sandboxConfig struct {
	opts     executionOptions
	dataDir  string
	invoker  string   // the invoker's name: scopes cgroups, work dirs and containers
	images   []string // the runtime images Docker must have
	logger   *slog.Logger
	geteuid  func() int
	tempDir  func() string
	statPath func(string) (fs.FileInfo, error)
}

// chooseSandbox decides the sandbox from --sandbox and the outcome of the
// Docker check (nil: a daemon answers and has the runtime images), and
// says why. Forcing docker when Docker is not usable is an error.
func chooseSandbox(mode, dockerHost string, dockerErr error) (kind, why string, err error) {
	switch mode {
	case sandboxProcess:
		return sandboxProcess, "--sandbox process", nil
	case sandboxDocker:
		if dockerErr != nil {
			return "", "", fmt.Errorf("--sandbox docker: Docker is not usable: %w", dockerErr)
		}
		return sandboxDocker, "--sandbox docker", nil
	case sandboxAuto:
		if dockerErr != nil {
			return sandboxProcess, "Docker is not usable: " + dockerErr.Error(), nil
		}
		return sandboxDocker, "a Docker daemon answers at " + dockerHost + " and has the runtime images", nil
	}
	return "", "", usageError{fmt.Errorf("--sandbox %q: want auto, process or docker", mode)}
}

// runtimeImages lists the Docker images of the manifest's kinds and
// native blackboxes, sorted, without duplicates.
func runtimeImages(m *entity.Manifest) []string {
	var images []string
	for _, kinds := range m.Runtimes {
		for _, k := range kinds {
			if !k.Deprecated {
				images = append(images, k.Image.String())
			}
		}
	}
	for _, b := range m.Blackboxes {
		images = append(images, b.String())
	}
	slices.Sort(images)
	return slices.Compact(images)
}

// invokerName is the standalone invoker's name: "invoker0_" and a hash of
// the data dir, so that servers on different data dirs never clean up each
// other's sandboxes while one restarted on the same data dir removes the
// leftovers of its crashed predecessor.
func invokerName(dataDir string) string {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = dataDir
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(abs))
	return fmt.Sprintf("invoker0_%08x", h.Sum32())
}

// processWorkRoot is the process sandbox's working root: --sandbox-dir,
// else <data dir>/sandbox, unless the server runs as root and the data dir
// cannot be traversed by other users (the actions run as an unprivileged
// user, e.g. with the data dir under root's 0700 home): then a directory
// under the system's temporary directory.
func processWorkRoot(c sandboxConfig) (root, why string) {
	if c.opts.sandboxDir != "" {
		return c.opts.sandboxDir, "--sandbox-dir"
	}
	abs, err := filepath.Abs(c.dataDir)
	if err != nil {
		abs = c.dataDir
	}
	if c.geteuid() != 0 || othersCanTraverse(abs, c.statPath) {
		return filepath.Join(abs, "sandbox"), "under the data dir"
	}
	return filepath.Join(c.tempDir(), "gowhisk-sandbox"),
		"the data dir is not reachable by the unprivileged user actions run as"
}

// othersCanTraverse reports whether every existing directory on the way to
// path (an absolute path) has the execute bit for others. Missing
// components are created later with permissive modes and do not count.
func othersCanTraverse(path string, stat func(string) (fs.FileInfo, error)) bool {
	for p := path; ; p = filepath.Dir(p) {
		fi, err := stat(p)
		if err == nil && fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if p == filepath.Dir(p) {
			return true
		}
	}
}

// openSandbox checks Docker (unless --sandbox process), chooses the
// sandbox, logs the choice and why, and creates its factory.
func openSandbox(ctx context.Context, c sandboxConfig) (*sandbox, error) {
	var dockerErr error
	if c.opts.sandbox != sandboxProcess {
		pctx, cancel := context.WithTimeout(ctx, dockerProbeTimeout)
		dockerErr = docker.Available(pctx, c.opts.dockerHost, c.images...)
		cancel()
	}
	kind, why, err := chooseSandbox(c.opts.sandbox, c.opts.dockerHost, dockerErr)
	if err != nil {
		return nil, err
	}
	c.logger.Info("sandbox chosen", "sandbox", kind, "why", why)
	if kind == sandboxDocker {
		return openDockerSandbox(ctx, c)
	}
	return openProcessSandbox(ctx, c)
}

func openProcessSandbox(ctx context.Context, c sandboxConfig) (*sandbox, error) {
	root, why := processWorkRoot(c)
	c.logger.Info("process sandbox work root", "dir", root, "why", why)
	f, err := process.New(ctx, process.Config{
		WorkRoot:     root,
		RunAsUser:    c.opts.runAsUser,
		CgroupParent: c.opts.cgroupParent,
		Logger:       c.logger,
		Name:         c.invoker,
	})
	if err != nil {
		return nil, fmt.Errorf("process sandbox: %w", err)
	}
	return &sandbox{kind: sandboxProcess, factory: f, close: f.Close, dir: filepath.Join(root, c.invoker)}, nil
}

func openDockerSandbox(ctx context.Context, c sandboxConfig) (*sandbox, error) {
	f, err := docker.New(ctx, docker.Config{
		Host:          c.opts.dockerHost,
		Network:       c.opts.dockerNetwork,
		InvokerName:   c.invoker,
		UserMemoryMB:  c.opts.userMemoryMB,
		ManagedImages: c.images,
		Logger:        c.logger,
	})
	if err != nil {
		return nil, fmt.Errorf("docker sandbox: %w", err)
	}
	return &sandbox{kind: sandboxDocker, factory: f, close: f.Close}, nil
}

// cleanup removes the sandboxes of the invoker (a crashed predecessor's at
// start, the remaining ones at shutdown), bounded by timeout.
func (s *sandbox) cleanup(ctx context.Context, timeout time.Duration) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	return s.factory.Cleanup(cctx)
}

// defaultSandboxConfig fills the process-level hooks of a sandboxConfig.
func defaultSandboxConfig(c sandboxConfig) sandboxConfig {
	if c.geteuid == nil {
		c.geteuid = os.Geteuid
	}
	if c.tempDir == nil {
		c.tempDir = os.TempDir
	}
	if c.statPath == nil {
		c.statPath = func(p string) (fs.FileInfo, error) { return os.Stat(p) }
	}
	return c
}
