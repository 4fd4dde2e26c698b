package actionloop_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/invoker/container"
	"github.com/gowhisk/gowhisk/runtimes"
	"github.com/gowhisk/gowhisk/runtimes/actionloop"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls until the buffer contains sub (logs are written by the
// child before it answers, but copied by a goroutine).
func (s *syncBuffer) waitFor(t *testing.T, sub string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := s.String()
		if strings.Contains(got, sub) || time.Now().After(deadline) {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type launched struct {
	p        *actionloop.Process
	out, err *syncBuffer
	dir      string
}

func requireInterpreter(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s not available: %v", path, err)
	}
}

// slowWriter is a log reader that keeps up badly: every write into the
// buffer takes a millisecond, so an action that prints a lot fills the
// pipe and its runtime has to queue output.
type slowWriter struct{ *syncBuffer }

func (w slowWriter) Write(p []byte) (int, error) {
	time.Sleep(time.Millisecond)
	return w.syncBuffer.Write(p)
}

// start installs the launchers and starts the launcher of kind.
func start(t testing.TB, kind string) *launched {
	t.Helper()
	return startWith(t, kind, false, nil)
}

// startWith is start with a slow reader of stdout and stderr when slow,
// and prepare (when not nil) adjusting the command (argv[0] is the
// interpreter) before it starts.
func startWith(t testing.TB, kind string, slow bool, prepare func(cmd *exec.Cmd)) *launched {
	t.Helper()
	ldir := t.TempDir()
	if err := runtimes.InstallLaunchers(ldir); err != nil {
		t.Fatal(err)
	}
	argv, err := runtimes.LocalCommand(kind, ldir)
	if err != nil {
		t.Fatal(err)
	}
	requireInterpreter(t, argv[0])
	l := &launched{out: &syncBuffer{}, err: &syncBuffer{}, dir: t.TempDir()}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = l.out, l.err
	if slow {
		cmd.Stdout, cmd.Stderr = slowWriter{l.out}, slowWriter{l.err}
	}
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"}
	if prepare != nil {
		prepare(cmd)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l.p, err = actionloop.Start(ctx, cmd)
	if err != nil {
		t.Fatalf("Start(%s): %v", kind, err)
	}
	t.Cleanup(l.p.Kill)
	return l
}

// initCode prepares req and initializes the launcher with it.
func (l *launched) initCode(t testing.TB, kind string, req container.InitRequest) error {
	t.Helper()
	path, err := actionloop.Prepare(l.dir, kind, req)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return l.p.Init(ctx, req.Name, req.Main, path, req.Env)
}

func (l *launched) mustInit(t testing.TB, kind string, req container.InitRequest) {
	t.Helper()
	if err := l.initCode(t, kind, req); err != nil {
		t.Fatalf("Init: %v\nstderr: %s", err, l.err.String())
	}
}

func runBody(t testing.TB, value any, extra map[string]string) []byte {
	t.Helper()
	v, err := json.Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	req := container.RunRequest{Value: v, Namespace: "guest", ActionName: "/guest/a", ActionVersion: "0.0.1",
		ActivationID: "aid1", TransactionID: "tid1", Deadline: "1700000060000"}
	if extra != nil {
		req.APIKey = extra["api_key"]
		if id := extra["activation_id"]; id != "" {
			req.ActivationID = id
		}
	}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (l *launched) call(t testing.TB, value any, extra map[string]string) container.RunResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := l.p.Call(ctx, runBody(t, value, extra))
	if err != nil {
		t.Fatalf("Call: %v\nstderr: %s", err, l.err.String())
	}
	return res
}

func jsonField(t testing.TB, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	return m
}

// zipB64 builds a base64 zip of name->content (names ending in "/" are
// directories).
func zipB64(t testing.TB, files map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

var _ = filepath.Join
