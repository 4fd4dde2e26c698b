package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/invoker/container"
)

func TestPortsStartOffset(t *testing.T) {
	r := PortRange{10000, 10003}
	p := newPorts(r, 10002, func(int) bool { return true })
	var got []int
	for range 4 {
		port, err := p.get()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, port)
	}
	if !reflect.DeepEqual(got, []int{10002, 10003, 10000, 10001}) {
		t.Errorf("ports from 10002: %v", got)
	}
	if p := newPorts(r, 9999, func(int) bool { return true }); p.next != r.First {
		t.Errorf("a start outside the range begins at %d", p.next)
	}
}

func TestPortStart(t *testing.T) {
	def := PortRange{defaultFirstHostPort, defaultLastHostPort}
	tests := []struct {
		name    string
		invoker string
		r       PortRange
	}{
		{"default range", "invoker0", def},
		{"standalone name", "invoker0_f162116f", def},
		{"one port", "invoker0", PortRange{30000, 30000}},
		{"two ports", "invoker1", PortRange{30000, 30001}},
		{"empty name", "", def},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := portStart(tt.invoker, tt.r)
			if got < tt.r.First || got > tt.r.Last {
				t.Errorf("portStart(%q, %v) = %d, outside the range", tt.invoker, tt.r, got)
			}
			if again := portStart(tt.invoker, tt.r); again != got {
				t.Errorf("portStart is not stable: %d then %d", got, again)
			}
		})
	}
	// Invokers on one host begin at different ports: of 50 names, no more
	// than a few share a start in a 4000-port range.
	seen := map[int]int{}
	for i := range 50 {
		seen[portStart(fmt.Sprintf("invoker%d", i), def)]++
	}
	if len(seen) < 45 {
		t.Errorf("50 invoker names share %d start ports", len(seen))
	}
	if portStart("invoker0", def) == portStart("invoker1", def) {
		t.Error("invoker0 and invoker1 begin at the same port")
	}
}

func TestClassifyProbe(t *testing.T) {
	tests := []struct {
		name      string
		got, want string
		userImage bool
		verdict   probeVerdict
	}{
		{"own token", "abc", "abc", false, probeOurs},
		{"own token, user image", "abc", "abc", true, probeOurs},
		{"another proxy's token", "xyz", "abc", false, probeForeign},
		{"another proxy's token, user image", "xyz", "abc", true, probeForeign},
		{"no token from a runtime image: not ours", "", "abc", false, probeForeign},
		{"no token from a user image: OpenWhisk's proxy", "", "abc", true, probeOurs},
		{"no token expected and none sent", "", "", false, probeForeign},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classifyProbe(tt.got, tt.want, tt.userImage); got != tt.verdict {
				t.Errorf("classifyProbe(%q, %q, %v) = %v, want %v", tt.got, tt.want, tt.userImage, got, tt.verdict)
			}
		})
	}
}

func TestExitedForPort(t *testing.T) {
	tests := []struct {
		name   string
		code   int
		output string
		want   bool
	}{
		{"actionproxy's exit code", 98, "", true},
		{"a bind error in the output", 1, ": actionproxy: listen tcp 127.0.0.1:24001: bind: address already in use", true},
		{"another failure", 1, ": exec format error", false},
		{"killed", 137, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitedForPort(tt.code, tt.output); got != tt.want {
				t.Errorf("exitedForPort(%d, %q) = %v", tt.code, tt.output, got)
			}
		})
	}
}

func TestChildExited(t *testing.T) {
	gone := http.Header{}
	gone.Set("X-OW-Child-Exited", "true")
	tests := []struct {
		name   string
		status int
		body   string
		h      http.Header
		want   bool
	}{
		{"the proxy's 400 command exited", 400, `{"error":"command exited"}` + "\n", gone, true},
		{"the proxy's 500 command exited (gone before the run)", 500, `{"error":"command exited"}`, gone, true},
		{"command exited without the header: the action's own answer", 400, `{"error":"command exited"}`, http.Header{}, false},
		{"another error with the header", 400, `{"error":"something else"}`, gone, false},
		{"command exited with a 502 (the client gave up)", 502, `{"error":"command exited"}`, gone, false},
		{"a success", 200, `{"error":"command exited"}`, gone, false},
		{"header false", 400, `{"error":"command exited"}`, http.Header{"X-Ow-Child-Exited": {"false"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := childExited(tt.status, []byte(tt.body), tt.h); got != tt.want {
				t.Errorf("childExited(%d, %s, %v) = %v", tt.status, tt.body, tt.h, got)
			}
		})
	}
}

func TestInflight(t *testing.T) {
	var w inflight
	ctx := context.Background()
	if err := w.wait(ctx); err != nil {
		t.Fatalf("wait with nothing in flight: %v", err)
	}
	w.add()
	w.add()
	short, cancel := context.WithCancel(ctx)
	cancel()
	if err := w.wait(short); err == nil {
		t.Fatal("wait returned while two were in flight")
	}
	done := make(chan error, 1)
	go func() { done <- w.wait(ctx) }()
	w.done()
	select {
	case err := <-done:
		t.Fatalf("wait returned %v with one still in flight", err)
	default:
	}
	w.done()
	if err := <-done; err != nil {
		t.Fatalf("wait: %v", err)
	}
	w.add() // in flight again after idle
	if err := w.wait(short); err == nil {
		t.Fatal("wait returned while one was in flight again")
	}
	w.done()
	if err := w.wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// fakeDaemon answers the Engine API requests of a Create up to the
// create request, which onCreate answers, and records the removals. It
// scripts the daemon's side of a create that the caller gave up on.
type fakeDaemon struct {
	onCreate func(w http.ResponseWriter, r *http.Request)

	mu      sync.Mutex
	removed []string // "ref force=1"
}

func (d *fakeDaemon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if strings.HasPrefix(path, "/v1.") {
		path = path[strings.Index(path[1:], "/")+1:]
	}
	switch {
	case path == "/_ping":
		w.Header().Set("Api-Version", "1.41")
		io.WriteString(w, "OK")
	case r.Method == http.MethodPost && path == "/containers/create":
		d.onCreate(w, r)
	case r.Method == http.MethodDelete && strings.HasPrefix(path, "/containers/"):
		d.mu.Lock()
		d.removed = append(d.removed, strings.TrimPrefix(path, "/containers/")+" force="+r.URL.Query().Get("force"))
		d.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusNotImplemented)
		io.WriteString(w, `{"message":"not implemented by the fake daemon"}`)
	}
}

func (d *fakeDaemon) removals() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.removed...)
}

func createdAnswer(w http.ResponseWriter, id string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `{"Id":%q,"Warnings":[]}`, id)
}

// TestCreateNeverLeavesAContainer: a create the caller gave up on (its
// context ended while the request was in flight), a create the daemon
// failed, and a create cut by its timeout all end with a forced removal of
// what the daemon may have made: by id when it answered, else by name.
func TestCreateNeverLeavesAContainer(t *testing.T) {
	tests := []struct {
		name          string
		createTimeout time.Duration
		onCreate      func(cancel context.CancelFunc) func(http.ResponseWriter, *http.Request)
		wantErr       error
		wantRemoved   string // "id" or "name"
	}{
		{"cancelled while the daemon creates", 0, func(cancel context.CancelFunc) func(http.ResponseWriter, *http.Request) {
			return func(w http.ResponseWriter, r *http.Request) {
				cancel() // the server stops while the request is in flight
				createdAnswer(w, "c0ffee")
			}
		}, context.Canceled, "c0ffee"},
		{"the daemon fails the create", 0, func(context.CancelFunc) func(http.ResponseWriter, *http.Request) {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				io.WriteString(w, `{"message":"boom"}`)
			}
		}, container.ErrProvision, "name"},
		{"the create outlives its timeout", 50 * time.Millisecond, func(context.CancelFunc) func(http.ResponseWriter, *http.Request) {
			return func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(300 * time.Millisecond) // the daemon finishes later
				createdAnswer(w, "late")
			}
		}, context.DeadlineExceeded, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			d := &fakeDaemon{onCreate: tt.onCreate(cancel)}
			srv := httptest.NewServer(d)
			defer srv.Close()
			f, err := New(context.Background(), Config{
				Host: "tcp://" + srv.Listener.Addr().String(), InvokerName: "inv", Network: "actions",
				Timeouts: Timeouts{Create: tt.createTimeout},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			c, err := f.Create(ctx, container.Spec{Name: "a", Kind: "nodejs:20", Image: "runtime:1", MemoryMB: 128})
			if err == nil {
				t.Fatalf("Create succeeded: %v", c)
			}
			if !errors.Is(err, tt.wantErr) || !errors.Is(err, container.ErrProvision) {
				t.Errorf("error %v, want %v (a provisioning failure)", err, tt.wantErr)
			}
			want := tt.wantRemoved
			if want == "name" {
				want = ContainerName("inv", 1, "a")
			}
			if got := d.removals(); !reflect.DeepEqual(got, []string{want + " force=1"}) {
				t.Errorf("removals %q, want a forced removal of %s", got, want)
			}
		})
	}
}

func TestFreezeFailed(t *testing.T) {
	tests := []struct {
		msg  string
		want bool
	}{
		{"Error response from daemon: Cannot pause container c668d725476a: OCI runtime pause failed: unable to freeze: unknown", true},
		{"Error response from daemon: Container c668d725476a is not running", false},
		{"context deadline exceeded", false},
	}
	for _, tt := range tests {
		if got := freezeFailed(errors.New(tt.msg)); got != tt.want {
			t.Errorf("freezeFailed(%q) = %v", tt.msg, got)
		}
	}
}
