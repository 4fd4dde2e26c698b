package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gowhisk/gowhisk/controller"
	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/entity/boltstore"
	"github.com/gowhisk/gowhisk/runtimes"
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

There is no action execution path yet (no invoker): invoking an action, and
rule invocations of a fired trigger, answer 503 "No invokers available".`,
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
	for name, v := range map[string]string{
		"host": "GOWHISK_HOST", "port": "GOWHISK_PORT", "data-dir": "GOWHISK_DATA_DIR",
		"runtimes": "GOWHISK_RUNTIMES", "log-level": "GOWHISK_LOG_LEVEL",
		"activation-max-age": "GOWHISK_ACTIVATION_MAX_AGE", "activation-max-count": "GOWHISK_ACTIVATION_MAX_COUNT",
		"shutdown-timeout":       "GOWHISK_SHUTDOWN_TIMEOUT",
		"invocations-per-minute": "GOWHISK_INVOCATIONS_PER_MINUTE", "concurrent-invocations": "GOWHISK_CONCURRENT_INVOCATIONS",
		"fires-per-minute": "GOWHISK_FIRES_PER_MINUTE",
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
	return nil
}

func loadManifest(file string) (*entity.Manifest, error) {
	if file == "" {
		return runtimes.LoadManifest()
	}
	return runtimes.ReadManifestFile(file)
}

func runStandalone(ctx context.Context, e env, o standaloneOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	dir, err := dataDirOrErr(o.dataDir)
	if err != nil {
		return err
	}
	log, err := newLogger(e.Stderr, o.logLevel)
	if err != nil {
		return err
	}
	manifest, err := loadManifest(o.runtimesFile)
	if err != nil {
		return fmt.Errorf("runtimes manifest: %w", err)
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	fresh := !boltFileExists(dir)
	db, err := openBolt(ctx, dir, boltstore.Config{
		Retention: boltstore.Retention{MaxAge: o.activationMaxAge, MaxCount: o.activationMaxCount},
		Logger:    log,
	}, standaloneLockWait)
	if err != nil {
		return err
	}
	closeDB := func() {
		if err := db.Close(); err != nil {
			log.Error("closing the store", "err", err)
		}
	}

	subjects := db.Subjects()
	if fresh {
		created, err := bootstrapSubjects(ctx, subjects)
		if err != nil {
			closeDB()
			return fmt.Errorf("creating the guest and whisk.system namespaces: %w", err)
		}
		for _, s := range created {
			log.Info("created subject with its well-known key", "subject", s)
		}
	}
	guestActive, err := wellKnownKeysActive(ctx, subjects)
	if err != nil {
		closeDB()
		return err
	}
	if !isLoopbackHost(o.host) && len(guestActive) > 0 {
		closeDB()
		return refuseNonLoopback(o.host, dir, guestActive)
	}

	limits := entity.DefaultSystemLimits()
	limits.InvocationsPerMinute = o.invocationsPerMinute
	limits.ConcurrentInvocations = o.concurrent
	limits.FiresPerMinute = o.firesPerMinute
	build, buildNo := buildInfo()
	srv, err := controller.New(controller.Config{
		Entities:    db.Entities(),
		Activations: db.Activations(),
		Subjects:    subjects,
		Manifest:    manifest,
		Limits:      limits,
		Activator:   nil, // no invoker yet: invokes answer 503 "No invokers available"
		Logger:      log,
		Build:       build,
		BuildNo:     buildNo,
	})
	if err != nil {
		closeDB()
		return fmt.Errorf("controller: %w", err)
	}

	ln, err := net.Listen("tcp", net.JoinHostPort(o.host, strconv.Itoa(o.port)))
	if err != nil {
		closeDB()
		return fmt.Errorf("listen: %w", err)
	}
	apihost := "http://" + ln.Addr().String()
	log.Info("gowhisk standalone listening", "apihost", apihost, "data_dir", dir, "runtimes", len(manifest.Kinds()))
	if guestKeyActive(guestActive) {
		fmt.Fprintf(e.Stdout, "wsk property set --apihost %s --auth %s\n", apihost, entity.GuestAuthToken)
	} else {
		fmt.Fprintf(e.Stdout, "gowhisk listening on %s (get a key with 'gowhisk admin user get SUBJECT')\n", apihost)
	}

	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       70 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()

	var runErr error
	select {
	case err := <-serveErr:
		runErr = fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
		stop() // a second SIGINT/SIGTERM ends the process at once
		log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.shutdownTimeout)
		if err := hs.Shutdown(sctx); err != nil {
			log.Warn("in-flight requests did not finish in time", "err", err)
			_ = hs.Close()
		}
		if err := srv.Close(sctx); err != nil {
			log.Warn("trigger fires did not finish in time", "err", err)
		}
		cancel()
	}
	// Closing the store flushes queued activation records.
	if err := db.Close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("closing the store: %w", err)
	}
	if runErr == nil {
		log.Info("stopped")
	}
	return runErr
}
