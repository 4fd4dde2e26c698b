package actionloop_test

import (
	"context"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/invoker/container"
	"github.com/gowhisk/gowhisk/runtimes/actionloop"
)

// shLauncher starts a shell script as a launcher (fd 3 is the answer pipe).
func shLauncher(t *testing.T, ctx context.Context, script string) (*actionloop.Process, error) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	// Its own process group, killed as a whole at the end: the shell's
	// children (a sleep) must not outlive the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p, err := actionloop.Start(ctx, cmd)
	if cmd.Process != nil {
		pgid := cmd.Process.Pid
		t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
	}
	if err == nil {
		t.Cleanup(p.Kill)
	}
	return p, err
}

func TestStartFailures(t *testing.T) {
	tests := []struct {
		name, script string
		want         error
	}{
		{"exits before ready", "exit 1", container.ErrExited},
		{"never ready", "sleep 3600", container.ErrTimeout},
		{"bad ready line", "echo nonsense >&3; sleep 3600", container.ErrExited},
		{"not ok", `echo '{"ok":false}' >&3; sleep 3600`, container.ErrExited},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			limit := 30 * time.Second // a bound, not a timing assertion
			if tc.want == container.ErrTimeout {
				limit = 300 * time.Millisecond
			}
			ctx, cancel := context.WithTimeout(context.Background(), limit)
			defer cancel()
			_, err := shLauncher(t, ctx, tc.script)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Start error = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("missing binary", func(t *testing.T) {
		_, err := actionloop.Start(context.Background(), exec.Command("/nonexistent/launcher"))
		if err == nil {
			t.Fatal("Start of a missing binary succeeded")
		}
	})
	t.Run("stdin already set", func(t *testing.T) {
		cmd := exec.Command("/bin/true")
		cmd.Stdin = strings.NewReader("")
		if _, err := actionloop.Start(context.Background(), cmd); err == nil {
			t.Fatal("Start accepted a cmd with Stdin")
		}
	})
}

func TestRunProtocolFaults(t *testing.T) {
	const ready = `echo '{"ok":true}' >&3; `
	tests := []struct {
		name, script string
		wantErr      error // nil: a result
		wantStatus   int
		wantBody     string
	}{
		{"echo", ready + `while read l; do echo '{"a":1}' >&3; done`, nil, 200, `{"a":1}`},
		{"garbage line", ready + `read l; echo 'garbage' >&3; sleep 3600`, nil, 502, `{"error":"The action did not return a dictionary or array."}`},
		{"scalar line", ready + `read l; echo '42' >&3; sleep 3600`, nil, 502, actionloop.NotDictionary},
		{"status line", ready + `read l; echo '403 {"error":"no"}' >&3; sleep 3600`, nil, 403, `{"error":"no"}`},
		{"dies", ready + `read l; exit 0`, container.ErrExited, 0, ""},
		{"answers then dies", ready + `read l; echo '{"last":true}' >&3; exit 0`, nil, 200, `{"last":true}`},
		{"closes fd 3", ready + `exec 3>&-; sleep 3600`, container.ErrExited, 0, ""},
		{"never answers", ready + `sleep 3600`, container.ErrTimeout, 0, ""},
		{"huge line", ready + `read l; head -c 70000000 /dev/zero | tr '\0' a >&3; echo >&3; sleep 3600`, container.ErrExited, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := shLauncher(t, context.Background(), tc.script)
			if err != nil {
				t.Fatal(err)
			}
			limit := 30 * time.Second // a bound, not a timing assertion
			if tc.wantErr == container.ErrTimeout {
				limit = 300 * time.Millisecond
			}
			ctx, cancel := context.WithTimeout(context.Background(), limit)
			defer cancel()
			res, err := p.Call(ctx, []byte("{\"value\":\n{}}"))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Call error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Call: %v", err)
			}
			if res.Status != tc.wantStatus || !strings.Contains(string(res.Body), tc.wantBody) {
				t.Errorf("got %d %s, want %d %s", res.Status, res.Body, tc.wantStatus, tc.wantBody)
			}
		})
	}
}

// TestRunSendsOneLine checks that newlines in the body never split a request.
func TestRunSendsOneLine(t *testing.T) {
	p, err := shLauncher(t, context.Background(), `echo '{"ok":true}' >&3; while read l; do printf '{"n":%s}\n' "${#l}" >&3; done`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, body := range []string{"{\"value\":\n{\r\n}}", "{}"} {
		line, err := p.Run(ctx, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		want := len(strings.NewReplacer("\n", "", "\r", "").Replace(body))
		if string(line) != `{"n":`+strconv.Itoa(want)+`}` {
			t.Errorf("launcher saw %s, want one line of %d bytes", line, want)
		}
	}
}

func TestInitAnswers(t *testing.T) {
	tests := []struct {
		name, answer string
		ok           bool
		status       int
	}{
		{"ok", `{"ok":true}`, true, 0},
		{"status error", `502 {"error":"bad"}`, false, 502},
		{"plain error object", `{"error":"bad"}`, false, 502},
		{"garbage", `what`, false, 502},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := shLauncher(t, context.Background(), `echo '{"ok":true}' >&3; read l; echo '`+tc.answer+`' >&3; sleep 3600`)
			if err != nil {
				t.Fatal(err)
			}
			err = p.Init(context.Background(), "a", "main", "/x", nil)
			if tc.ok {
				if err != nil {
					t.Fatalf("Init: %v", err)
				}
				return
			}
			var ie *container.InitError
			if !errors.As(err, &ie) || ie.Status != tc.status {
				t.Fatalf("Init error = %v, want InitError %d", err, tc.status)
			}
		})
	}
}

func TestParseResult(t *testing.T) {
	nd := `{"error":"The action did not return a dictionary or array."}`
	tests := []struct {
		name, line string
		status     int
		body       string
	}{
		{"object", `{"a":1}`, 200, `{"a":1}`},
		{"array", `[1,2]`, 200, `[1,2]`},
		{"spaces", "  {\"a\":1}  ", 200, `{"a":1}`},
		{"invalid object", `{"a":`, 502, nd},
		{"string", `"s"`, 502, nd},
		{"number", `42`, 502, nd},
		{"null", `null`, 502, nd},
		{"empty", ``, 502, nd},
		{"status line", `502 {"error":"x"}`, 502, `{"error":"x"}`},
		{"status 403", `403 {"error":"y"}`, 403, `{"error":"y"}`},
		{"status bad json", `502 {"error":`, 502, nd},
		{"status out of range", `999 {"error":"x"}`, 502, nd},
		{"status array body", `502 [1]`, 502, nd},
		{"number then text", `123 abc`, 502, nd},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := actionloop.ParseResult([]byte(tc.line))
			if got.Status != tc.status || string(got.Body) != tc.body {
				t.Errorf("ParseResult(%q) = %d %s, want %d %s", tc.line, got.Status, got.Body, tc.status, tc.body)
			}
		})
	}
}
