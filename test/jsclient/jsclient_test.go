//go:build integration

package jsclient_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/test/gowhisktest"
)

// flowsWait bounds the whole node script; flows.js bounds each of its own
// waits for an activation well below it.
const flowsWait = 5 * time.Minute

func TestOfficialJSClientFlows(t *testing.T) {
	nodeModules := requireOpenwhiskModule(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not on PATH (needed to run the official JS client): %v", err)
	}
	script, err := filepath.Abs("flows.js")
	if err != nil {
		t.Fatal(err)
	}

	bin := gowhisktest.BuildGowhisk(t)
	tmp := t.TempDir()
	// Actions run as an unprivileged user when the test runs as root: the
	// sandbox root must be reachable by it (t.TempDir's parent is 0700).
	if err := os.Chmod(filepath.Dir(tmp), 0o711); err != nil {
		t.Fatal(err)
	}
	srv := gowhisktest.StartStandalone(t, bin, cleanEnv(),
		"--data-dir", filepath.Join(tmp, "data"),
		"--sandbox", "process",
		"--sandbox-dir", filepath.Join(tmp, "sandbox"),
		"--cgroup-parent", fmt.Sprintf("gowhisk-jsclient-%d", os.Getpid()))

	ctx, cancel := context.WithTimeout(context.Background(), flowsWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = filepath.Dir(script)
	cmd.Env = append(cleanEnv(),
		"APIHOST="+srv.APIHost,
		"AUTH="+entity.GuestAuthToken,
		"NODE_PATH="+nodeModules,
	)
	var out gowhisktest.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	transcript := out.String()
	t.Logf("flows.js output:\n%s", transcript)
	if ctx.Err() != nil {
		t.Fatalf("flows.js did not finish within %v\nserver log tail:\n%s", flowsWait, gowhisktest.Tail(srv.Stderr.String(), 60))
	}
	if runErr != nil {
		t.Fatalf("flows.js failed (%v); see its output above\nserver log tail:\n%s", runErr, gowhisktest.Tail(srv.Stderr.String(), 60))
	}
	if strings.Contains(transcript, "FAIL:") || !strings.Contains(transcript, "\nPASS: all flows") {
		t.Fatalf("flows.js exited 0 but did not report PASS for all flows")
	}
	// Every step that started also ended.
	steps := regexp.MustCompile(`(?m)^step: (.*)$`).FindAllStringSubmatch(transcript, -1)
	oks := regexp.MustCompile(`(?m)^ok: (.*)$`).FindAllStringSubmatch(transcript, -1)
	if len(steps) == 0 || len(steps) != len(oks) {
		t.Fatalf("flows.js ran %d steps and finished %d", len(steps), len(oks))
	}
	srv.Stop(t)
}

// requireOpenwhiskModule returns test/integration/node_modules, failing
// the test with an install hint when the openwhisk module is not there.
func requireOpenwhiskModule(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "integration", "node_modules"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "openwhisk", "package.json")); err != nil {
		t.Fatalf("the official JS client (npm openwhisk) is not installed in %s: %v\n"+
			"install it with `npm ci --prefix test/integration` from the repository root "+
			"(`make test-integration` does so when pouchdb-server is missing)", dir, err)
	}
	return dir
}

// cleanEnv is the test's environment without GOWHISK_* and __OW_*
// settings, so a developer's own configuration cannot change what the
// server or the JS client (which reads __OW_API_HOST, __OW_NAMESPACE, ...)
// do.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GOWHISK_") || strings.HasPrefix(kv, "__OW_") || strings.HasPrefix(kv, "NODE_PATH=") {
			continue
		}
		// The client honours proxy variables; the server is on loopback.
		if k, _, _ := strings.Cut(kv, "="); strings.EqualFold(k, "http_proxy") || strings.EqualFold(k, "https_proxy") || strings.EqualFold(k, "proxy") {
			continue
		}
		env = append(env, kv)
	}
	return env
}
