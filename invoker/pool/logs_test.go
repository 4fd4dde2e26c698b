package pool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// scriptedOutput is a runtime's output around a failed activation: early
// is already read when /init or /run returns; late (a traceback, a stack)
// is read only afterwards, followed by the sentinels if the runtime writes
// them, or by the end of its streams if it died.
type scriptedOutput struct {
	early, late []string
	sentinels   bool // both sentinels follow late
	ended       bool // without sentinels: the streams end (the sandbox exited)
}

func (s scriptedOutput) lines(texts []string) []container.LogLine {
	var out []container.LogLine
	for i, t := range texts {
		out = append(out, container.LogLine{Time: time.Date(2024, 1, 1, 0, 0, i, 0, time.UTC), Stream: "stderr", Text: t})
	}
	return out
}

// read behaves as a sandbox's Logs over this output.
func (s scriptedOutput) read(ctx context.Context, wait bool) ([]container.LogLine, error) {
	if !wait {
		return s.lines(s.early), nil
	}
	all := s.lines(append(append([]string{}, s.early...), s.late...))
	switch {
	case s.sentinels:
		return all, nil
	case s.ended:
		return all, fmt.Errorf("stderr ended: %w", container.ErrLogsIncomplete)
	}
	<-ctx.Done() // a live runtime that never writes them
	return all, fmt.Errorf("%w: %w", container.ErrLogsIncomplete, ctx.Err())
}

// TestDeveloperErrorLogs: after a developer error the pool waits (briefly)
// for the sentinels, so that a traceback written just before them is in the
// logs, and says that logs may be missing only when they were not all seen
// or the action timed out or died.
func TestDeveloperErrorLogs(t *testing.T) {
	traceback := []string{"Traceback (most recent call last):", `  File "/action/__main__.py", line 1`, "SyntaxError: invalid syntax"}
	stack := []string{"Error: boom", "    at main (eval at <anonymous>, <anonymous>:1:28)"}
	initFails := func(context.Context) (container.RunResult, error) {
		return container.RunResult{}, &container.InitError{Status: 502, Body: []byte(`{"error":"Initialization has failed due to: SyntaxError"}`)}
	}
	throws := func(context.Context) (container.RunResult, error) {
		return container.RunResult{Status: 502, Body: []byte(`{"error":"An error has occurred: Error: boom"}`)}, nil
	}
	tests := []struct {
		name     string
		init     func(context.Context) (container.RunResult, error)
		run      func(context.Context) (container.RunResult, error)
		out      scriptedOutput
		want     []string // texts of the collected lines
		notice   bool
		waited   bool
		deadline bool // the wait ended by the pool's bound
	}{
		{name: "init failure traceback", init: initFails,
			out:  scriptedOutput{early: []string{"loading"}, late: traceback, sentinels: true},
			want: append([]string{"loading"}, traceback...), waited: true},
		{name: "exception stack", run: throws,
			out:  scriptedOutput{late: stack, sentinels: true},
			want: stack, waited: true},
		{name: "no sentinels from a live runtime", run: throws,
			out:  scriptedOutput{early: []string{"x"}, late: stack},
			want: append([]string{"x"}, stack...), notice: true, waited: true, deadline: true},
		{name: "init failure, sandbox exited", init: func(context.Context) (container.RunResult, error) {
			return container.RunResult{}, container.ErrExited
		}, out: scriptedOutput{late: traceback, ended: true},
			want: traceback, notice: true, waited: true},
		{name: "crash: notice even with sentinels", run: func(context.Context) (container.RunResult, error) {
			return container.RunResult{}, container.ErrExited
		}, out: scriptedOutput{late: stack, sentinels: true},
			want: stack, notice: true, waited: true},
		{name: "timeout reads without waiting", run: func(ctx context.Context) (container.RunResult, error) {
			<-ctx.Done()
			return container.RunResult{}, container.ErrTimeout
		}, out: scriptedOutput{early: []string{"started"}, late: []string{"never read"}},
			want: []string{"started"}, notice: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeFactory{}
			if tc.init != nil {
				f.init = func(*fakeContainer, container.InitRequest) (container.RunResult, error) {
					return tc.init(context.Background())
				}
			}
			if tc.run != nil {
				f.run = func(ctx context.Context, _ *fakeContainer, _ container.RunRequest) (container.RunResult, error) {
					return tc.run(ctx)
				}
			}
			var waited, cut bool
			f.readLogs = func(ctx context.Context, _ *fakeContainer, wait bool) ([]container.LogLine, error) {
				waited = wait
				lines, err := tc.out.read(ctx, wait)
				cut = errors.Is(ctx.Err(), context.DeadlineExceeded)
				return lines, err
			}
			p, _ := newTestPool(t, Config{PauseGrace: -1}, f)
			job := testJob("guest", "hello", "1")
			job.Timeout = 50 * time.Millisecond
			out := p.Run(context.Background(), job)
			if out.Response.StatusCode != entity.StatusDeveloperError {
				t.Fatalf("status %d: %s", out.Response.StatusCode, out.Response.Result)
			}
			var got []string
			notice := false
			for i, l := range out.Logs {
				_, text, _ := strings.Cut(l, "stderr: ")
				if text == container.LogsDeveloperError && i == len(out.Logs)-1 {
					notice = true
					continue
				}
				got = append(got, text)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("logs %q, want the lines %q", out.Logs, tc.want)
			}
			if notice != tc.notice {
				t.Errorf("developer-error notice %v, want %v (logs %q)", notice, tc.notice, out.Logs)
			}
			if waited != tc.waited || cut != tc.deadline {
				t.Errorf("Logs waited for the sentinels %v (cut by the bound %v), want %v (%v)", waited, cut, tc.waited, tc.deadline)
			}
			c := f.byID(out.ContainerID)
			waitFor(t, "destroyed", c.isDestroyed)
			checkNoViolations(t, f)
		})
	}
}

func TestPlanLogs(t *testing.T) {
	const mb = 1 << 20
	tests := []struct {
		name   string
		code   int
		failed error
		limit  int64
		want   logPlan
	}{
		{"success", entity.StatusSuccess, nil, 10 * mb, logPlan{wait: true, bound: 20 * time.Second, notice: container.LogsCollectionFailed}},
		{"application error, small limit", entity.StatusApplicationError, nil, mb, logPlan{wait: true, bound: minLogCollectTimeout, notice: container.LogsCollectionFailed}},
		{"whisk error", entity.StatusWhiskError, container.ErrProvision, 10 * mb, logPlan{wait: true, bound: 20 * time.Second, notice: container.LogsCollectionFailed}},
		{"developer error answer", entity.StatusDeveloperError, nil, 10 * mb, logPlan{wait: true, bound: devErrorLogWait, notice: container.LogsDeveloperError}},
		{"init error", entity.StatusDeveloperError, &container.InitError{Status: 502}, 10 * mb, logPlan{wait: true, bound: devErrorLogWait, notice: container.LogsDeveloperError}},
		{"exited", entity.StatusDeveloperError, fmt.Errorf("launcher: %w", container.ErrExited), 10 * mb, logPlan{wait: true, bound: devErrorLogWait, notice: container.LogsDeveloperError, always: true}},
		{"oom", entity.StatusDeveloperError, container.ErrOOM, 10 * mb, logPlan{wait: true, bound: devErrorLogWait, notice: container.LogsDeveloperError, always: true}},
		{"timeout", entity.StatusDeveloperError, container.ErrTimeout, 10 * mb, logPlan{bound: devErrorLogWait, notice: container.LogsDeveloperError, always: true}},
		{"deadline", entity.StatusDeveloperError, context.DeadlineExceeded, 10 * mb, logPlan{bound: devErrorLogWait, notice: container.LogsDeveloperError, always: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := planLogs(tc.code, tc.failed, tc.limit); got != tc.want {
				t.Fatalf("planLogs = %+v, want %+v", got, tc.want)
			}
		})
	}
}

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
