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
	"strings"
	"sync"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/gowhisk/gowhisk/invoker/container"
	"github.com/gowhisk/gowhisk/runtimes/proxy"
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
	token     string // the proxy's identity token (proxy.TokenEnv)
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

// errPortTaken: the container's 127.0.0.1 port turned out to be another
// process's (it answered on the port, or the container's proxy exited
// because the address was in use). Create retries on another port.
var errPortTaken = errors.New("the port is taken by another process")

// readyProbeTimeout bounds one readiness probe.
const readyProbeTimeout = time.Second

// probeVerdict is what one answer to the readiness probe says.
type probeVerdict int

const (
	probeOurs    probeVerdict = iota // the container's own proxy answered
	probeForeign                     // another process answers on the address
)

// classifyProbe decides whose proxy answered the readiness probe from the
// token it sent: the container's own token is its proxy; another token is
// another container's proxy (the port was taken). An answer without a
// token is another process for gowhisk's runtime images, whose proxy always
// sends it, and accepted for a user image (whose proxy may be OpenWhisk's,
// which knows no token).
func classifyProbe(got, want string, userImage bool) probeVerdict {
	switch {
	case got == want && want != "":
		return probeOurs
	case got == "" && userImage:
		return probeOurs
	}
	return probeForeign
}

// exitedForPort reports whether a container that exited before its proxy
// answered lost its port: cmd/actionproxy's exit code for a taken address,
// or a proxy's bind error in its output.
func exitedForPort(exitCode int, output string) bool {
	return exitCode == proxy.ExitAddrInUse || strings.Contains(output, "address already in use")
}

// newProbeClient is an HTTP client to addr without keep-alive: a
// connection to a foreign process is never reused.
func newProbeClient(addr string) *http.Client {
	d := &net.Dialer{Timeout: readyProbeTimeout}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr)
		},
		DisableKeepAlives:  true,
		DisableCompression: true,
	}}
}

// probe sends GET /ready once; ok is false when nothing answered.
func (c *dockerContainer) probe(ctx context.Context, hc *http.Client) (token string, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, readyProbeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.addr+proxy.ReadyPath, nil)
	if err != nil {
		return "", false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", false
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	return resp.Header.Get(proxy.TokenHeader), true
}

// waitReady waits until the container's own proxy answers the readiness
// probe with the container's token, checking now and then that the
// container still runs. It returns an error wrapping errPortTaken when
// another process answers on the address or the proxy exited because the
// address was in use.
func (c *dockerContainer) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.f.cfg.Timeouts.Ready)
	defer cancel()
	hc := newProbeClient(c.addr)
	defer hc.CloseIdleConnections()
	delay := time.Millisecond
	lastCheck := time.Now()
	for {
		if got, ok := c.probe(ctx, hc); ok {
			if classifyProbe(got, c.token, c.userImage) == probeOurs {
				return nil
			}
			if got == "" {
				return fmt.Errorf("%w: a process without the container's token answers on %s (or the image's proxy predates %s: rebuild it)", errPortTaken, c.addr, proxy.TokenEnv)
			}
			return fmt.Errorf("%w: another action proxy answers on %s", errPortTaken, c.addr)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("the action proxy of %s did not answer on %s: %w", c.name, c.addr, ctx.Err())
		}
		if time.Since(lastCheck) > 200*time.Millisecond {
			lastCheck = time.Now()
			if st, ierr := c.state(ctx); ierr == nil && !st.Running {
				out := c.outputTail(ctx)
				if c.port != 0 && exitedForPort(st.ExitCode, out) {
					return fmt.Errorf("%w: the proxy of %s exited with code %d, its address %s in use%s", errPortTaken, c.name, st.ExitCode, c.addr, out)
				}
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
		res, _, err := c.post(ctx, "/init", body)
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

// Run posts req to /run (never retried). A non-200 answer is a result,
// except the proxy's "command exited" (the action's process is gone),
// which is ErrExited as in the process sandbox.
func (c *dockerContainer) Run(ctx context.Context, req container.RunRequest) (container.RunResult, error) {
	if len(req.Value) == 0 {
		req.Value = json.RawMessage("{}")
	}
	body, err := json.Marshal(req)
	if err != nil {
		return container.RunResult{}, fmt.Errorf("encoding /run: %w", err)
	}
	start := time.Now()
	res, h, err := c.post(ctx, "/run", body)
	if err != nil {
		return container.RunResult{}, c.callError(ctx, start, err)
	}
	if res.Status != http.StatusOK && c.oomSince(ctx, start, 0) {
		return res, container.ErrOOM
	}
	if childExited(res.Status, res.Body, h) {
		c.f.log.Debug("the action's process exited", "container", c.name, "status", res.Status)
		return res, fmt.Errorf("%w (the action proxy answered %d %s)", container.ErrExited, res.Status, bytes.TrimSpace(res.Body))
	}
	return res, nil
}

// commandExitedBody is the Go action proxy's answer when the action's
// process is gone.
var commandExitedBody = []byte(`{"error":"` + proxy.MsgCommandExited + `"}`)

// childExited reports whether a /run answer is the action proxy's "command
// exited": OpenWhisk's Go proxy answers 400 {"error":"command exited"}
// (500 when the process had exited before the run) and gowhisk's proxy
// adds ChildExitedHeader to say its action's process is gone. An action
// returning that very error as its own result has no such header.
func childExited(status int, body []byte, h http.Header) bool {
	return (status == http.StatusBadRequest || status == http.StatusInternalServerError) &&
		h.Get(proxy.ChildExitedHeader) == "true" &&
		bytes.Equal(bytes.TrimSpace(body), commandExitedBody)
}

func (c *dockerContainer) post(ctx context.Context, path string, body []byte) (container.RunResult, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+c.addr+path, bytes.NewReader(body))
	if err != nil {
		return container.RunResult{}, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return container.RunResult{}, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, c.f.cfg.MaxResponseBytes))
	if err != nil {
		return container.RunResult{}, nil, err
	}
	return container.RunResult{Status: resp.StatusCode, Body: b}, resp.Header, nil
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
	var err error
	for try := 1; ; try++ {
		_, err = c.f.cli.ContainerPause(pctx, c.id, client.ContainerPauseOptions{})
		if err == nil {
			return nil
		}
		if !freezeFailed(err) || try == pauseTries || pctx.Err() != nil {
			break
		}
		// runc gave up freezing (a task did not freeze in time, as under
		// heavy load) and thawed the container again: try once more.
		c.f.log.Debug("pause failed to freeze: retrying", "container", c.name, "err", err)
		select {
		case <-time.After(time.Duration(try) * 50 * time.Millisecond):
		case <-pctx.Done():
		}
	}
	// Already paused is fine (the daemon's answer differs between versions).
	if st, ierr := c.state(ctx); ierr == nil && st.Paused {
		return nil
	}
	return c.lifecycleError(ctx, "pausing", err)
}

// pauseTries bounds the pause attempts when the freezer fails.
const pauseTries = 3

// freezeFailed reports whether a pause failed because runc could not
// freeze the container's cgroup in time (a transient failure).
func freezeFailed(err error) bool {
	return strings.Contains(err.Error(), "unable to freeze")
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
