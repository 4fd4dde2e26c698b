package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/invoker"
	"github.com/gowhisk/gowhisk/invoker/pool"
	"github.com/gowhisk/gowhisk/messaging"
)

// invokerSideConfig is what the invoker part of an execution path needs:
// the same for `gowhisk standalone` (over the in-process bus) and
// `gowhisk invoker` (over Kafka).
type invokerSideConfig struct {
	id           int    // the invoker's number: it consumes invoker<id>
	name         string // the sandbox name: scopes cgroups, work dirs and containers
	opts         executionOptions
	manifest     *entity.Manifest
	manifestJSON []byte // the manifest document, for its stem cells
	entities     entity.Store
	activations  entity.Activations
	limits       entity.SystemLimits
	apiHost      string // __OW_API_HOST of every container
	dataDir      string // for the process sandbox's default work root
	consumer     messaging.Consumer
	producer     messaging.Producer
	logger       *slog.Logger
}

// invokerSide is an invoker with its container pool and sandbox: it
// consumes ActivationMessages, runs them and acknowledges them. Open it
// with openInvokerSide, start its loop with start, and end it with
// stopLoop then close.
type invokerSide struct {
	log     *slog.Logger
	sandbox *sandbox
	pool    *pool.Pool
	inv     *invoker.Invoker
	work    messaging.Consumer // closing it ends the loop

	loops  context.Context // of the pool and the loop; not ended by a signal
	cancel context.CancelFunc
	done   chan error
}

// openInvokerSide opens the sandbox (removing what a crashed predecessor
// of the same name left), starts the pool with the manifest's stem cells
// and builds the invoker. Its loop does not run yet.
func openInvokerSide(ctx context.Context, c invokerSideConfig) (*invokerSide, error) {
	cells, err := poolStemCells(c.manifest, c.manifestJSON)
	if err != nil {
		return nil, fmt.Errorf("runtimes manifest: %w", err)
	}
	sb, err := openSandbox(ctx, defaultSandboxConfig(sandboxConfig{
		opts: c.opts, dataDir: c.dataDir, invoker: c.name, images: runtimeImages(c.manifest), logger: c.logger,
	}))
	if err != nil {
		return nil, err
	}
	if err := sb.cleanup(ctx, sandboxCleanupTimeout); err != nil {
		c.logger.Warn("removing leftover sandboxes", "err", err)
	}
	s := &invokerSide{log: c.logger, sandbox: sb, work: c.consumer, done: make(chan error, 1)}
	s.loops, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.pool, err = pool.New(s.loops, pool.Config{
		UserMemoryMB: c.opts.userMemoryMB,
		PauseGrace:   c.opts.pauseGrace,
		IdleTimeout:  c.opts.idleTimeout,
		StemCells:    cells,
		Logger:       c.logger,
		Env:          map[string]string{"__OW_API_HOST": c.apiHost},
		Labels:       map[string]string{"invoker": messaging.InvokerTopic(c.id)},
	}, sb.factory)
	if err != nil {
		s.abort(ctx)
		return nil, fmt.Errorf("container pool: %w", err)
	}
	s.inv, err = invoker.New(invoker.Config{
		ID:           c.id,
		Consumer:     c.consumer,
		Producer:     c.producer,
		Entities:     c.entities,
		Activations:  c.activations,
		Pool:         s.pool,
		Manifest:     c.manifest,
		Limits:       c.limits,
		UserMemoryMB: c.opts.userMemoryMB,
		APIHost:      c.apiHost,
		Logger:       c.logger,
	})
	if err != nil {
		s.abort(ctx)
		return nil, fmt.Errorf("invoker: %w", err)
	}
	c.logger.Info("invoker ready", "invoker", c.id, "sandbox", sb.kind, "sandboxName", c.name,
		"userMemoryMB", c.opts.userMemoryMB, "pauseGrace", c.opts.pauseGrace, "stemCells", len(cells))
	return s, nil
}

// start runs the invoker's loop until its consumer is closed.
func (s *invokerSide) start() {
	go func() { s.done <- s.inv.Run(s.loops) }()
}

// stopLoop stops taking activations (closing the consumer) and waits,
// bounded by ctx, for those in progress to finish; then they are
// cancelled.
func (s *invokerSide) stopLoop(ctx context.Context) {
	_ = s.work.Close()
	select {
	case err := <-s.done:
		if err != nil {
			s.log.Warn("invoker loop", "err", err)
		}
	case <-ctx.Done():
		s.log.Warn("activations in progress did not finish in time; cancelling them")
		s.cancel()
		<-s.done
	}
}

// close, after stopLoop, destroys every container, removes whatever is
// left of the invoker's sandboxes and releases the factory.
func (s *invokerSide) close(ctx context.Context) error {
	s.cancel()
	var errs []error
	if err := s.pool.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("closing the container pool: %w", err))
	}
	errs = append(errs, s.closeSandbox(ctx))
	return errors.Join(errs...)
}

// closeSandbox removes the invoker's remaining sandboxes and releases the
// factory.
func (s *invokerSide) closeSandbox(ctx context.Context) error {
	var errs []error
	if err := s.sandbox.cleanup(ctx, sandboxCleanupTimeout); err != nil {
		errs = append(errs, fmt.Errorf("removing sandboxes: %w", err))
	} else if s.sandbox.dir != "" {
		// Nothing is left to recover after a crash: remove the launchers
		// and the empty sandbox directories too.
		if err := os.RemoveAll(s.sandbox.dir); err != nil {
			errs = append(errs, fmt.Errorf("removing the sandbox directory: %w", err))
		}
	}
	if err := s.sandbox.close(); err != nil {
		errs = append(errs, fmt.Errorf("closing the sandbox: %w", err))
	}
	return errors.Join(errs...)
}

// abort undoes a partial open (the loop does not run).
func (s *invokerSide) abort(ctx context.Context) {
	s.cancel()
	if s.pool != nil {
		_ = s.pool.Close(ctx)
	}
	if err := s.closeSandbox(ctx); err != nil {
		s.log.Warn("cleaning up after a failed start", "err", err)
	}
}
