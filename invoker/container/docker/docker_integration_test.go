//go:build integration

package docker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/invoker/container"
	"github.com/gowhisk/gowhisk/invoker/container/docker"
	"github.com/gowhisk/gowhisk/test/integration/dockerd"
)

const (
	nodeImage     = "openwhisk/action-nodejs-v20:nightly"
	pythonImage   = "openwhisk/action-python-v3.11:nightly"
	skeletonImage = "openwhisk/dockerskeleton:nightly"
)

// dockerHost is the daemon of this package's tests, set by TestMain.
var dockerHost string

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	host, stop, err := dockerd.Setup(ctx)
	cancel()
	if err != nil {
		stop()
		fmt.Fprintln(os.Stderr, "docker integration tests:", err)
		os.Exit(1)
	}
	dockerHost = host
	code := m.Run()
	stop()
	os.Exit(code)
}

// newFactory returns a factory with a fresh invoker name whose containers
// are all removed when t ends.
func newFactory(t *testing.T, mutate ...func(*docker.Config)) *docker.Factory {
	t.Helper()
	name := "it" + strings.NewReplacer("/", "", "_", "", "-", "").Replace(t.Name())
	if len(name) > 40 {
		name = name[:40]
	}
	cfg := docker.Config{
		Host:          dockerHost,
		InvokerName:   name,
		UserMemoryMB:  1024,
		ManagedImages: []string{nodeImage, pythonImage, skeletonImage},
	}
	for _, m := range mutate {
		m(&cfg)
	}
	ctx := context.Background()
	f, err := docker.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Cleanup(context.Background()); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		f.Close()
	})
	return f
}

func newClient(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.New(client.WithHost(dockerHost))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func create(t *testing.T, f *docker.Factory, kind, image string, memoryMB int) container.Container {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := f.Create(ctx, container.Spec{
		Name: "test_" + strings.ReplaceAll(strings.ReplaceAll(kind, ":", ""), ".", ""), Kind: kind, Image: image,
		MemoryMB: memoryMB, Labels: map[string]string{"gowhisk.action": "guest/" + t.Name()},
	})
	if err != nil {
		t.Fatalf("create %s: %v", kind, err)
	}
	t.Cleanup(func() {
		if err := c.Destroy(context.Background()); err != nil {
			t.Errorf("destroy: %v", err)
		}
	})
	return c
}

func initAction(t *testing.T, c container.Container, code string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := c.Init(ctx, container.InitRequest{Name: "action", Main: "main", Code: code, Env: map[string]string{"__OW_NAMESPACE": "guest"}})
	if err != nil {
		t.Fatalf("init: %v (%d %s)", err, res.Status, res.Body)
	}
	if res.Status != 200 {
		t.Fatalf("init status %d %s", res.Status, res.Body)
	}
}

func run(t *testing.T, c container.Container, timeout time.Duration, value string) (container.RunResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return c.Run(ctx, container.RunRequest{
		Value: json.RawMessage(value), Namespace: "guest", ActionName: "/guest/action",
		ActivationID: "0123456789abcdef0123456789abcdef", Deadline: "1700000060000",
	})
}

func mustRun(t *testing.T, c container.Container, value string) map[string]any {
	t.Helper()
	res, err := run(t, c, 30*time.Second, value)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.Status != 200 {
		t.Fatalf("run status %d %s", res.Status, res.Body)
	}
	var out map[string]any
	if err := json.Unmarshal(res.Body, &out); err != nil {
		t.Fatalf("run result %s: %v", res.Body, err)
	}
	return out
}

func logs(t *testing.T, c container.Container, limit int64) ([]container.LogLine, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	lines, truncated, err := c.Logs(ctx, limit, true)
	if err != nil {
		t.Fatalf("logs: %v (got %v)", err, lines)
	}
	return lines, truncated
}

func logTexts(lines []container.LogLine) []string {
	var out []string
	for _, l := range lines {
		out = append(out, l.Stream+": "+l.Text)
	}
	return out
}

const nodeHello = `function main(args) {
  console.log("hello " + args.name);
  console.error("to stderr");
  return {greeting: "Hello " + args.name + "!", ns: process.env.__OW_NAMESPACE, id: process.env.__OW_ACTIVATION_ID};
}`

const pythonHello = `import os, sys
def main(args):
    print("hello " + args.get("name", "?"))
    print("to stderr", file=sys.stderr)
    return {"greeting": "Hello " + args.get("name", "?") + "!", "ns": os.environ.get("__OW_NAMESPACE"), "id": os.environ.get("__OW_ACTIVATION_ID")}
`

func TestColdAndWarmRuns(t *testing.T) {
	f := newFactory(t)
	for _, tc := range []struct{ kind, image, code string }{
		{"nodejs:20", nodeImage, nodeHello},
		{"python:3.11", pythonImage, pythonHello},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			c := create(t, f, tc.kind, tc.image, 256)
			initAction(t, c, tc.code)
			for i, name := range []string{"cold", "warm"} {
				out := mustRun(t, c, `{"name":"`+name+`"}`)
				if out["greeting"] != "Hello "+name+"!" || out["ns"] != "guest" || out["id"] != "0123456789abcdef0123456789abcdef" {
					t.Errorf("run %d: result %v", i, out)
				}
				lines, truncated := logs(t, c, 1<<20)
				// Docker copies the two streams independently: only the
				// order within a stream is kept.
				got := logTexts(lines)
				slices.Sort(got)
				want := []string{"stderr: to stderr", "stdout: hello " + name}
				if strings.Join(got, "|") != strings.Join(want, "|") || truncated {
					t.Errorf("run %d: logs %q (truncated %v), want %q", i, got, truncated, want)
				}
				for _, l := range lines {
					if l.Time.IsZero() || time.Since(l.Time) > time.Hour {
						t.Errorf("log line without a Docker timestamp: %+v", l)
					}
				}
			}
		})
	}
}

func TestDockerLevelLimitsAndLabels(t *testing.T) {
	f := newFactory(t)
	c := create(t, f, "nodejs:20", nodeImage, 256)
	res, err := newClient(t).ContainerInspect(context.Background(), c.ID(), client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hc, cfg := res.Container.HostConfig, res.Container.Config
	if hc.Memory != 256<<20 || hc.MemorySwap != 256<<20 {
		t.Errorf("memory %d swap %d", hc.Memory, hc.MemorySwap)
	}
	if hc.CPUShares != 256 {
		t.Errorf("cpu shares %d, want 1024/(1024/256)", hc.CPUShares)
	}
	if hc.PidsLimit == nil || *hc.PidsLimit != 1024 {
		t.Errorf("pids limit %v", hc.PidsLimit)
	}
	if len(hc.Ulimits) != 1 || hc.Ulimits[0].Name != "nofile" || hc.Ulimits[0].Soft != 1024 || hc.Ulimits[0].Hard != 1024 {
		t.Errorf("ulimits %+v", hc.Ulimits)
	}
	caps := strings.Join(hc.CapDrop, ",")
	if !strings.Contains(caps, "NET_RAW") || !strings.Contains(caps, "NET_ADMIN") {
		t.Errorf("cap drop %v", hc.CapDrop)
	}
	if hc.NetworkMode != "host" || hc.LogConfig.Type != "json-file" {
		t.Errorf("network %q log driver %q", hc.NetworkMode, hc.LogConfig.Type)
	}
	if cfg.Labels[docker.LabelInvoker] == "" || cfg.Labels[docker.LabelKind] != "nodejs:20" || cfg.Labels["gowhisk.action"] == "" {
		t.Errorf("labels %v", cfg.Labels)
	}
	if !strings.HasPrefix(res.Container.Name, "/wsk"+cfg.Labels[docker.LabelInvoker]+"_") {
		t.Errorf("name %q", res.Container.Name)
	}
}

func TestPauseResume(t *testing.T) {
	f := newFactory(t)
	c := create(t, f, "nodejs:20", nodeImage, 256)
	initAction(t, c, nodeHello)
	mustRun(t, c, `{"name":"before"}`)
	logs(t, c, 1<<20)
	cli := newClient(t)
	state := func() string {
		res, err := cli.ContainerInspect(context.Background(), c.ID(), client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return string(res.Container.State.Status)
	}
	ctx := context.Background()
	for range 2 { // idempotent
		if err := c.Pause(ctx); err != nil {
			t.Fatalf("pause: %v", err)
		}
	}
	if s := state(); s != "paused" {
		t.Fatalf("state after pause %q", s)
	}
	for range 2 {
		if err := c.Resume(ctx); err != nil {
			t.Fatalf("resume: %v", err)
		}
	}
	if s := state(); s != "running" {
		t.Fatalf("state after resume %q", s)
	}
	if out := mustRun(t, c, `{"name":"after"}`); out["greeting"] != "Hello after!" {
		t.Errorf("after resume: %v", out)
	}
	if got := logTexts(must(logs(t, c, 1<<20))); len(got) != 2 || !slices.Contains(got, "stdout: hello after") {
		t.Errorf("logs after resume %q", got)
	}
}

func must[T any](v T, _ bool) T { return v }

func TestInitFailure(t *testing.T) {
	f := newFactory(t)
	c := create(t, f, "nodejs:20", nodeImage, 256)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := c.Init(ctx, container.InitRequest{Name: "bad", Main: "main", Code: "function main( {"})
	var ie *container.InitError
	if !errors.As(err, &ie) || ie.Status == 200 || res.Status == 200 {
		t.Fatalf("init of a syntax error: %v %d %s", err, res.Status, res.Body)
	}
	if !strings.Contains(string(ie.Body), "error") {
		t.Errorf("init error body %s", ie.Body)
	}
}

func TestLogLimit(t *testing.T) {
	f := newFactory(t)
	c := create(t, f, "python:3.11", pythonImage, 256)
	initAction(t, c, `def main(args):
    for i in range(1000):
        print("line %04d" % i)
    return {}
`)
	mustRun(t, c, `{}`)
	lines, truncated := logs(t, c, 100)
	var n int
	for _, l := range lines {
		n += len(l.Text)
	}
	if !truncated || n > 100 || len(lines) == 0 || lines[0].Text != "line 0000" {
		t.Errorf("limit 100: %d bytes in %d lines, truncated %v, first %v", n, len(lines), truncated, logTexts(lines[:min(1, len(lines))]))
	}
	// The next activation's logs start after the sentinels.
	mustRun(t, c, `{}`)
	if lines, _ := logs(t, c, 1<<20); len(lines) != 1000 || lines[999].Text != "line 0999" {
		t.Errorf("second activation: %d lines", len(lines))
	}
}

func TestMemoryLimitIsOOM(t *testing.T) {
	f := newFactory(t)
	c := create(t, f, "python:3.11", pythonImage, 128)
	initAction(t, c, `def main(args):
    blocks = []
    for i in range(64):
        blocks.append(bytearray(16 * 1024 * 1024))
    return {"allocated": len(blocks)}
`)
	res, err := run(t, c, 60*time.Second, `{}`)
	if !errors.Is(err, container.ErrOOM) {
		t.Fatalf("allocating 1 GiB in 128 MB: %v (%d %s)", err, res.Status, res.Body)
	}
}

func TestTimeout(t *testing.T) {
	f := newFactory(t)
	c := create(t, f, "nodejs:20", nodeImage, 256)
	initAction(t, c, `function main() { return new Promise(() => {}); }`)
	_, err := run(t, c, 500*time.Millisecond, `{}`)
	if !errors.Is(err, container.ErrTimeout) {
		t.Fatalf("never-ending action: %v, want ErrTimeout", err)
	}
}

func TestContainerExit(t *testing.T) {
	f := newFactory(t)
	c := create(t, f, "nodejs:20", nodeImage, 256)
	initAction(t, c, nodeHello)
	mustRun(t, c, `{"name":"x"}`)
	// The container's main process dies (as when the runtime crashes).
	if _, err := newClient(t).ContainerKill(context.Background(), c.ID(), client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatal(err)
	}
	_, err := run(t, c, 30*time.Second, `{"name":"y"}`)
	if !errors.Is(err, container.ErrExited) {
		t.Fatalf("run in a killed container: %v, want ErrExited", err)
	}
	// Logs do not wait for sentinels that will never come.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, _, err := c.Logs(ctx, 1<<20, true); err != nil && ctx.Err() != nil {
		t.Errorf("logs of a dead container waited for the deadline: %v", err)
	}
}

// TestActionProcessExit: an action whose process exits gets the proxy's
// "command exited" answer, which the sandbox reports as ErrExited (the
// process sandbox's "The action did not produce a valid response and
// exited unexpectedly."), for both runtimes.
func TestActionProcessExit(t *testing.T) {
	f := newFactory(t)
	for _, tc := range []struct{ kind, image, code string }{
		{"nodejs:20", nodeImage, `function main() { process.exit(3) }`},
		{"python:3.11", pythonImage, "import os\ndef main(args):\n    os._exit(3)\n"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			c := create(t, f, tc.kind, tc.image, 256)
			initAction(t, c, tc.code)
			res, err := run(t, c, 30*time.Second, `{}`)
			if !errors.Is(err, container.ErrExited) {
				t.Fatalf("an action that exits: %v (%d %s), want ErrExited", err, res.Status, res.Body)
			}
			resp := container.InterpretRun(res, err, time.Minute, 0)
			if resp.StatusCode != entity.StatusDeveloperError || string(resp.Result) != `{"error":"The action did not produce a valid response and exited unexpectedly."}` {
				t.Errorf("interpreted as %d %s", resp.StatusCode, resp.Result)
			}
		})
	}
	// An action whose result is that error is an application error, not an
	// exit.
	t.Run("an action returning command exited", func(t *testing.T) {
		c := create(t, f, "nodejs:20", nodeImage, 256)
		initAction(t, c, `function main() { return {error: "command exited"} }`)
		res, err := run(t, c, 30*time.Second, `{}`)
		if err != nil {
			t.Fatalf("an action returning an error: %v (%d %s)", err, res.Status, res.Body)
		}
		if resp := container.InterpretRun(res, err, time.Minute, 0); resp.StatusCode != entity.StatusApplicationError {
			t.Errorf("interpreted as %d %s", resp.StatusCode, resp.Result)
		}
	})
}

func TestNativeSkeleton(t *testing.T) {
	f := newFactory(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := f.Create(ctx, container.Spec{Name: "native", Kind: "blackbox", Image: skeletonImage, Native: true, MemoryMB: 128})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Destroy(ctx)
	initAction(t, c, "#!/bin/sh\necho log line\necho \"{\\\"args\\\": $1}\"\n")
	out := mustRun(t, c, `{"a":1}`)
	if args, _ := out["args"].(map[string]any); args == nil || args["a"] != float64(1) {
		t.Errorf("native result %v", out)
	}
	if got := logTexts(must(logs(t, c, 1<<20))); len(got) != 1 || got[0] != "stdout: log line" {
		t.Errorf("native logs %q", got)
	}
}

func TestCleanupRemovesLeftovers(t *testing.T) {
	ctx := context.Background()
	cli := newClient(t)
	leftover := newFactory(t, func(c *docker.Config) { c.InvokerName = "itleftover" })
	stranger := newFactory(t, func(c *docker.Config) { c.InvokerName = "itleftover0" })
	a, err := leftover.Create(ctx, container.Spec{Name: "a", Kind: "nodejs:20", Image: nodeImage, MemoryMB: 128})
	if err != nil {
		t.Fatal(err)
	}
	b, err := leftover.Create(ctx, container.Spec{Name: "b", Kind: "nodejs:20", Image: nodeImage, MemoryMB: 128})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := stranger.Create(ctx, container.Spec{Name: "s", Kind: "nodejs:20", Image: nodeImage, MemoryMB: 128})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy(ctx)

	// A new invoker process with the same name removes what the old one left.
	restarted, err := docker.New(ctx, docker.Config{Host: dockerHost, InvokerName: "itleftover"})
	if err != nil {
		t.Fatal(err)
	}
	defer restarted.Close()
	if err := restarted.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{a.ID(), b.ID()} {
		if _, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); err == nil {
			t.Errorf("container %s survived Cleanup", id[:12])
		}
	}
	if _, err := cli.ContainerInspect(ctx, s.ID(), client.ContainerInspectOptions{}); err != nil {
		t.Errorf("another invoker's container was removed: %v", err)
	}
	// Destroying a container that is gone is fine.
	if err := a.Destroy(ctx); err != nil {
		t.Errorf("destroy after cleanup: %v", err)
	}
}

func TestParallelCreates(t *testing.T) {
	f := newFactory(t)
	const n = 4
	var wg sync.WaitGroup
	cs := make([]container.Container, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cs[i], errs[i] = f.Create(ctx, container.Spec{Name: fmt.Sprintf("p%d", i), Kind: "python:3.11", Image: pythonImage, MemoryMB: 128})
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("create %d: %v", i, errs[i])
		}
		defer cs[i].Destroy(context.Background())
	}
	for i, c := range cs {
		initAction(t, c, fmt.Sprintf("def main(args):\n    return {\"i\": %d}\n", i))
	}
	for i, c := range cs {
		if out := mustRun(t, c, `{}`); out["i"] != float64(i) {
			t.Errorf("container %d answered %v", i, out)
		}
	}
}

func TestMissingBlackboxImage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A registry on a loopback port nothing listens on: the pull fails at
	// once and no traffic leaves the machine.
	const missing = "127.0.0.1:9/gowhisk/missing:latest"
	for _, tc := range []struct {
		name        string
		noPull      bool
		pullTimeout time.Duration
	}{{"pull fails", false, 0}, {"pulling disabled", true, 0}, {"pull times out", false, time.Nanosecond}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFactory(t, func(c *docker.Config) { c.NoPull = tc.noPull; c.Timeouts.Pull = tc.pullTimeout })
			c, err := f.Create(ctx, container.Spec{Name: "bb", Kind: "blackbox", Image: missing, MemoryMB: 128})
			if err == nil {
				c.Destroy(ctx)
				t.Fatal("created a container from a missing image")
			}
			var pe *docker.PullError
			if !errors.As(err, &pe) || err.Error() != "Failed to pull container image '"+missing+"'." {
				t.Fatalf("error %v (%T)", err, err)
			}
			t.Logf("cause: %v", errors.Unwrap(err))
			if errors.Is(err, container.ErrProvision) {
				t.Error("a missing user image is a developer error, not a provisioning failure")
			}
			// The invoker's interpretation: a developer error with OpenWhisk's message.
			resp := container.InterpretCreate(err, true)
			if resp.StatusCode != entity.StatusDeveloperError || !strings.Contains(string(resp.Result), "Failed to pull container image") {
				t.Errorf("interpreted as %d %s", resp.StatusCode, resp.Result)
			}
		})
	}
	t.Run("failed pull of a local image with a version tag", func(t *testing.T) {
		const local = "127.0.0.1:9/gowhisk/skeleton:v1"
		cli := newClient(t)
		if _, err := cli.ImageTag(ctx, client.ImageTagOptions{Source: skeletonImage, Target: local}); err != nil {
			t.Fatal(err)
		}
		defer cli.ImageRemove(context.Background(), local, client.ImageRemoveOptions{})
		f := newFactory(t)
		c, err := f.Create(ctx, container.Spec{Name: "bb", Kind: "blackbox", Image: local, MemoryMB: 128})
		if err != nil {
			t.Fatalf("a local image with a version tag whose pull fails: %v", err)
		}
		defer c.Destroy(ctx)
		initAction(t, c, "#!/bin/sh\necho '{\"ok\":true}'\n")
		if out := mustRun(t, c, `{}`); out["ok"] != true {
			t.Errorf("result %v", out)
		}
	})
}

func TestAvailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := docker.Available(ctx, dockerHost, nodeImage, pythonImage); err != nil {
		t.Errorf("available: %v", err)
	}
	if err := docker.Available(ctx, dockerHost, nodeImage, "gowhisk/not-there:1"); err == nil || !strings.Contains(err.Error(), "gowhisk/not-there:1") {
		t.Errorf("a missing image: %v", err)
	}
	if err := docker.Available(ctx, "unix://"+t.TempDir()+"/none.sock"); err == nil {
		t.Error("no daemon reported available")
	}
}

// BenchmarkWarmRun measures a warm /run plus the wait for its log
// sentinels, the per-activation cost of the Docker sandbox.
func BenchmarkWarmRun(b *testing.B) {
	for _, tc := range []struct{ kind, image, code string }{
		{"nodejs:20", nodeImage, `function main(args) { console.log("x"); return {ok: true}; }`},
		{"python:3.11", pythonImage, "def main(args):\n    print('x')\n    return {'ok': True}\n"},
	} {
		b.Run(tc.kind, func(b *testing.B) {
			ctx := context.Background()
			f, err := docker.New(ctx, docker.Config{Host: dockerHost, InvokerName: "itbench"})
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			defer f.Cleanup(ctx)
			c, err := f.Create(ctx, container.Spec{Name: "bench", Kind: tc.kind, Image: tc.image, MemoryMB: 256})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.Init(ctx, container.InitRequest{Name: "b", Main: "main", Code: tc.code}); err != nil {
				b.Fatal(err)
			}
			req := container.RunRequest{Value: json.RawMessage(`{}`), ActivationID: "0123456789abcdef0123456789abcdef"}
			b.ResetTimer()
			for b.Loop() {
				if res, err := c.Run(ctx, req); err != nil || res.Status != 200 {
					b.Fatalf("run: %v %d", err, res.Status)
				}
				if lines, _, err := c.Logs(ctx, 1<<20, true); err != nil || len(lines) != 1 {
					b.Fatalf("logs: %v %d", err, len(lines))
				}
			}
		})
	}
}

// BenchmarkPauseResume measures docker pause followed by unpause.
func BenchmarkPauseResume(b *testing.B) {
	ctx := context.Background()
	f, err := docker.New(ctx, docker.Config{Host: dockerHost, InvokerName: "itbench"})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	defer f.Cleanup(ctx)
	c, err := f.Create(ctx, container.Spec{Name: "bench", Kind: "nodejs:20", Image: nodeImage, MemoryMB: 256})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := c.Pause(ctx); err != nil {
			b.Fatal(err)
		}
		if err := c.Resume(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateDestroy measures a cold container: create, start, wait
// for the proxy, remove.
func BenchmarkCreateDestroy(b *testing.B) {
	ctx := context.Background()
	f, err := docker.New(ctx, docker.Config{Host: dockerHost, InvokerName: "itbench"})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	defer f.Cleanup(ctx)
	for b.Loop() {
		c, err := f.Create(ctx, container.Spec{Name: "bench", Kind: "python:3.11", Image: pythonImage, MemoryMB: 256})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Destroy(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
