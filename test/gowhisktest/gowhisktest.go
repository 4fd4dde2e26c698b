// Package gowhisktest runs the built gowhisk binary for end-to-end tests:
// building it, starting `gowhisk standalone` on a free port and stopping
// it, and a buffer safe for a process's writes and a test's reads.
package gowhisktest

import (
	"bufio"
	"bytes"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ReadyWait bounds how long the server may take to start or to stop (a
// guard against hangs, not a performance assertion).
const ReadyWait = 60 * time.Second

// SyncBuffer is a bytes.Buffer safe for a process's writes and a test's
// reads.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// BuildGowhisk builds cmd/gowhisk into a temporary directory and returns
// the binary's path.
func BuildGowhisk(t testing.TB) string {
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

// Tail is the last n lines of a log, enough to see why a step failed.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Standalone is a running `gowhisk standalone` process.
type Standalone struct {
	Cmd     *exec.Cmd
	APIHost string        // from the first stdout line
	Auth    string        // the auth of the printed wsk line, "" if none
	Stderr  *SyncBuffer   // the server's log
	Exited  chan struct{} // closed when the process has exited
	WaitErr error         // its exit status, set before Exited is closed
}

var (
	wskLine    = regexp.MustCompile(`^wsk property set --apihost (http://127\.0\.0\.1:[0-9]+) --auth (\S+)$`)
	listenLine = regexp.MustCompile(`^gowhisk listening on (http://127\.0\.0\.1:[0-9]+)`)
)

// StartStandalone starts `gowhisk standalone --port 0 --log-level debug`
// with extra args in the environment env, waits for its first stdout line
// (printed once it listens) and for /ping to answer 200. The process is
// killed at the end of the test if it still runs.
func StartStandalone(t testing.TB, bin string, env []string, args ...string) *Standalone {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"standalone", "--port", "0", "--log-level", "debug"}, args...)...)
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &Standalone{Cmd: cmd, Stderr: &SyncBuffer{}, Exited: make(chan struct{})}
	cmd.Stderr = s.Stderr
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
		s.WaitErr = cmd.Wait()
		close(s.Exited)
	}()
	t.Cleanup(func() {
		select {
		case <-s.Exited:
		default:
			_ = cmd.Process.Kill()
			<-s.Exited
		}
	})

	var first string
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatalf("gowhisk standalone exited before printing its address\nstderr:\n%s", s.Stderr)
		}
		first = l
	case <-time.After(ReadyWait):
		t.Fatalf("gowhisk standalone printed nothing within %v\nstderr:\n%s", ReadyWait, s.Stderr)
	}
	if m := wskLine.FindStringSubmatch(first); m != nil {
		s.APIHost, s.Auth = m[1], m[2]
	} else if m := listenLine.FindStringSubmatch(first); m != nil {
		s.APIHost = m[1]
	} else {
		t.Fatalf("first stdout line %q is neither the wsk line nor the listening line", first)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(ReadyWait)
	for {
		resp, err := client.Get(s.APIHost + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/ping not answering 200 within %v: %v\nstderr:\n%s", s.APIHost, ReadyWait, err, s.Stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop sends SIGTERM and expects a clean exit within ReadyWait.
func (s *Standalone) Stop(t testing.TB) {
	t.Helper()
	if err := s.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-s.Exited:
		if s.WaitErr != nil {
			t.Fatalf("gowhisk standalone exited with %v after SIGTERM\nstderr tail:\n%s", s.WaitErr, Tail(s.Stderr.String(), 60))
		}
	case <-time.After(ReadyWait):
		_ = s.Cmd.Process.Kill()
		t.Fatalf("gowhisk standalone did not exit within %v of SIGTERM\nstderr tail:\n%s", ReadyWait, Tail(s.Stderr.String(), 60))
	}
}
