//go:build integration

package distributed_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/test/gowhisktest"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Bounds of the waits: reaching one is a hang (a failure), never a
// performance measurement.
const (
	startWait   = 60 * time.Second
	requestWait = 70 * time.Second
)

// buildBinary builds the main package pkg into dir.
func buildBinary(t *testing.T, dir, pkg string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command(goTool, "build", "-o", bin, pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// cleanEnv is a minimal environment for the processes: no GOWHISK_
// variable of the caller leaks into them.
func cleanEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "LANG"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// proc is a gowhisk process the test started.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *gowhisktest.SyncBuffer // stdout and stderr
	done chan struct{}
}

// startProc starts bin with args and waits until its stdout has a line
// matching ready; it returns the process and the line's first submatch.
func startProc(t *testing.T, name, bin string, ready *regexp.Regexp, args ...string) (*proc, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = cleanEnv()
	p := &proc{name: name, cmd: cmd, out: &gowhisktest.SyncBuffer{}, done: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(p.out, sc.Text())
			select {
			case lines <- sc.Text():
			default:
			}
		}
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.shutdown()
		if t.Failed() || os.Getenv("GOWHISK_TEST_LOGS") != "" {
			t.Logf("output of %s (%v):\n%s", name, args, tail(p.out.String(), 120))
		}
	})
	deadline := time.After(startWait)
	for {
		select {
		case l := <-lines:
			if m := ready.FindStringSubmatch(l); m != nil {
				if len(m) > 1 {
					return p, m[1]
				}
				return p, ""
			}
		case <-p.done:
			t.Fatalf("%s exited before it was ready:\n%s", name, tail(p.out.String(), 80))
		case <-deadline:
			t.Fatalf("%s not ready within %v:\n%s", name, startWait, tail(p.out.String(), 80))
		}
	}
}

// kill ends the process with SIGKILL (a crash) and waits for it.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// shutdown ends the process at the end of a test: SIGTERM, so that an
// invoker destroys its containers (a SIGKILLed invoker leaves its paused,
// cgroup-frozen action processes behind until an invoker of the same name
// starts again), then SIGKILL if it is still there after a while.
func (p *proc) shutdown() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(startWait):
		p.kill()
	}
}

// stop ends the process with SIGTERM and waits (bounded) for it.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(startWait):
		p.kill()
		t.Fatalf("%s did not stop on SIGTERM", p.name)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// client talks to a controller.
type client struct {
	t    *testing.T
	base string
	auth string
	hc   *http.Client
}

type resp struct {
	Status int
	Body   []byte
}

func (r resp) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object (status %d): %s", r.Status, r.Body)
	}
	return m
}

func (c *client) do(method, path string, body any) resp {
	c.t.Helper()
	r, err := c.try(method, path, body)
	if err != nil {
		c.t.Fatalf("%s %s%s: %v", method, c.base, path, err)
	}
	return r
}

// try is do without failing on a transport error.
func (c *client) try(method, path string, body any) (resp, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return resp{}, err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestWait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return resp{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.auth != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.auth)))
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return resp{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return resp{Status: res.StatusCode, Body: b}, err
}

// eventually polls f every 100 ms until it reports done, for at most
// bound; it fails the test with f's last description otherwise.
func eventually(t *testing.T, bound time.Duration, what string, f func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	var last string
	for {
		ok, desc := f()
		if ok {
			return time.Since(start)
		}
		last = desc
		if time.Since(start) > bound {
			t.Fatalf("%s: not after %v; last: %s", what, bound, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kafkaBroker is the in-process Kafka-protocol broker, restartable on its
// port with its data.
type kafkaBroker struct {
	dir     string
	port    int
	cluster *kfake.Cluster
}

func startKafka(t *testing.T) *kafkaBroker {
	t.Helper()
	k := &kafkaBroker{dir: t.TempDir()}
	k.start(t)
	_, port, _ := net.SplitHostPort(k.cluster.ListenAddrs()[0])
	k.port, _ = strconv.Atoi(port)
	t.Cleanup(func() {
		if k.cluster != nil {
			k.cluster.Close()
		}
	})
	return k
}

func (k *kafkaBroker) start(t *testing.T) {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1),
		kfake.GroupMinSessionTimeout(100 * time.Millisecond), kfake.DataDir(k.dir)}
	if k.port != 0 {
		opts = append(opts, kfake.Ports(k.port))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	k.cluster = c
}

func (k *kafkaBroker) stop() {
	k.cluster.Close()
	k.cluster = nil
}

func (k *kafkaBroker) addr() string { return "127.0.0.1:" + strconv.Itoa(k.port) }
