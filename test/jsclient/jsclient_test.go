//go:build integration

package jsclient_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/entity"
)

const (
	// readyWait bounds how long the server may take to start or stop (a
	// guard against hangs, not a performance assertion).
	readyWait = 60 * time.Second
	// flowsWait bounds the whole node script; flows.js bounds each of its
	// own waits for an activation well below it.
	flowsWait = 5 * time.Minute
)

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

	bin := buildGowhisk(t)
	tmp := t.TempDir()
	// Actions run as an unprivileged user when the test runs as root: the
	// sandbox root must be reachable by it (t.TempDir's parent is 0700).
	if err := os.Chmod(filepath.Dir(tmp), 0o711); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, bin,
		"--data-dir", filepath.Join(tmp, "data"),
		"--sandbox", "process",
		"--sandbox-dir", filepath.Join(tmp, "sandbox"),
		"--cgroup-parent", fmt.Sprintf("gowhisk-jsclient-%d", os.Getpid()))

	ctx, cancel := context.WithTimeout(context.Background(), flowsWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = filepath.Dir(script)
	cmd.Env = append(cleanEnv(),
		"APIHOST="+srv.apihost,
		"AUTH="+entity.GuestAuthToken,
		"NODE_PATH="+nodeModules,
	)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	transcript := out.String()
	t.Logf("flows.js output:\n%s", transcript)
	if ctx.Err() != nil {
		t.Fatalf("flows.js did not finish within %v\nserver log tail:\n%s", flowsWait, tail(srv.stderr.String()))
	}
	if runErr != nil {
		t.Fatalf("flows.js failed (%v); see its output above\nserver log tail:\n%s", runErr, tail(srv.stderr.String()))
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
	srv.stop(t)
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

// buildGowhisk builds cmd/gowhisk into a temporary directory.
func buildGowhisk(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "gowhisk")
	cmd := exec.Command(goTool, "build", "-o", bin, "github.com/gowhisk/gowhisk/cmd/gowhisk")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/gowhisk: %v\n%s", err, out)
	}
	return bin
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

// server is a running `gowhisk standalone` process.
type server struct {
	cmd     *exec.Cmd
	apihost string
	stderr  *syncBuffer
	exited  chan struct{} // closed when the process has exited
	waitErr error         // its exit status, set before exited is closed
}

var listenLine = regexp.MustCompile(`^(?:wsk property set --apihost|gowhisk listening on) (http://127\.0\.0\.1:[0-9]+)`)

// startServer starts `gowhisk standalone --port 0` with extra args, waits
// for its first stdout line (printed once it listens) and for /ping.
func startServer(t *testing.T, bin string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"standalone", "--port", "0", "--log-level", "debug"}, args...)...)
	cmd.Env = cleanEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, stderr: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start gowhisk: %v", err)
	}
	// The reader keeps the first line and discards the rest, so the
	// process never blocks on its stdout.
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for n := 0; sc.Scan(); n++ {
			if n == 0 {
				lines <- sc.Text()
			}
		}
		close(lines)
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			_ = cmd.Process.Kill()
			<-s.exited
		}
	})

	var first string
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatalf("gowhisk standalone exited before printing its address\nstderr:\n%s", s.stderr)
		}
		first = l
	case <-time.After(readyWait):
		t.Fatalf("gowhisk standalone printed nothing within %v\nstderr:\n%s", readyWait, s.stderr)
	}
	m := listenLine.FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("first stdout line %q names no loopback apihost", first)
	}
	s.apihost = m[1]
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(readyWait)
	for {
		resp, err := client.Get(s.apihost + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/ping not answering 200 within %v: %v\nstderr:\n%s", s.apihost, readyWait, err, s.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and expects a clean exit.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-s.exited:
		if s.waitErr != nil {
			t.Fatalf("gowhisk standalone exited with %v after SIGTERM\nstderr tail:\n%s", s.waitErr, tail(s.stderr.String()))
		}
	case <-time.After(readyWait):
		_ = s.cmd.Process.Kill()
		t.Fatalf("gowhisk standalone did not exit within %v of SIGTERM\nstderr tail:\n%s", readyWait, tail(s.stderr.String()))
	}
}

// tail is the last lines of a log, enough to see why a step failed.
func tail(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > 60 {
		lines = lines[len(lines)-60:]
	}
	return strings.Join(lines, "\n")
}

// syncBuffer is a bytes.Buffer safe for a process's writes and the test's
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
