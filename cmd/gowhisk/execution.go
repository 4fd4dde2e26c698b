package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/gowhisk/gowhisk/entity"
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
// invoker0 topic; the invoker (the same invokerSide as `gowhisk invoker`)
// consumes them, runs them in its container pool on a process or Docker
// sandbox and acknowledges on completed0, whose messages the bus hands
// straight to the balancer (lean.Bus.Handle) to resolve blocking waiters.
type execution struct {
	log      *slog.Logger
	side     *invokerSide
	bus      *lean.Bus
	balancer *loadbalancer.Lean

	cancel       context.CancelFunc // of the balancer loop's context: ends it
	balancerDone chan error
}

// startExecution opens the invoker side (sandbox, pool, invoker) and the
// balancer over the lean bus and starts their loops. The loops do not end
// with ctx (a signal): stop ends them in the shutdown order.
func startExecution(ctx context.Context, c executionConfig) (*execution, error) {
	x := &execution{log: c.logger, bus: lean.New(lean.Config{}), balancerDone: make(chan error, 1)}
	lb, err := loadbalancer.NewLean(loadbalancer.LeanConfig{
		Producer:     x.bus.Producer(),
		ControllerID: controllerID,
		Invoker:      invokerID,
		UserMemoryMB: c.opts.userMemoryMB,
		Logger:       c.logger,
	})
	if err != nil {
		_ = x.bus.Close()
		return nil, fmt.Errorf("load balancer: %w", err)
	}
	x.balancer = lb
	if _, err := x.bus.Handle(messaging.CompletedTopic(controllerID), lb.HandleAck); err != nil {
		_ = x.bus.Close()
		return nil, fmt.Errorf("load balancer: %w", err)
	}
	topic := messaging.InvokerTopic(invokerID)
	x.side, err = openInvokerSide(ctx, invokerSideConfig{
		id: invokerID, name: invokerName(c.dataDir), opts: c.opts,
		manifest: c.manifest, manifestJSON: c.manifestJSON,
		entities: c.entities, activations: c.activations, limits: c.limits,
		apiHost: c.apiHost, dataDir: c.dataDir,
		consumer: x.bus.Consumer(topic, topic), producer: x.bus.Producer(),
		logger: c.logger,
	})
	if err != nil {
		_ = x.bus.Close()
		return nil, err
	}
	loops, cancel := context.WithCancel(context.WithoutCancel(ctx))
	x.cancel = cancel
	go func() { x.balancerDone <- x.balancer.Run(loops) }()
	x.side.start()
	return x, nil
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
	x.side.stopLoop(ctx)
	x.cancel()
	if err := <-x.balancerDone; err != nil {
		x.log.Warn("load balancer loop", "err", err)
	}
	err := x.side.close(ctx)
	_ = x.bus.Close()
	return err
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
