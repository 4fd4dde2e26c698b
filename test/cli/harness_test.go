// Package cli tests the built wsk binary against a running `gowhisk
// standalone` (process sandbox): golden transcripts of every command, and
// the inventory example of issue 4 as a user would type it.
package cli

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/test/gowhisktest"
)

const readyWait = 60 * time.Second

var wskLine = regexp.MustCompile(`^wsk property set --apihost (http://127\.0\.0\.1:[0-9]+) --auth (\S+)$`)

// build compiles a package of this module into dir.
func build(t *testing.T, dir, name, pkg string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(dir, name)
	cmd := exec.Command(goTool, "build", "-o", bin, pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// cleanEnv is the environment without the settings wsk and gowhisk read.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GOWHISK_") || strings.HasPrefix(kv, "WHISK_") || strings.HasPrefix(kv, "WSK_") ||
			strings.HasPrefix(kv, "TZ=") || strings.HasPrefix(kv, "NO_COLOR=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "TZ=UTC")
}

// server is a running gowhisk standalone.
type server struct {
	apihost, auth string
	stderr        *gowhisktest.SyncBuffer
}

// env is a test environment: the binaries, a running server and a
// directory holding the test's files and its wsk configuration.
type env struct {
	wsk  string
	dir  string // working directory of wsk commands
	srv  *server
	conf string // WSK_CONFIG_FILE
}

// setup builds wsk and gowhisk and starts `gowhisk standalone --sandbox
// process` on a free port with a fresh data directory.
func setup(t *testing.T) *env {
	t.Helper()
	tmp := t.TempDir()
	// Actions run as an unprivileged user when the test runs as root: the
	// sandbox root must be reachable by it (t.TempDir's parent is 0700).
	if err := os.Chmod(filepath.Dir(tmp), 0o711); err != nil {
		t.Fatal(err)
	}
	bins := filepath.Join(tmp, "bin")
	wsk := build(t, bins, "wsk", "github.com/gowhisk/gowhisk/cmd/wsk")
	gw := build(t, bins, "gowhisk", "github.com/gowhisk/gowhisk/cmd/gowhisk")
	srv := startServer(t, gw, "--data-dir", filepath.Join(tmp, "data"), "--sandbox", "process",
		"--sandbox-dir", filepath.Join(tmp, "sandbox"),
		"--invocations-per-minute", "10000", "--fires-per-minute", "10000", "--concurrent-invocations", "100")
	work := filepath.Join(tmp, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	return &env{wsk: wsk, dir: work, srv: srv, conf: filepath.Join(tmp, "wskprops")}
}

func startServer(t *testing.T, bin string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"standalone", "--port", "0"}, args...)...)
	cmd.Env = cleanEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{stderr: &gowhisktest.SyncBuffer{}}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start gowhisk: %v", err)
	}
	exited := make(chan struct{})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for n := 0; sc.Scan(); n++ {
			if n == 0 {
				lines <- sc.Text()
			}
		}
		close(lines)
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatalf("gowhisk exited before printing its address\nstderr:\n%s", s.stderr)
		}
		m := wskLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("first stdout line %q is not the wsk line", l)
		}
		s.apihost, s.auth = m[1], m[2]
	case <-time.After(readyWait):
		t.Fatalf("gowhisk printed nothing within %v\nstderr:\n%s", readyWait, s.stderr)
	}
	deadline := time.Now().Add(readyWait)
	for {
		resp, err := http.Get(s.apihost + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/ping not answering: %v\nstderr:\n%s", err, s.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// result is what one wsk command did.
type result struct {
	stdout, stderr string
	code           int
}

// run runs wsk with args in the work directory, with WSK_CONFIG_FILE set
// to the test's file and extra environment variables.
func (e *env) run(t *testing.T, extraEnv []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.wsk, args...)
	cmd.Dir = e.dir
	cmd.Env = append(append(cleanEnv(), "WSK_CONFIG_FILE="+e.conf), extraEnv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("wsk %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return result{out.String(), errb.String(), code}
}

// wsk runs a command that must succeed and returns its stdout.
func (e *env) ok(t *testing.T, args ...string) string {
	t.Helper()
	r := e.run(t, nil, args...)
	if r.code != 0 {
		t.Fatalf("wsk %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// writeFile writes a file into the work directory.
func (e *env) writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(e.dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
