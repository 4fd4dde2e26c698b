package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/gowhisk/gowhisk/controller"
	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/entity/boltstore"
	"github.com/gowhisk/gowhisk/runtimes"
)

// standaloneServer is a `gowhisk standalone` being started, run and shut
// down. Each start step sets one field; close undoes whatever was set.
type standaloneServer struct {
	o            standaloneOptions
	log          *slog.Logger
	dir          string
	manifest     *entity.Manifest
	manifestJSON []byte

	db      *boltstore.DB
	active  []activeKey // well-known keys still active
	ln      net.Listener
	apihost string
	exec    *execution
	srv     *controller.Server
}

func runStandalone(ctx context.Context, e env, o standaloneOptions) error {
	s, err := prepareStandalone(e, o)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := s.start(ctx); err != nil {
		return err
	}
	s.announce(e.Stdout)
	return s.serve(ctx, stop)
}

// prepareStandalone checks the options and loads what needs no I/O beyond
// reading files: the logger and the runtimes manifest.
func prepareStandalone(e env, o standaloneOptions) (*standaloneServer, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	dir, err := dataDirOrErr(o.dataDir)
	if err != nil {
		return nil, err
	}
	log, err := newLogger(e.Stderr, o.logLevel)
	if err != nil {
		return nil, err
	}
	m, doc, err := loadManifest(o.runtimesFile)
	if err != nil {
		return nil, fmt.Errorf("runtimes manifest: %w", err)
	}
	return &standaloneServer{o: o, log: log, dir: dir, manifest: m, manifestJSON: doc}, nil
}

// loadManifest returns the runtimes manifest (the built-in one when file
// is "") and its document.
func loadManifest(file string) (*entity.Manifest, []byte, error) {
	if file == "" {
		m, err := runtimes.LoadManifest()
		return m, runtimes.ManifestJSON(), err
	}
	doc, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, err
	}
	m, err := runtimes.ReadManifestFile(file)
	return m, doc, err
}

// start opens the store, listens, starts the execution path and builds the
// controller; on failure it undoes the steps done.
func (s *standaloneServer) start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			_ = s.close(ctx)
		}
	}()
	if err := s.openStore(ctx); err != nil {
		return err
	}
	if !isLoopbackHost(s.o.host) && len(s.active) > 0 {
		return refuseNonLoopback(s.o.host, s.dir, s.active)
	}
	if s.ln, err = net.Listen("tcp", net.JoinHostPort(s.o.host, strconv.Itoa(s.o.port))); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	s.apihost = "http://" + s.ln.Addr().String()
	s.exec, err = startExecution(ctx, executionConfig{
		opts: s.o.exec, manifest: s.manifest, manifestJSON: s.manifestJSON,
		entities: s.db.Entities(), activations: s.db.Activations(), limits: s.limits(),
		apiHost: s.apihost, dataDir: s.dir, logger: s.log,
	})
	if err != nil {
		return fmt.Errorf("execution path: %w", err)
	}
	return s.newController()
}

// openStore opens the embedded store, creates the well-known subjects on a
// new data dir, and finds which well-known keys are still active.
func (s *standaloneServer) openStore(ctx context.Context) error {
	fresh := !boltFileExists(s.dir)
	db, err := openBolt(ctx, s.dir, boltstore.Config{
		Retention: boltstore.Retention{MaxAge: s.o.activationMaxAge, MaxCount: s.o.activationMaxCount},
		Logger:    s.log,
	}, standaloneLockWait)
	if err != nil {
		return err
	}
	s.db = db
	if fresh {
		created, err := bootstrapSubjects(ctx, db.Subjects())
		if err != nil {
			return fmt.Errorf("creating the guest and whisk.system namespaces: %w", err)
		}
		for _, sub := range created {
			s.log.Info("created subject with its well-known key", "subject", sub)
		}
	}
	s.active, err = wellKnownKeysActive(ctx, db.Subjects())
	return err
}

// limits are the system limits with the namespace defaults of the flags.
func (s *standaloneServer) limits() entity.SystemLimits {
	l := entity.DefaultSystemLimits()
	l.InvocationsPerMinute = s.o.invocationsPerMinute
	l.ConcurrentInvocations = s.o.concurrent
	l.FiresPerMinute = s.o.firesPerMinute
	return l
}

func (s *standaloneServer) newController() error {
	build, buildNo := buildInfo()
	srv, err := controller.New(controller.Config{
		Entities:    s.db.Entities(),
		Activations: s.db.Activations(),
		Subjects:    s.db.Subjects(),
		Manifest:    s.manifest,
		Limits:      s.limits(),
		Activator:   s.exec.balancer,
		Logger:      s.log,
		Build:       build,
		BuildNo:     buildNo,
	})
	if err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	s.srv = srv
	return nil
}

// announce logs the address and prints the wsk line (or, without an active
// guest key, the address) on stdout.
func (s *standaloneServer) announce(stdout io.Writer) {
	s.log.Info("gowhisk standalone listening", "apihost", s.apihost, "data_dir", s.dir,
		"runtimes", len(s.manifest.Kinds()), "sandbox", s.exec.side.sandbox.kind)
	if guestKeyActive(s.active) {
		fmt.Fprintf(stdout, "wsk property set --apihost %s --auth %s\n", s.apihost, entity.GuestAuthToken)
	} else {
		fmt.Fprintf(stdout, "gowhisk listening on %s (get a key with 'gowhisk admin user get SUBJECT')\n", s.apihost)
	}
}

// serve serves the API until it fails or ctx ends, then shuts down: HTTP,
// the controller's background work (trigger fires), then (close) the
// execution path and the store, which writes out queued activation records.
func (s *standaloneServer) serve(ctx context.Context, stop context.CancelFunc) error {
	ln := s.ln
	s.ln = nil // closed by the HTTP server's shutdown
	return serveAPI(ctx, stop, s.log, s.srv, ln, s.o.shutdownTimeout, s.close)
}

// close stops the execution path and closes the listener and the store,
// whichever were started. Errors of the execution path are logged; the
// store's is returned (its records would be lost).
func (s *standaloneServer) close(ctx context.Context) error {
	if s.ln != nil {
		_ = s.ln.Close()
	}
	if s.exec != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.o.shutdownTimeout)
		if err := s.exec.stop(sctx); err != nil {
			s.log.Warn("stopping the execution path", "err", err)
		}
		cancel()
	}
	if s.db == nil {
		return nil
	}
	if err := s.db.Close(); err != nil {
		s.log.Error("closing the store", "err", err)
		return fmt.Errorf("closing the store: %w", err)
	}
	return nil
}
