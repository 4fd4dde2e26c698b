package pool

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/invoker/container"
	"github.com/gowhisk/gowhisk/invoker/container/process"
)

// processFactory is a real process sandbox for a test (node and python
// launchers), cleaned up after it.
func processFactory(t *testing.T) *process.Factory {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{filepath.Dir(root), root} { // traversable by the run-as user
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	f, err := process.New(context.Background(), process.Config{
		WorkRoot: root, Name: "pooltest" + strconv.Itoa(os.Getpid()), CgroupParent: "gowhisk-test",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := f.Cleanup(ctx); err != nil {
			t.Errorf("Cleanup: %v", err)
		}
	})
	return f
}

// TestDeveloperErrorLogsInProcessSandbox: with real launchers, the
// traceback of a failed init and the stack of an exception (a developer
// error, the container then destroyed) are in the activation's logs, with
// no notice: the launchers wrote the sentinels after them.
func TestDeveloperErrorLogsInProcessSandbox(t *testing.T) {
	f := processFactory(t)
	p, err := New(context.Background(), Config{UserMemoryMB: 1024, PauseGrace: -1, Name: "wsk0", Logger: failOnErrors(t)}, f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	for i, tc := range []struct {
		name, kind, code string
		want             []string // stored lines must contain these
	}{
		{"nodejs init failure", "nodejs:20", "function main() { return {}; }\nthrow new Error('init boom');",
			[]string{"stderr: Error during initialization: Error: init boom", "stderr:     at "}},
		{"python init failure", "python:3.11", "def main(args):\n    return {}\n\nraise ValueError('init boom')\n",
			[]string{"stderr: Traceback (most recent call last):", "stderr: ValueError: init boom"}},
		{"nodejs exception", "nodejs:20", "function main() { console.log('before'); throw new Error('run boom'); }",
			[]string{"stdout: before", "stderr: Error: run boom", "stderr:     at main "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for round := range 3 { // a cold container each time: the failed one is destroyed
				job := Job{
					Key:      Key{Namespace: "guest", Action: "guest/a" + strconv.Itoa(i), Revision: "1"},
					Spec:     container.Spec{Name: "a" + strconv.Itoa(i), Kind: tc.kind, MemoryMB: 128},
					Init:     container.InitRequest{Name: "a", Main: "main", Code: tc.code},
					Run:      container.RunRequest{Value: json.RawMessage(`{}`)},
					Timeout:  30 * time.Second,
					LogLimit: 10 << 20,
				}
				out := p.Run(context.Background(), job)
				if out.Response.StatusCode != entity.StatusDeveloperError {
					t.Fatalf("round %d: status %d %s", round, out.Response.StatusCode, out.Response.Result)
				}
				logs := strings.Join(out.Logs, "\n")
				for _, w := range tc.want {
					if !strings.Contains(logs, w) {
						t.Errorf("round %d: no %q in the logs:\n%s", round, w, logs)
					}
				}
				if strings.Contains(logs, container.LogsDeveloperError) {
					t.Errorf("round %d: notice although the sentinels came:\n%s", round, logs)
				}
			}
		})
	}
}
