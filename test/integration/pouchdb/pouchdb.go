// Package pouchdb starts pouchdb-server (npm pouchdb-server@4.2.0, pinned in
// test/integration/package.json) as a CouchDB-API server for integration
// tests: in-memory, on a free 127.0.0.1 port, from a throwaway working
// directory whose config.json holds an admin, so that every request must
// carry credentials (see /work/shared/environment.md for its quirks).
//
// The package has no build tag so that any integration test can import it;
// it only starts a process when asked to.
package pouchdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/test/gowhisktest"
)

// EnvVar names the environment variable holding the path of
// test/integration/node_modules/pouchdb-server/bin/pouchdb-server.
const EnvVar = "GOWHISK_POUCHDB_SERVER"

// Credentials of the admin every started server is configured with.
const (
	AdminUser     = "admin"
	AdminPassword = "gowhisk-test"
)

// StartTimeout bounds how long Start waits for the server to answer GET /.
const StartTimeout = 10 * time.Second

// Options configures Launch.
type Options struct {
	// Bin is the pouchdb-server script; it is run with Node.
	Bin string
	// Node is the node executable ("node" from PATH if empty).
	Node string
	// Dir is the working directory (config.json, log.txt); it must exist.
	Dir string
}

// Server is a running pouchdb-server.
type Server struct {
	// URL is the server's base URL, e.g. "http://127.0.0.1:39017".
	URL string
	// Username and Password are the admin's credentials.
	Username, Password string

	cmd      *exec.Cmd
	dir      string
	exited   chan struct{}
	prefixes atomic.Int64
}

// Start launches a server for test t from the script named by $EnvVar,
// in a temporary directory, and stops it when t ends (pass or fail). It
// fails t if the variable is unset or the server does not answer within
// StartTimeout.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := os.Getenv(EnvVar)
	if bin == "" {
		t.Fatalf("%s is not set: run `npm ci --prefix test/integration` and set it to the path of test/integration/node_modules/pouchdb-server/bin/pouchdb-server", EnvVar)
	}
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	s, err := Launch(ctx, Options{Bin: bin, Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("start pouchdb-server: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pouchdb-server output:\n%s", s.Output())
		}
		if err := s.Stop(); err != nil {
			t.Errorf("stop pouchdb-server: %v", err)
		}
	})
	return s
}

// Launch starts a server in o.Dir and waits until it answers GET / or ctx
// ends. On failure the process is killed. The caller stops it with Stop.
func Launch(ctx context.Context, o Options) (*Server, error) {
	if o.Bin == "" || o.Dir == "" {
		return nil, errors.New("pouchdb: Bin and Dir are required")
	}
	if o.Node == "" {
		o.Node = "node"
	}
	bin, err := filepath.Abs(o.Bin)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("pouchdb: %w", err)
	}
	// An admin in config.json before the start: without one pouchdb-server
	// rejects every credential; with one created at run time an
	// unauthenticated database create crashes it.
	cfg, _ := json.Marshal(map[string]any{"admins": map[string]string{AdminUser: AdminPassword}})
	if err := os.WriteFile(filepath.Join(o.Dir, "config.json"), cfg, 0o600); err != nil {
		return nil, fmt.Errorf("pouchdb: %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s, err := launchOn(ctx, o.Node, bin, o.Dir, port)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func launchOn(ctx context.Context, node, bin, dir string, port int) (*Server, error) {
	cmd := exec.Command(node, bin, "--in-memory", "--host", "127.0.0.1", "--port", strconv.Itoa(port), "-n", "--no-color")
	cmd.Dir = dir
	out := &gowhisktest.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("pouchdb: start %s: %w", bin, err)
	}
	s := &Server{
		URL:      "http://127.0.0.1:" + strconv.Itoa(port),
		Username: AdminUser, Password: AdminPassword,
		cmd: cmd, dir: dir, exited: make(chan struct{}),
	}
	go func() {
		_ = cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(ctx); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("%w; output:\n%s", err, s.Output())
	}
	return s, nil
}

// waitReady polls GET / until it answers 200.
func (s *Server) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/", nil)
		req.SetBasicAuth(s.Username, s.Password)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("pouchdb: server exited before answering (%v)", s.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("pouchdb: server did not answer GET / in time: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop kills the server process and waits for it to exit.
func (s *Server) Stop() error {
	select {
	case <-s.exited:
		return nil
	default:
	}
	if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-s.exited:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("pouchdb: process %d did not exit", s.cmd.Process.Pid)
	}
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Output returns what the server printed so far.
func (s *Server) Output() string {
	if sb, ok := s.cmd.Stdout.(*gowhisktest.SyncBuffer); ok {
		return sb.String()
	}
	return ""
}

// NewPrefix returns a database-name prefix not returned before by this
// server ("t1_", "t2_", ...), so that each test gets its own databases.
func (s *Server) NewPrefix() string {
	return "t" + strconv.FormatInt(s.prefixes.Add(1), 10) + "_"
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pouchdb: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
