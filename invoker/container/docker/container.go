package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/gowhisk/gowhisk/invoker/container"
)

// initRetryInterval is how often /init is retried while the proxy refuses
// connections (reference §3.1).
const initRetryInterval = 50 * time.Millisecond

// dockerContainer is one action container. It implements
// container.Container.
type dockerContainer struct {
	f         *Factory
	id, name  string
	image     string
	userImage bool
	port      int    // host network: the reserved 127.0.0.1 port
	addr      string // host:port of the action proxy
	http      *http.Client
	started   time.Time
	logs      *logBuffer
	stopLogs  context.CancelFunc

	mu        sync.Mutex
	destroyed bool
	portFreed bool
}

var _ container.Container = (*dockerContainer)(nil)

func (c *dockerContainer) ID() string { return c.id }

// newProxyClient is a keep-alive HTTP client to one action proxy. It never
// uses an HTTP proxy from the environment; the request context bounds each
// call.
func newProxyClient(addr string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr)
		},
		MaxIdleConns:        16,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     5 * time.Minute,
		DisableCompression:  true,
	}
	return &http.Client{Transport: tr}
}

func (c *dockerContainer) releasePort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.port != 0 && !c.portFreed {
		c.portFreed = true
		c.f.ports.put(c.port)
	}
}

// followLogs starts reading the container's output (both streams, with
// timestamps, following) into its log buffer until the container is gone
// or Destroy stops it.
func (c *dockerContainer) followLogs() error {
	ctx, cancel := context.WithCancel(context.Background())
	r, err := c.f.cli.ContainerLogs(ctx, c.id, client.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true, Timestamps: true, Follow: true,
	})
	if err != nil {
		cancel()
		return fmt.Errorf("following logs of %s: %w", c.name, err)
	}
	c.stopLogs = cancel
	go func() {
		defer r.Close()
		c.logs.follow(r, time.Now)
	}()
	return nil
}

// waitReady waits until the proxy accepts TCP connections, checking now and
// then that the container still runs.
func (c *dockerContainer) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.f.cfg.Timeouts.Ready)
	defer cancel()
	d := net.Dialer{Timeout: time.Second}
	delay := time.Millisecond
	lastCheck := time.Now()
	for {
		conn, err := d.DialContext(ctx, "tcp", c.addr)
		if err == nil {
			conn.Close()
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("the action proxy of %s did not listen on %s: %w", c.name, c.addr, ctx.Err())
		}
		if time.Since(lastCheck) > 200*time.Millisecond {
			lastCheck = time.Now()
			if st, ierr := c.state(ctx); ierr == nil && !st.Running {
				out := c.outputTail(ctx)
				if c.userImage {
					return fmt.Errorf("the container of image %s exited with code %d before its proxy listened%s", c.image, st.ExitCode, out)
				}
				return fmt.Errorf("the container %s exited with code %d before its proxy listened on %s%s", c.name, st.ExitCode, c.addr, out)
			}
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
		}
		delay = min(delay*2, initRetryInterval)
	}
}

// outputTail is the container's last output, for an error message.
func (c *dockerContainer) outputTail(ctx context.Context) string {
	lines, _, _ := c.Logs(ctx, 2048, false)
	if len(lines) == 0 {
		return ""
	}
	var b bytes.Buffer
	b.WriteString(": ")
	for i, l := range lines {
		if i > 0 {
			b.WriteString(" | ")
		}
		b.WriteString(l.Text)
	}
	return b.String()
}

type containerState struct {
	Running, Paused, OOMKilled bool
	ExitCode                   int
}

func (c *dockerContainer) state(ctx context.Context) (containerState, error) {
	ictx, cancel := context.WithTimeout(ctx, c.f.cfg.Timeouts.Inspect)
	defer cancel()
	res, err := c.f.cli.ContainerInspect(ictx, c.id, client.ContainerInspectOptions{})
	if err != nil {
		return containerState{}, err
	}
	st := res.Container.State
	if st == nil {
		return containerState{}, errors.New("no state")
	}
	return containerState{Running: st.Running, Paused: st.Paused, OOMKilled: st.OOMKilled, ExitCode: st.ExitCode}, nil
}

// Init posts {"value": req} to /init, retrying every 50 ms while the proxy
// refuses connections, until ctx ends.
func (c *dockerContainer) Init(ctx context.Context, req container.InitRequest) (container.RunResult, error) {
	body, err := json.Marshal(struct {
		Value container.InitRequest `json:"value"`
	}{req})
	if err != nil {
		return container.RunResult{}, fmt.Errorf("encoding /init: %w", err)
	}
	start := time.Now()
	for {
		res, err := c.post(ctx, "/init", body)
		if err != nil && errors.Is(err, syscall.ECONNREFUSED) && ctx.Err() == nil {
			select {
			case <-time.After(initRetryInterval):
				continue
			case <-ctx.Done():
			}
		}
		if err != nil {
			return container.RunResult{}, c.callError(ctx, start, err)
		}
		if res.Status != http.StatusOK {
			if c.oomSince(ctx, start, 0) {
				return res, container.ErrOOM
			}
			return res, &container.InitError{Status: res.Status, Body: res.Body}
		}
		return res, nil
	}
}

// Run posts req to /run (never retried). A non-200 answer is a result.
func (c *dockerContainer) Run(ctx context.Context, req container.RunRequest) (container.RunResult, error) {
	if len(req.Value) == 0 {
		req.Value = json.RawMessage("{}")
	}
	body, err := json.Marshal(req)
	if err != nil {
		return container.RunResult{}, fmt.Errorf("encoding /run: %w", err)
	}
	start := time.Now()
	res, err := c.post(ctx, "/run", body)
	if err != nil {
		return container.RunResult{}, c.callError(ctx, start, err)
	}
	if res.Status != http.StatusOK && c.oomSince(ctx, start, 0) {
		return res, container.ErrOOM
	}
	return res, nil
}

func (c *dockerContainer) post(ctx context.Context, path string, body []byte) (container.RunResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+c.addr+path, bytes.NewReader(body))
	if err != nil {
		return container.RunResult{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return container.RunResult{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, c.f.cfg.MaxResponseBytes))
	if err != nil {
		return container.RunResult{}, err
	}
	return container.RunResult{Status: resp.StatusCode, Body: b}, nil
}

// callError maps a failed call: the deadline is ErrTimeout, a cancelled
// context its error, and a broken connection ErrOOM when the container was
// OOM-killed during the call, else ErrExited.
func (c *dockerContainer) callError(ctx context.Context, start time.Time, err error) error {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%w: %w", container.ErrTimeout, err)
	case ctx.Err() != nil:
		return ctx.Err()
	}
	c.f.log.Debug("call to the action proxy failed", "container", c.name, "err", err)
	if c.oomSince(ctx, start, c.f.cfg.OOMGrace) {
		return container.ErrOOM
	}
	return fmt.Errorf("%w (%v)", container.ErrExited, err)
}

// oomSince reports whether the kernel OOM-killed a process of the
// container since start (the daemon's "oom" event, which Docker 20.10 sends
// even when the container's main process survives, and State.OOMKilled),
// looking for up to grace more.
func (c *dockerContainer) oomSince(ctx context.Context, start time.Time, grace time.Duration) bool {
	ctx = context.WithoutCancel(ctx)
	deadline := time.Now().Add(grace)
	for {
		if c.oomEvent(ctx, start) {
			return true
		}
		if st, err := c.state(ctx); err == nil && st.OOMKilled {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *dockerContainer) oomEvent(ctx context.Context, start time.Time) bool {
	ctx, cancel := context.WithTimeout(ctx, c.f.cfg.Timeouts.Inspect)
	defer cancel()
	since := start.Add(-time.Second) // the daemon's clock may lag a little
	res := c.f.cli.Events(ctx, client.EventsListOptions{
		Since:   unixNano(since),
		Until:   unixNano(time.Now()),
		Filters: make(client.Filters).Add("container", c.id).Add("event", "oom"),
	})
	for {
		select {
		case m := <-res.Messages:
			if m.Action == "oom" {
				return true
			}
		case <-res.Err:
			return false
		}
	}
}

func unixNano(t time.Time) string {
	return strconv.FormatInt(t.Unix(), 10) + "." + fmt.Sprintf("%09d", t.Nanosecond())
}

// Pause closes idle connections to the proxy and pauses the container.
// Pausing a paused container is fine.
func (c *dockerContainer) Pause(ctx context.Context) error {
	c.http.CloseIdleConnections()
	pctx, cancel := context.WithTimeout(ctx, c.f.cfg.Timeouts.Pause)
	defer cancel()
	_, err := c.f.cli.ContainerPause(pctx, c.id, client.ContainerPauseOptions{})
	if err == nil {
		return nil
	}
	// Already paused is fine (the daemon's answer differs between versions).
	if st, ierr := c.state(ctx); ierr == nil && st.Paused {
		return nil
	}
	return c.lifecycleError(ctx, "pausing", err)
}

// Resume unpauses the container. Resuming a running container is fine.
func (c *dockerContainer) Resume(ctx context.Context) error {
	uctx, cancel := context.WithTimeout(ctx, c.f.cfg.Timeouts.Unpause)
	defer cancel()
	_, err := c.f.cli.ContainerUnpause(uctx, c.id, client.ContainerUnpauseOptions{})
	if err == nil {
		return nil
	}
	// Not paused is fine (the daemon's answer differs between versions).
	if st, ierr := c.state(ctx); ierr == nil && st.Running && !st.Paused {
		return nil
	}
	return c.lifecycleError(ctx, "resuming", err)
}

func (c *dockerContainer) lifecycleError(ctx context.Context, op string, err error) error {
	if st, ierr := c.state(ctx); cerrdefs.IsNotFound(ierr) || (ierr == nil && !st.Running) {
		return fmt.Errorf("%w: %s %s: %w", container.ErrExited, op, c.name, err)
	}
	return fmt.Errorf("docker: %s %s: %w", op, c.name, err)
}

// Logs returns the output since the previous call, up to the sentinels
// when waitSentinels (waiting, bounded by ctx, while output keeps coming:
// after Timeouts.LogIdle without any, it gives up).
func (c *dockerContainer) Logs(ctx context.Context, limit int64, waitSentinels bool) ([]container.LogLine, bool, error) {
	if !waitSentinels {
		return c.logs.wait(ctx, limit, false)
	}
	return c.logs.waitIdle(ctx, limit, true, c.f.cfg.Timeouts.LogIdle)
}

// Destroy removes the container (forcefully) and releases its port. It is
// idempotent.
func (c *dockerContainer) Destroy(ctx context.Context) error {
	c.mu.Lock()
	done := c.destroyed
	c.mu.Unlock()
	if done {
		return nil
	}
	if err := c.f.remove(ctx, c.id); err != nil {
		return err
	}
	c.mu.Lock()
	c.destroyed = true
	c.mu.Unlock()
	if c.stopLogs != nil {
		c.stopLogs()
	}
	if c.http != nil {
		c.http.CloseIdleConnections()
	}
	c.releasePort()
	return nil
}

// destroyQuietly destroys a container that failed to come up.
func (c *dockerContainer) destroyQuietly(ctx context.Context) {
	if err := c.Destroy(context.WithoutCancel(ctx)); err != nil {
		c.f.log.Warn("removing a failed container", "container", c.name, "err", err)
	}
}
