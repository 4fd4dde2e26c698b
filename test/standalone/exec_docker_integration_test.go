//go:build integration

package standalone_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/gowhisk/gowhisk/test/integration/dockerd"
)

// setupWait bounds starting a private dockerd and building the runtime
// images offline (debootstrap takes about a minute the first time).
const setupWait = 15 * time.Minute

// settleWait is how long after a server stopped the test keeps looking
// for containers it left (see dockerSandbox's checkStopped).
const settleWait = 2 * time.Second

// labelInvoker is the label the Docker sandbox puts on every container it
// creates (invoker/container/docker.LabelInvoker), valued with the
// invoker's name.
const labelInvoker = "gowhisk.invoker"

// TestExecutionDocker is issue 3's "Done when" for the Docker sandbox: the
// scenarios of TestExecution against `gowhisk standalone --sandbox docker`
// on a real dockerd (a private one, or $GOWHISK_DOCKER_HOST) whose runtime
// images are built offline from a locally imported Debian base.
func TestExecutionDocker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), setupWait)
	host, stop, err := dockerd.Setup(ctx)
	cancel()
	// Registered first, so it runs after the servers' cleanups.
	t.Cleanup(stop)
	if err != nil {
		t.Fatalf("docker daemon with the runtime images: %v", err)
	}
	cli, err := client.New(client.WithHost(host))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	sb := dockerSandbox(host, cli)
	runExecution(t, sb)
	// runExecution checked after the first stop; the server it restarted
	// (on the same data dir) has stopped too and must leave nothing either.
	sb.checkStopped(t, "")
}

// dockerSandbox is the Docker sandbox on the daemon at host; cli talks to
// that daemon to observe the containers.
func dockerSandbox(host string, cli *client.Client) sandboxUnderTest {
	// before holds the ids of containers labelled by any gowhisk invoker
	// before the server started (other tests' on a shared daemon); invoker
	// is the server's invoker name, read from the label of an action's
	// container, so that containers of other tests running at the same
	// time on a shared daemon do not count as the server's.
	before := map[string]bool{}
	invoker := ""
	return sandboxUnderTest{
		name: "docker",
		setup: func(t *testing.T, _ string) []string {
			for _, c := range gowhiskContainers(t, cli) {
				before[c.ID] = true
			}
			return []string{"--sandbox", "docker", "--docker-host", host}
		},
		waitPaused: func(t *testing.T, first *activation) {
			t.Helper()
			id := containerOf(t, first)
			deadline := time.Now().Add(pollWait)
			for {
				res, err := cli.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
				if err != nil {
					t.Fatalf("docker inspect of the action's container %.12s: %v", id, err)
				}
				ct := res.Container
				if ct.Config == nil || ct.Config.Labels[labelInvoker] == "" {
					t.Fatalf("the action's container %.12s has no %s label: %v", id, labelInvoker, ct.Config)
				}
				invoker = ct.Config.Labels[labelInvoker]
				if ct.HostConfig == nil || ct.HostConfig.Memory <= 0 || ct.HostConfig.PidsLimit == nil || *ct.HostConfig.PidsLimit != 1024 {
					t.Errorf("the action's container %.12s lacks its memory or pids limit: %+v", id, ct.HostConfig)
				}
				if ct.State != nil && ct.State.Paused {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("container %.12s not paused (docker inspect State %+v) within %v of its pause grace %v", id, ct.State, pollWait, pauseGrace)
				}
				time.Sleep(20 * time.Millisecond)
			}
		},
		checkStopped: func(t *testing.T, _ string) {
			t.Helper()
			// A request the server sent just before it exited (a container
			// create cancelled on the client side) may still complete in
			// the daemon: look again for a while, so that such a late
			// leftover is seen too.
			deadline := time.Now().Add(settleWait)
			for {
				var left []string
				for _, c := range gowhiskContainers(t, cli) {
					if !before[c.ID] && (invoker == "" || c.Labels[labelInvoker] == invoker) {
						left = append(left, fmt.Sprintf("%.12s %q (%s, invoker %s)", c.ID, c.Names, c.State, c.Labels[labelInvoker]))
					}
				}
				if len(left) > 0 {
					t.Errorf("the server left %d containers after a clean stop: %s", len(left), strings.Join(left, "; "))
					return
				}
				if time.Now().After(deadline) {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		},
	}
}

// containerIDPattern is a Docker container id in a cgroup path
// (/docker/<id> with the cgroupfs driver, docker-<id>.scope with systemd).
var containerIDPattern = regexp.MustCompile(`[0-9a-f]{64}`)

// containerOf is the id of the container that ran an activation of
// counterAction, from the cgroup path the action reported.
func containerOf(t *testing.T, a *activation) string {
	t.Helper()
	cgroup, _ := a.result(t)["freezer"].(string)
	id := containerIDPattern.FindString(cgroup)
	if id == "" {
		t.Fatalf("the action reported no cgroup path naming its container (freezer %q): cannot find its container; record %s", cgroup, a.raw)
	}
	return id
}

// gowhiskContainers lists the daemon's containers, in any state, that a
// gowhisk invoker created.
func gowhiskContainers(t *testing.T, cli *client.Client) []container.Summary {
	t.Helper()
	res, err := cli.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", labelInvoker)})
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	var out []container.Summary
	for _, c := range res.Items {
		if _, ok := c.Labels[labelInvoker]; ok && len(c.Names) > 0 && strings.HasPrefix(c.Names[0], "/wsk") {
			out = append(out, c)
		}
	}
	return out
}
