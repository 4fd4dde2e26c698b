// Package docker is the Docker sandbox of the invoker: each action container
// is a Docker container created through the Engine API (github.com/moby/moby
// client), running an action proxy that answers /init and /run over HTTP
// (reference §3). Containers get OpenWhisk's docker-level limits (§3.8):
// memory and memory-swap, CPU shares, a pids limit, dropped capabilities and
// a nofile ulimit; they are paused and resumed through the API, their logs
// are read through the API up to the activation sentinels (§3.4, §4.7), and
// every container carries this invoker's label so that leftovers are removed
// at start and at shutdown (§4.6).
//
// Networking: on the host network (the default here) each container's proxy
// listens on its own 127.0.0.1 port (Config.Ports), passed in an
// environment variable; on a named network the proxy listens on port 8080
// of the container's address. Each container also gets a random token
// (runtimes/proxy.TokenEnv) that its proxy sends back on every answer: a
// container is ready once GET /ready answers with its token, so that
// another process on the same port (another invoker's container, a test
// server) is never taken for it; a port found taken is given up for
// another.
//
// A container whose create the caller gave up on is removed, never left
// "created": create and start requests run to the daemon's answer.
package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/gowhisk/gowhisk/invoker/container"
)

// Defaults of Config.
const (
	DefaultNetwork       = "host"
	DefaultListenEnv     = "OW_LISTEN"
	DefaultProxyPort     = 8080
	DefaultUserMemoryMB  = 2048
	defaultParallel      = 10
	defaultLogBuffer     = 16 << 20
	defaultMaxResponse   = 64 << 20
	defaultOOMGrace      = 500 * time.Millisecond
	defaultLogIdle       = 2 * time.Second
	defaultFirstHostPort = 24000
	defaultLastHostPort  = 27999
)

// Timeouts bound each Docker operation (OpenWhisk's docker client
// timeouts, reference §4.5); zero fields take the defaults.
type Timeouts struct {
	Create  time.Duration // create + start (default 1 min)
	Ready   time.Duration // until the proxy accepts connections (default 1 min)
	Remove  time.Duration // default 1 min
	Inspect time.Duration // default 1 min
	Pause   time.Duration // default 10 s
	Unpause time.Duration // default 10 s
	Pull    time.Duration // default 2 min (OpenWhisk: 10 min)
	List    time.Duration // default 1 min
	LogIdle time.Duration // waiting for sentinels: give up after this long without output (default 2 s)
}

func (t Timeouts) withDefaults() Timeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.Create, time.Minute)
	def(&t.Ready, time.Minute)
	def(&t.Remove, time.Minute)
	def(&t.Inspect, time.Minute)
	def(&t.Pause, 10*time.Second)
	def(&t.Unpause, 10*time.Second)
	def(&t.Pull, 2*time.Minute)
	def(&t.List, time.Minute)
	def(&t.LogIdle, defaultLogIdle)
	return t
}

// Config configures a Factory.
type Config struct {
	// Host is the daemon address in DOCKER_HOST form (unix:///path,
	// tcp://host:port); empty means the client's default socket.
	Host string
	// Network is "host" (default) or the name of a Docker network.
	Network string
	// InvokerName identifies this invoker in container names
	// (wsk<name>_<n>_...) and in the LabelInvoker label (required).
	InvokerName string
	// UserMemoryMB is the invoker's user memory, for CPU shares
	// (default 2048, as the pool and the load balancer).
	UserMemoryMB int
	// Ports is the range of 127.0.0.1 ports for proxies on the host
	// network (default 24000-27999), one per container. Each invoker
	// starts handing them out at an offset given by a hash of its name, so
	// that invokers sharing a host do not try the same ports in the same
	// order; giving each its own range keeps them apart altogether. A port
	// is used once the container's proxy answered the readiness probe with
	// the container's token; when another process has the port, the
	// container is removed and Create retries on another port (up to
	// portAttempts times).
	Ports PortRange
	// ListenEnv is the environment variable telling the action proxy its
	// listen address (default OW_LISTEN, as cmd/actionproxy reads it); ProxyPort is the port on
	// a named network (default 8080).
	ListenEnv string
	ProxyPort int
	// ManagedImages are the runtime images of the manifest: never pulled.
	// Images of kinds other than "blackbox", and Spec.Native images, count
	// as managed too.
	ManagedImages []string
	// NoPull disables pulling user images: a user image must exist locally.
	NoPull bool
	// MaxParallelCreates bounds concurrent container creations (default 10).
	MaxParallelCreates int
	// LogBufferBytes bounds the output kept per container between two Logs
	// calls (default 16 MiB); MaxResponseBytes bounds a /init or /run
	// response body read (default 64 MiB).
	LogBufferBytes   int64
	MaxResponseBytes int64
	// OOMGrace is how long to look for an OOM kill after the connection to
	// a container broke (default 500 ms).
	OOMGrace time.Duration
	Timeouts Timeouts
	Logger   *slog.Logger
}

// Factory creates Docker containers. It implements container.Factory.
type Factory struct {
	cfg     Config
	cli     *client.Client
	log     *slog.Logger
	ports   *ports
	sem     chan struct{}
	managed map[string]bool
	counter atomic.Uint64
	pullMu  sync.Mutex // one pull at a time
	// creating counts create requests in flight, which Cleanup waits for:
	// a container whose create has not returned yet cannot be listed.
	creating inflight
}

// portAttempts bounds how often Create tries another port after the one
// it took turned out to be another process's.
const portAttempts = 4

var _ container.Factory = (*Factory)(nil)

// New connects to the daemon at cfg.Host and returns a factory. It checks
// that the daemon answers (bounded by ctx).
func New(ctx context.Context, cfg Config) (*Factory, error) {
	if cfg.InvokerName == "" {
		return nil, errors.New("docker: Config.InvokerName is required")
	}
	if sanitizeName(cfg.InvokerName) != cfg.InvokerName {
		return nil, fmt.Errorf("docker: invoker name %q may only hold [A-Za-z0-9_]", cfg.InvokerName)
	}
	if cfg.Network == "" {
		cfg.Network = DefaultNetwork
	}
	if cfg.Network == "none" {
		return nil, errors.New(`docker: network "none" cannot reach the action proxy; use "host" or a named network`)
	}
	if cfg.UserMemoryMB <= 0 {
		cfg.UserMemoryMB = DefaultUserMemoryMB
	}
	if cfg.Ports.First <= 0 && cfg.Ports.Last <= 0 {
		cfg.Ports = PortRange{defaultFirstHostPort, defaultLastHostPort}
	}
	if cfg.Ports.First <= 0 || cfg.Ports.Last < cfg.Ports.First || cfg.Ports.Last > 65535 {
		return nil, fmt.Errorf("docker: bad port range %d-%d", cfg.Ports.First, cfg.Ports.Last)
	}
	if cfg.ListenEnv == "" {
		cfg.ListenEnv = DefaultListenEnv
	}
	if cfg.ProxyPort <= 0 {
		cfg.ProxyPort = DefaultProxyPort
	}
	if cfg.MaxParallelCreates <= 0 {
		cfg.MaxParallelCreates = defaultParallel
	}
	if cfg.LogBufferBytes <= 0 {
		cfg.LogBufferBytes = defaultLogBuffer
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = defaultMaxResponse
	}
	if cfg.OOMGrace <= 0 {
		cfg.OOMGrace = defaultOOMGrace
	}
	cfg.Timeouts = cfg.Timeouts.withDefaults()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cli, err := newClient(cfg.Host)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, cfg.Timeouts.Inspect)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker: daemon at %q: %w", cfg.Host, err)
	}
	f := &Factory{
		cfg:     cfg,
		cli:     cli,
		log:     cfg.Logger.With("sandbox", "docker", "invoker", cfg.InvokerName),
		ports:   newPorts(cfg.Ports, portStart(cfg.InvokerName, cfg.Ports), nil),
		sem:     make(chan struct{}, cfg.MaxParallelCreates),
		managed: map[string]bool{},
	}
	for _, im := range cfg.ManagedImages {
		f.managed[im] = true
	}
	return f, nil
}

func newClient(host string) (*client.Client, error) {
	var opts []client.Opt
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	cli, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker: client for %q: %w", host, err)
	}
	return cli, nil
}

// Close releases the client's connections (containers are left alone:
// call Cleanup first to remove them).
func (f *Factory) Close() error { return f.cli.Close() }

// Available reports whether a Docker daemon answers at host (DOCKER_HOST
// form; empty for the default socket) and has every one of images
// locally; the error says what is missing.
func Available(ctx context.Context, host string, images ...string) error {
	cli, err := newClient(host)
	if err != nil {
		return err
	}
	defer cli.Close()
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return fmt.Errorf("docker: no daemon at %q: %w", host, err)
	}
	var missing []error
	for _, im := range images {
		if _, err := cli.ImageInspect(ctx, im); err != nil {
			missing = append(missing, fmt.Errorf("image %s: %w", im, err))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("docker: missing images: %w", errors.Join(missing...))
	}
	return nil
}

// Cleanup removes every container labelled with this invoker's name, in
// any state (created, running, paused, exited, dead), at start, after a
// crash, and at shutdown. It first waits (bounded by ctx) for the create
// requests in flight, so that a container the daemon is still making is
// not missed.
func (f *Factory) Cleanup(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, f.cfg.Timeouts.Create)
	if err := f.creating.wait(wctx); err != nil {
		f.log.Warn("cleanup: create requests still in flight", "err", err)
	}
	cancel()
	lctx, cancel := context.WithTimeout(ctx, f.cfg.Timeouts.List)
	res, err := f.cli.ContainerList(lctx, client.ContainerListOptions{All: true, Filters: cleanupFilters(f.cfg.InvokerName)})
	cancel()
	if err != nil {
		return fmt.Errorf("docker: listing containers of %s: %w", f.cfg.InvokerName, err)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, f.cfg.MaxParallelCreates)
	)
	for _, c := range res.Items {
		if !ownsContainer(f.cfg.InvokerName, c.Names, c.Labels) {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(id string, names []string) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f.remove(ctx, id); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			f.log.Info("removed leftover container", "container", id, "names", names)
		}(c.ID, c.Names)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// remove force-removes a container by id or name; a container that is
// already gone is fine.
func (f *Factory) remove(ctx context.Context, id string) error {
	rctx, cancel := context.WithTimeout(ctx, f.cfg.Timeouts.Remove)
	defer cancel()
	_, err := f.cli.ContainerRemove(rctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("docker: removing container %s: %w", id, err)
	}
	return nil
}

func (f *Factory) isManaged(spec container.Spec) bool {
	return spec.Kind != "blackbox" || spec.Native || f.managed[spec.Image]
}

// containerAddr is the proxy address of a container on a named network.
func (f *Factory) containerAddr(ctx context.Context, id string) (string, error) {
	res, err := f.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("inspecting %s: %w", shortID(id), err)
	}
	ns := res.Container.NetworkSettings
	if ns == nil || ns.Networks[f.cfg.Network] == nil {
		return "", fmt.Errorf("container %s is not on network %q", shortID(id), f.cfg.Network)
	}
	ip := ns.Networks[f.cfg.Network].IPAddress
	if !ip.IsValid() || ip == (netip.Addr{}) {
		return "", fmt.Errorf("container %s has no address on network %q", shortID(id), f.cfg.Network)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(f.cfg.ProxyPort)), nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
