//go:build integration

package docker_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dcontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/gowhisk/gowhisk/invoker/container"
	"github.com/gowhisk/gowhisk/invoker/container/docker"
)

// invokerContainers lists the daemon's containers, in any state, labelled
// with invoker's name.
func invokerContainers(t *testing.T, cli *client.Client, invoker string) []string {
	t.Helper()
	res, err := cli.ContainerList(context.Background(), client.ContainerListOptions{
		All: true, Filters: make(client.Filters).Add("label", docker.LabelInvoker+"="+invoker),
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range res.Items {
		out = append(out, fmt.Sprintf("%.12s %v (%s)", c.ID, c.Names, c.State))
	}
	return out
}

// TestCancelledCreatesLeaveNothing: creates whose context ends at any point
// (before, during or after the daemon's create and start, or while the
// proxy starts) leave no container, created or running, once Create
// returned, even without a Cleanup.
func TestCancelledCreatesLeaveNothing(t *testing.T) {
	const invoker = "itcancelledcreates"
	f := newFactory(t, func(c *docker.Config) { c.InvokerName = invoker })
	cli := newClient(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var created []container.Container
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i)*75*time.Millisecond)
			defer cancel()
			c, err := f.Create(ctx, container.Spec{Name: fmt.Sprintf("c%d", i), Kind: "nodejs:20", Image: nodeImage, MemoryMB: 128})
			if err == nil {
				mu.Lock()
				created = append(created, c)
				mu.Unlock()
				return
			}
			if !errors.Is(err, container.ErrProvision) || !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "deadline") {
				t.Errorf("create %d cut after %d ms: %v, want a provisioning failure for the deadline", i, i*75, err)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d of 20 creates finished before their deadline", len(created))
	for _, c := range created {
		if err := c.Destroy(context.Background()); err != nil {
			t.Errorf("destroy: %v", err)
		}
	}
	// A create the daemon finished late would show up here.
	time.Sleep(time.Second)
	if left := invokerContainers(t, cli, invoker); len(left) > 0 {
		t.Errorf("cancelled creates left %d containers: %s", len(left), strings.Join(left, "; "))
	}
}

// TestCleanupRemovesEveryState: Cleanup removes the invoker's containers
// in the states a crash or a cut create leaves: created (never started),
// exited, paused and running.
func TestCleanupRemovesEveryState(t *testing.T) {
	const invoker = "iteverystate"
	ctx := context.Background()
	cli := newClient(t)
	f := newFactory(t, func(c *docker.Config) { c.InvokerName = invoker })
	running, err := f.Create(ctx, container.Spec{Name: "running", Kind: "nodejs:20", Image: nodeImage, MemoryMB: 128})
	if err != nil {
		t.Fatal(err)
	}
	paused, err := f.Create(ctx, container.Spec{Name: "paused", Kind: "nodejs:20", Image: nodeImage, MemoryMB: 128})
	if err != nil {
		t.Fatal(err)
	}
	if err := paused.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	raw := func(name string, start bool) string {
		res, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
			Name: "wsk" + invoker + "_" + name,
			Config: &dcontainer.Config{Image: nodeImage, Entrypoint: []string{"/bin/sh", "-c", "exit 3"},
				Labels: map[string]string{docker.LabelInvoker: invoker}},
			HostConfig: &dcontainer.HostConfig{NetworkMode: "host"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if start {
			if _, err := cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
				t.Fatal(err)
			}
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			w := cli.ContainerWait(wctx, res.ID, client.ContainerWaitOptions{})
			select {
			case <-w.Result:
			case err := <-w.Error:
				t.Fatal(err)
			}
		}
		return res.ID
	}
	raw("900_created", false)
	raw("901_exited", true)
	if got := invokerContainers(t, cli, invoker); len(got) != 4 {
		t.Fatalf("before cleanup: %q, want 4 containers", got)
	}
	states := map[string]bool{}
	for _, s := range invokerContainers(t, cli, invoker) {
		states[s[strings.LastIndex(s, "(")+1:len(s)-1]] = true
	}
	for _, s := range []string{"created", "exited", "paused", "running"} {
		if !states[s] {
			t.Errorf("no %s container before cleanup: %v", s, states)
		}
	}
	if err := f.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if left := invokerContainers(t, cli, invoker); len(left) > 0 {
		t.Errorf("cleanup left %s", strings.Join(left, "; "))
	}
	_ = running.Destroy(ctx)
	_ = paused.Destroy(ctx)
}

// foreign is another process on a 127.0.0.1 port: an HTTP server that
// answers every request with token (none when empty) and {"foreign":true},
// or, with silent, a listener that never answers.
func foreign(t *testing.T, token string, silent bool) int {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		// The port after it must be free for the retry.
		next, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+1)))
		if err != nil {
			ln.Close()
			continue
		}
		next.Close()
		if silent {
			var mu sync.Mutex
			var conns []net.Conn
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					mu.Lock()
					conns = append(conns, c)
					mu.Unlock()
				}
			}()
			t.Cleanup(func() {
				ln.Close()
				mu.Lock()
				defer mu.Unlock()
				for _, c := range conns {
					c.Close()
				}
			})
			return port
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if token != "" {
				w.Header().Set("X-OW-Proxy-Token", token)
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"foreign":true}`))
		})}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		return port
	}
	t.Fatal("no pair of free ports")
	return 0
}

// TestPortTakenByAnotherProcess: a port that another process takes
// between the probe and the proxy's bind (simulated: the probe says free)
// is given up, the container removed, and the next port used; the
// container then talks to its own proxy, never to the other process.
func TestPortTakenByAnotherProcess(t *testing.T) {
	for _, tc := range []struct {
		name   string
		token  string
		silent bool
	}{
		{"another action proxy", "someone-else", false},
		{"a server without a token", "", false},
		{"a listener that never answers", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := foreign(t, tc.token, tc.silent)
			invoker := "itporttaken" + strconv.Itoa(port)
			f := newFactory(t, func(c *docker.Config) {
				c.InvokerName = invoker
				c.Ports = docker.PortRange{First: port, Last: port + 1}
			})
			docker.SetPorts(f, port, func(int) bool { return true })
			c := create(t, f, "nodejs:20", nodeImage, 128)
			initAction(t, c, `function main() { return {own: true} }`)
			if out := mustRun(t, c, `{}`); out["own"] != true {
				t.Fatalf("run answered %v, want the container's own proxy", out)
			}
			if left := invokerContainers(t, newClient(t), invoker); len(left) != 1 {
				t.Errorf("containers of the invoker: %q, want only the one in use", left)
			}
		})
	}
	t.Run("every port taken", func(t *testing.T) {
		port := foreign(t, "someone-else", false)
		invoker := "itallportstaken" + strconv.Itoa(port)
		f := newFactory(t, func(c *docker.Config) {
			c.InvokerName = invoker
			c.Ports = docker.PortRange{First: port, Last: port}
		})
		docker.SetPorts(f, port, func(int) bool { return true })
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := f.Create(ctx, container.Spec{Name: "x", Kind: "nodejs:20", Image: nodeImage, MemoryMB: 128})
		if err == nil {
			c.Destroy(ctx)
			t.Fatal("created a container on a port another proxy holds")
		}
		if !errors.Is(err, container.ErrProvision) || !strings.Contains(err.Error(), "another action proxy") {
			t.Errorf("error %v, want a provisioning failure naming the other proxy", err)
		}
		if left := invokerContainers(t, newClient(t), invoker); len(left) != 0 {
			t.Errorf("failed attempts left %q", left)
		}
	})
}
