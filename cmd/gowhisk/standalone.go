package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/invoker"
	"github.com/gowhisk/gowhisk/invoker/container/docker"
	"github.com/gowhisk/gowhisk/invoker/container/process"
)

// standaloneOptions are the flags of `gowhisk standalone`.
type standaloneOptions struct {
	host, dataDir, runtimesFile, logLevel string
	port                                  int
	activationMaxAge                      time.Duration
	activationMaxCount                    int
	shutdownTimeout                       time.Duration
	invocationsPerMinute, concurrent      int
	firesPerMinute                        int
	exec                                  executionOptions
}

func newStandaloneCmd(e env) *cobra.Command {
	o := standaloneOptions{}
	cmd := &cobra.Command{
		Use:   "standalone",
		Short: "Run gowhisk in one process on an embedded store",
		Long: `Run the controller (OpenWhisk REST API under /api/v1) in one process, with
entities, subjects and activation records in an embedded database file
(gowhisk.db) in the data directory, kept across restarts.

On the first start with a new data directory it creates the namespaces
"guest" and "whisk.system" with OpenWhisk's well-known keys and prints the
wsk command that points the CLI at this server. Because those keys are
public, it refuses to listen on a non-loopback address while either of them
is active: rekey or delete them first with 'gowhisk admin'.

Actions run through the same path as in a distributed deployment, with
in-process adapters: the controller hands activations to a load balancer,
which publishes them on an in-process bus to one invoker, which runs them in
a pool of warm, pausable containers. The containers are Docker containers
when a Docker daemon answers (--docker-host) and has the runtime images, else
local processes (the process sandbox: as root, in cgroups with memory and
pids limits and the freezer, as an unprivileged user); --sandbox forces
either. The server logs which one it uses and why.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStandalone(cmd.Context(), e, o)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.host, "host", "127.0.0.1", "address to listen on")
	fs.IntVar(&o.port, "port", 3233, "port to listen on (0 picks a free port)")
	fs.StringVar(&o.dataDir, "data-dir", defaultDataDir(e), "directory of the embedded database (created if missing)")
	fs.StringVar(&o.runtimesFile, "runtimes", "", "runtimes manifest JSON file (default: the built-in manifest)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error (logs go to stderr)")
	fs.DurationVar(&o.activationMaxAge, "activation-max-age", 0, "delete activation records older than this, e.g. 168h (0 = keep)")
	fs.IntVar(&o.activationMaxCount, "activation-max-count", 0, "keep at most this many activation records per namespace (0 = no limit)")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long to let in-flight requests finish on SIGINT/SIGTERM")
	def := entity.DefaultSystemLimits()
	fs.IntVar(&o.invocationsPerMinute, "invocations-per-minute", def.InvocationsPerMinute, "default namespace limit of invocations per minute")
	fs.IntVar(&o.concurrent, "concurrent-invocations", def.ConcurrentInvocations, "default namespace limit of concurrent invocations")
	fs.IntVar(&o.firesPerMinute, "fires-per-minute", def.FiresPerMinute, "default namespace limit of trigger fires per minute")
	addExecutionFlags(fs, &o.exec)
	for name, v := range map[string]string{
		"host": "GOWHISK_HOST", "port": "GOWHISK_PORT", "data-dir": "GOWHISK_DATA_DIR",
		"runtimes": "GOWHISK_RUNTIMES", "log-level": "GOWHISK_LOG_LEVEL",
		"activation-max-age": "GOWHISK_ACTIVATION_MAX_AGE", "activation-max-count": "GOWHISK_ACTIVATION_MAX_COUNT",
		"shutdown-timeout":       "GOWHISK_SHUTDOWN_TIMEOUT",
		"invocations-per-minute": "GOWHISK_INVOCATIONS_PER_MINUTE", "concurrent-invocations": "GOWHISK_CONCURRENT_INVOCATIONS",
		"fires-per-minute": "GOWHISK_FIRES_PER_MINUTE",
		"sandbox":          "GOWHISK_SANDBOX", "user-memory": "GOWHISK_USER_MEMORY",
		"pause-grace": "GOWHISK_PAUSE_GRACE", "idle-timeout": "GOWHISK_IDLE_TIMEOUT",
		"sandbox-dir": "GOWHISK_SANDBOX_DIR", "cgroup-parent": "GOWHISK_CGROUP_PARENT",
		"run-as-user": "GOWHISK_RUN_AS_USER", "docker-host": "GOWHISK_DOCKER_HOST",
		"docker-network": "GOWHISK_DOCKER_NETWORK",
	} {
		bindEnv(fs, name, v)
	}
	return cmd
}

// newLogger returns a slog text logger on w at the named level.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", level)}
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func (o standaloneOptions) validate() error {
	switch {
	case o.port < 0 || o.port > 65535:
		return usageError{fmt.Errorf("--port %d out of range 0..65535", o.port)}
	case o.activationMaxAge < 0:
		return usageError{errors.New("--activation-max-age must not be negative")}
	case o.activationMaxCount < 0:
		return usageError{errors.New("--activation-max-count must not be negative")}
	case o.invocationsPerMinute < 0 || o.concurrent < 0 || o.firesPerMinute < 0:
		return usageError{errors.New("namespace limits must not be negative")}
	}
	return o.exec.validate()
}

// validate checks the flags of the execution path.
func (o executionOptions) validate() error {
	switch {
	case o.sandbox != sandboxAuto && o.sandbox != sandboxProcess && o.sandbox != sandboxDocker:
		return usageError{fmt.Errorf("--sandbox %q: want auto, process or docker", o.sandbox)}
	case o.userMemoryMB < entity.DefaultSystemLimits().Memory.Min:
		return usageError{fmt.Errorf("--user-memory %d: want at least %d (MB)", o.userMemoryMB, entity.DefaultSystemLimits().Memory.Min)}
	case o.pauseGrace == 0:
		return usageError{errors.New("--pause-grace must not be 0 (a negative value disables pausing)")}
	case o.idleTimeout == 0:
		return usageError{errors.New("--idle-timeout must not be 0 (a negative value keeps idle containers)")}
	}
	return nil
}

// addExecutionFlags adds the flags of the execution path.
func addExecutionFlags(fs *pflag.FlagSet, o *executionOptions) {
	fs.StringVar(&o.sandbox, "sandbox", sandboxAuto, "where actions run: auto (docker when usable, else process), process or docker")
	fs.IntVar(&o.userMemoryMB, "user-memory", invoker.DefaultUserMemoryMB, "memory in MB for all action containers together")
	fs.DurationVar(&o.pauseGrace, "pause-grace", 50*time.Millisecond, "pause an idle container after this long (negative: never)")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", 10*time.Minute, "remove a container idle for this long (negative: never)")
	fs.StringVar(&o.sandboxDir, "sandbox-dir", "", "process sandbox: working root (default: DATA_DIR/sandbox, or a temporary directory when the data dir is private to root)")
	fs.StringVar(&o.cgroupParent, "cgroup-parent", process.DefaultCgroupParent, "process sandbox: cgroup under which action cgroups are created")
	fs.StringVar(&o.runAsUser, "run-as-user", process.DefaultRunAsUser, "process sandbox: user actions run as when the server runs as root")
	fs.StringVar(&o.dockerHost, "docker-host", defaultDockerHost, "docker sandbox: Docker daemon address (DOCKER_HOST form)")
	fs.StringVar(&o.dockerNetwork, "docker-network", docker.DefaultNetwork, "docker sandbox: network of action containers (host or a Docker network name)")
}
