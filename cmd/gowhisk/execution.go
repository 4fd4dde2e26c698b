package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/invoker"
	"github.com/gowhisk/gowhisk/invoker/pool"
	"github.com/gowhisk/gowhisk/loadbalancer"
	"github.com/gowhisk/gowhisk/messaging"
	"github.com/gowhisk/gowhisk/messaging/lean"
	"github.com/gowhisk/gowhisk/runtimes"
)

// executionOptions are the flags of the execution path.
type executionOptions struct {
	sandbox                 string
	userMemoryMB            int
	pauseGrace, idleTimeout time.Duration
	sandboxDir              string
	cgroupParent, runAsUser string
	dockerHost              string
	dockerNetwork           string
}

// The standalone server is controller 0 with the one invoker 0, as
// OpenWhisk's standalone mode.
const (
	controllerID = "0"
	invokerID    = 0
	// sandboxCleanupTimeout bounds the removal of leftover sandboxes.
	sandboxCleanupTimeout = time.Minute
)

// executionConfig is what the execution path needs from the server.
type executionConfig struct {
	opts         executionOptions
	manifest     *entity.Manifest
	manifestJSON []byte // the manifest document, for its stem cells
	entities     entity.Store
	activations  entity.Activations
	limits       entity.SystemLimits
	apiHost      string // __OW_API_HOST of every container
	dataDir      string
	logger       *slog.Logger
}

// execution is the standalone execution path (design.md §1), the same as
// the distributed one with in-process adapters: the lean balancer (the
// controller's Activator) publishes ActivationMessages on the lean bus's
// invoker0 topic; the invoker consumes them, runs them in its container
// pool on a process or Docker sandbox and acknowledges on completed0,
// which the balancer consumes to resolve blocking waiters.
type execution struct {
	log      *slog.Logger
	sandbox  *sandbox
	pool     *pool.Pool
	bus      *lean.Bus
	balancer *loadbalancer.Lean
	inv      *invoker.Invoker
	acks     messaging.Consumer // the balancer's; closing it ends its loop
	work     messaging.Consumer // the invoker's; closing it ends its loop

	cancel       context.CancelFunc // of the loops' context
	balancerDone chan error
	invokerDone  chan error
}

// startExecution opens the sandbox (removing a crashed predecessor's
// leftovers), starts the pool with the manifest's stem cells, and starts
// the balancer's and the invoker's loops. The loops do not end with ctx
// (a signal): stop ends them in the shutdown order.
func startExecution(ctx context.Context, c executionConfig) (*execution, error) {
	cells, err := poolStemCells(c.manifest, c.manifestJSON)
	if err != nil {
		return nil, fmt.Errorf("runtimes manifest: %w", err)
	}
	name := invokerName(c.dataDir)
	sb, err := openSandbox(ctx, defaultSandboxConfig(sandboxConfig{
		opts: c.opts, dataDir: c.dataDir, invoker: name, images: runtimeImages(c.manifest), logger: c.logger,
	}))
	if err != nil {
		return nil, err
	}
	if err := sb.cleanup(ctx, sandboxCleanupTimeout); err != nil {
		c.logger.Warn("removing leftover sandboxes", "err", err)
	}
	x := &execution{log: c.logger, sandbox: sb, balancerDone: make(chan error, 1), invokerDone: make(chan error, 1)}
	loops, cancel := context.WithCancel(context.WithoutCancel(ctx))
	x.cancel = cancel
	x.pool, err = pool.New(loops, pool.Config{
		UserMemoryMB: c.opts.userMemoryMB,
		PauseGrace:   c.opts.pauseGrace,
		IdleTimeout:  c.opts.idleTimeout,
		StemCells:    cells,
		Logger:       c.logger,
		Env:          map[string]string{"__OW_API_HOST": c.apiHost},
		Labels:       map[string]string{"invoker": messaging.InvokerTopic(invokerID)},
	}, sb.factory)
	if err != nil {
		x.abort(ctx)
		return nil, fmt.Errorf("container pool: %w", err)
	}
	if err := x.wire(c); err != nil {
		x.abort(ctx)
		return nil, err
	}
	go func() { x.balancerDone <- x.balancer.Run(loops) }()
	go func() { x.invokerDone <- x.inv.Run(loops) }()
	c.logger.Info("execution path ready", "sandbox", sb.kind, "invoker", name,
		"userMemoryMB", c.opts.userMemoryMB, "pauseGrace", c.opts.pauseGrace, "stemCells", len(cells))
	return x, nil
}

// wire creates the bus, the balancer and the invoker.
func (x *execution) wire(c executionConfig) error {
	x.bus = lean.New(lean.Config{})
	completed := messaging.CompletedTopic(controllerID)
	x.acks = x.bus.Consumer(completed, completed)
	lb, err := loadbalancer.NewLean(loadbalancer.LeanConfig{
		Producer:     x.bus.Producer(),
		Acks:         x.acks,
		ControllerID: controllerID,
		Invoker:      invokerID,
		UserMemoryMB: c.opts.userMemoryMB,
		Logger:       c.logger,
	})
	if err != nil {
		return fmt.Errorf("load balancer: %w", err)
	}
	x.balancer = lb
	topic := messaging.InvokerTopic(invokerID)
	x.work = x.bus.Consumer(topic, topic)
	inv, err := invoker.New(invoker.Config{
		ID:           invokerID,
		Consumer:     x.work,
		Producer:     x.bus.Producer(),
		Entities:     c.entities,
		Activations:  c.activations,
		Pool:         x.pool,
		Manifest:     c.manifest,
		Limits:       c.limits,
		UserMemoryMB: c.opts.userMemoryMB,
		APIHost:      c.apiHost,
		Logger:       c.logger,
	})
	if err != nil {
		return fmt.Errorf("invoker: %w", err)
	}
	x.inv = inv
	return nil
}

// poolStemCells turns the manifest document's stem cells into the pool's,
// with each kind's image (the Docker sandbox starts that image; the
// process sandbox runs the kind's local launcher).
func poolStemCells(m *entity.Manifest, manifestJSON []byte) ([]pool.StemCell, error) {
	cells, err := runtimes.StemCells(manifestJSON)
	if err != nil {
		return nil, err
	}
	out := make([]pool.StemCell, 0, len(cells))
	for _, c := range cells {
		k, ok := m.Resolve(c.Kind)
		if !ok {
			return nil, fmt.Errorf("stem cells of unknown kind %q", c.Kind)
		}
		if c.InitialCount <= 0 {
			continue
		}
		out = append(out, pool.StemCell{Kind: k.Kind, Image: k.Image.String(), MemoryMB: c.MemoryMB, Count: c.InitialCount})
	}
	return out, nil
}

// stop ends the execution path in the shutdown order, after the HTTP
// server and the controller's background work have stopped: the invoker
// stops taking activations and finishes those in progress (bounded by
// ctx; then they are cancelled), the balancer stops (closing the waiters
// left), the pool destroys every container, the factory removes whatever
// is left of the invoker's sandboxes, and the bus closes.
func (x *execution) stop(ctx context.Context) error {
	x.drainBus(ctx)
	_ = x.work.Close()
	if err := x.waitLoop(ctx, x.invokerDone); err != nil {
		x.log.Warn("invoker loop", "err", err)
	}
	_ = x.acks.Close()
	if err := x.waitLoop(ctx, x.balancerDone); err != nil {
		x.log.Warn("load balancer loop", "err", err)
	}
	x.cancel()
	var errs []error
	if err := x.pool.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("closing the container pool: %w", err))
	}
	errs = append(errs, x.closeSandbox(ctx))
	_ = x.bus.Close()
	return errors.Join(errs...)
}

// drainBus waits, bounded by ctx, until the invoker has fetched every
// accepted activation: the in-process bus loses what it holds when it
// closes.
func (x *execution) drainBus(ctx context.Context) {
	topic := messaging.InvokerTopic(invokerID)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for x.bus.Stats(topic).Retained > 0 {
		select {
		case <-ctx.Done():
			x.log.Warn("activations still queued for the invoker are dropped", "count", x.bus.Stats(topic).Retained)
			return
		case <-tick.C:
		}
	}
}

// waitLoop waits for a loop to return; when ctx ends first it cancels the
// loops (and the activations in progress) and waits for the return.
func (x *execution) waitLoop(ctx context.Context, done <-chan error) error {
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		x.log.Warn("activations in progress did not finish in time; cancelling them")
		x.cancel()
		return <-done
	}
}

// closeSandbox removes the invoker's remaining sandboxes and releases the
// factory.
func (x *execution) closeSandbox(ctx context.Context) error {
	var errs []error
	if err := x.sandbox.cleanup(ctx, sandboxCleanupTimeout); err != nil {
		errs = append(errs, fmt.Errorf("removing sandboxes: %w", err))
	} else if x.sandbox.dir != "" {
		// Nothing is left to recover after a crash: remove the launchers
		// and the empty sandbox directories too.
		if err := os.RemoveAll(x.sandbox.dir); err != nil {
			errs = append(errs, fmt.Errorf("removing the sandbox directory: %w", err))
		}
	}
	if err := x.sandbox.close(); err != nil {
		errs = append(errs, fmt.Errorf("closing the sandbox: %w", err))
	}
	return errors.Join(errs...)
}

// abort undoes a partial start (no loop runs yet).
func (x *execution) abort(ctx context.Context) {
	x.cancel()
	if x.pool != nil {
		_ = x.pool.Close(ctx)
	}
	if err := x.closeSandbox(ctx); err != nil {
		x.log.Warn("cleaning up after a failed start", "err", err)
	}
	if x.bus != nil {
		_ = x.bus.Close()
	}
}
