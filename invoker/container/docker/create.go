package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	dcontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/gowhisk/gowhisk/invoker/container"
	"github.com/gowhisk/gowhisk/runtimes/proxy"
)

// Create creates and starts a container for spec and waits until its proxy
// answers the readiness probe with the container's token. On the host
// network, a port that turns out to be another process's is given up for
// another one (up to portAttempts tries). Errors wrap
// container.ErrProvision, except a user image that cannot be pulled
// (*PullError) or started, which are the action's fault. A container
// whose creation failed or was cancelled is never left behind.
func (f *Factory) Create(ctx context.Context, spec container.Spec) (container.Container, error) {
	if spec.Image == "" {
		return nil, fmt.Errorf("%w: no image for kind %q", container.ErrProvision, spec.Kind)
	}
	if spec.MemoryMB <= 0 {
		return nil, fmt.Errorf("%w: bad memory limit %d MB", container.ErrProvision, spec.MemoryMB)
	}
	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", container.ErrProvision, ctx.Err())
	}
	defer func() { <-f.sem }()

	managed := f.isManaged(spec)
	if err := f.ensureImage(ctx, spec.Image, managed); err != nil {
		return nil, err
	}
	attempts := 1
	if f.cfg.Network == "host" {
		attempts = portAttempts
	}
	var err error
	for i := range attempts {
		var c *dockerContainer
		c, err = f.createOnce(ctx, spec, managed)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, errPortTaken) || ctx.Err() != nil {
			break
		}
		f.log.Info("container port taken: trying another", "attempt", i+1, "err", err)
	}
	switch {
	case errors.Is(err, container.ErrProvision):
		return nil, err
	case !managed && !errors.Is(err, errPortTaken):
		return nil, err // a user image that does not start: the action's fault
	}
	return nil, fmt.Errorf("%w: %w", container.ErrProvision, err)
}

// newToken is a random identity token for a container's proxy.
func newToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// createOnce creates, starts and waits for one container. The create and
// start requests run to their answer even when ctx ends (bounded by
// Timeouts.Create), so that the daemon never finishes a create nobody
// removes: the container is then removed and ctx's error returned.
func (f *Factory) createOnce(ctx context.Context, spec container.Spec, managed bool) (*dockerContainer, error) {
	c := &dockerContainer{f: f, image: spec.Image, userImage: !managed, token: newToken()}
	listen := ""
	if f.cfg.Network == "host" {
		port, err := f.ports.get()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", container.ErrProvision, err)
		}
		c.port = port
		c.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		listen = c.addr
	}
	shares := int64(spec.CPUShares)
	if shares <= 0 {
		shares = CPUShares(f.cfg.UserMemoryMB, spec.MemoryMB)
	}
	cfg := &dcontainer.Config{
		Image:  spec.Image,
		Env:    envList(spec.Env, envVar{f.cfg.ListenEnv, listen}, envVar{proxy.TokenEnv, c.token}),
		Labels: containerLabels(f.cfg.InvokerName, spec.Kind, spec.Labels),
	}
	hc := hostConfig(spec.MemoryMB, shares, f.cfg.Network)

	// Not cancelled with ctx: see above.
	octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.cfg.Timeouts.Create)
	defer cancel()
	var created client.ContainerCreateResult
	var err error
	f.creating.add()
	for range 3 { // a name clash with a leftover: take the next number
		c.name = ContainerName(f.cfg.InvokerName, f.counter.Add(1), spec.Name)
		created, err = f.cli.ContainerCreate(octx, client.ContainerCreateOptions{Name: c.name, Config: cfg, HostConfig: hc})
		if err == nil || !cerrdefs.IsConflict(err) {
			break
		}
	}
	if err != nil {
		// The daemon may have made the container all the same (a request
		// cut by its timeout): remove it by name. A name clash is another
		// container's name.
		if !cerrdefs.IsConflict(err) {
			f.removeQuietly(ctx, c.name)
		}
		f.creating.done()
		c.releasePort()
		return nil, f.createError(spec, "creating", err)
	}
	f.creating.done()
	c.id = created.ID
	log := f.log.With("container", c.name, "id", shortID(c.id))
	if ctx.Err() != nil {
		f.removeQuietly(ctx, c.id)
		c.releasePort()
		return nil, fmt.Errorf("%w: %w", container.ErrProvision, ctx.Err())
	}
	if _, err := f.cli.ContainerStart(octx, c.id, client.ContainerStartOptions{}); err != nil {
		f.removeQuietly(ctx, c.id)
		c.releasePort()
		return nil, f.createError(spec, "starting", err)
	}
	c.started = time.Now()
	c.logs = newLogBuffer(f.cfg.LogBufferBytes)
	if err := c.followLogs(); err != nil {
		f.removeQuietly(ctx, c.id)
		c.releasePort()
		return nil, fmt.Errorf("%w: %w", container.ErrProvision, err)
	}
	if c.addr == "" {
		addr, err := f.containerAddr(ctx, c.id)
		if err != nil {
			c.destroyQuietly(ctx)
			return nil, fmt.Errorf("%w: %w", container.ErrProvision, err)
		}
		c.addr = addr
	}
	if err := c.waitReady(ctx); err != nil {
		c.destroyQuietly(ctx)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w", container.ErrProvision, err)
		}
		return nil, err
	}
	c.http = newProxyClient(c.addr)
	log.Debug("container ready", "addr", c.addr, "ms", time.Since(c.started).Milliseconds())
	return c, nil
}

// removeQuietly force-removes a container (by id or name) that failed to
// come up, with a context of its own: the caller's may have ended.
func (f *Factory) removeQuietly(ctx context.Context, ref string) {
	if err := f.remove(context.WithoutCancel(ctx), ref); err != nil {
		f.log.Warn("removing a failed container", "container", ref, "err", err)
	}
}

// createError maps a create or start failure: OpenWhisk reports a user
// image without the executable as the developer's problem and anything
// else as a provisioning failure.
func (f *Factory) createError(spec container.Spec, op string, err error) error {
	f.log.Warn("container "+op+" failed", "image", spec.Image, "err", err)
	if !f.isManaged(spec) && isExecNotFound(err) {
		return fmt.Errorf("executable file not found in image %s", spec.Image)
	}
	return fmt.Errorf("%w: %s container of %s: %w", container.ErrProvision, op, spec.Image, err)
}

// inflight counts operations in progress and lets a caller wait until
// none is.
type inflight struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0
}

func (w *inflight) add() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n == 0 {
		w.idle = make(chan struct{})
	}
	w.n++
}

func (w *inflight) done() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n--
	if w.n == 0 {
		close(w.idle)
	}
}

// wait waits until nothing is in flight, or ctx ends.
func (w *inflight) wait(ctx context.Context) error {
	w.mu.Lock()
	if w.n == 0 {
		w.mu.Unlock()
		return nil
	}
	idle := w.idle
	w.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
