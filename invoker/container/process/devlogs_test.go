package process

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/invoker/container"
)

// TestDeveloperErrorLogs: the traceback of a failed init (after which the
// launcher exits) and the stack of an exception are in the logs collected
// after the activation, read as the pool reads them after an error: waiting
// for the sentinels, which both launchers write after a failed init and
// after every run.
func TestDeveloperErrorLogs(t *testing.T) {
	f := newFactory(t, nil)
	for _, tc := range []struct {
		name, kind, code string
		initFails        bool
		want             []string // lines that must be collected (prefixes)
	}{
		{name: "nodejs init failure", kind: "nodejs:20", initFails: true,
			code: "function main() { return {}; }\nthrow new Error('init boom');",
			want: []string{"stderr: Error during initialization: Error: init boom", "stderr:     at "}},
		{name: "python init failure", kind: "python:3.11", initFails: true,
			code: "def main(args):\n    return {}\n\nraise ValueError('init boom')\n",
			want: []string{"stderr: Traceback (most recent call last):", "stderr:   File ", "stderr: ValueError: init boom"}},
		{name: "nodejs exception", kind: "nodejs:20",
			code: "function main() { console.log('before'); throw new Error('run boom'); }",
			want: []string{"stdout: before", "stderr: Error: run boom", "stderr:     at main "}},
		{name: "python exception", kind: "python:3.11",
			code: "def main(args):\n    print('before')\n    raise ValueError('run boom')\n",
			want: []string{"stdout: before", "stderr: Traceback (most recent call last):", "stderr: ValueError: run boom"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := create(t, f, tc.kind, 128)
			ictx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := c.Init(ictx, container.InitRequest{Name: "act", Main: "main", Code: tc.code})
			var ie *container.InitError
			if tc.initFails != errors.As(err, &ie) {
				t.Fatalf("Init: %v", err)
			}
			if !tc.initFails {
				if err != nil {
					t.Fatalf("Init: %v", err)
				}
				res, err := run(c, `{}`, 30*time.Second)
				if err != nil || !strings.Contains(string(res.Body), "run boom") {
					t.Fatalf("run: %v %d %s", err, res.Status, res.Body)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			lines, _, err := c.Logs(ctx, 1<<20, true)
			if err != nil {
				t.Fatalf("Logs: %v (sentinels not seen)", err)
			}
			var got []string
			for _, l := range lines {
				got = append(got, l.Stream+": "+l.Text)
			}
			for _, w := range tc.want {
				found := false
				for _, g := range got {
					found = found || strings.HasPrefix(g, w)
				}
				if !found {
					t.Errorf("no line %q in the logs %q", w, got)
				}
			}
			destroyAndCheck(t, c)
		})
	}
}
