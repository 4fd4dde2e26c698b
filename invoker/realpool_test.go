package invoker

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/invoker/container"
	"github.com/gowhisk/gowhisk/invoker/pool"
	"github.com/gowhisk/gowhisk/messaging"
)

// echoFactory makes in-memory containers whose /run answers the run value
// and logs one line; it records the specs and init requests it saw.
type echoFactory struct {
	mu    sync.Mutex
	specs []container.Spec
	inits []container.InitRequest
	n     int
}

func (f *echoFactory) Create(_ context.Context, spec container.Spec) (container.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	f.specs = append(f.specs, spec)
	return &echoContainer{f: f, id: fmt.Sprintf("echo%d", f.n)}, nil
}

func (f *echoFactory) Cleanup(context.Context) error { return nil }

type echoContainer struct {
	f    *echoFactory
	id   string
	mu   sync.Mutex
	logs []container.LogLine
}

func (c *echoContainer) ID() string { return c.id }

func (c *echoContainer) Init(_ context.Context, req container.InitRequest) (container.RunResult, error) {
	c.f.mu.Lock()
	c.f.inits = append(c.f.inits, req)
	c.f.mu.Unlock()
	return container.RunResult{Status: 200, Body: []byte(`{"ok":true}`)}, nil
}

func (c *echoContainer) Run(_ context.Context, req container.RunRequest) (container.RunResult, error) {
	c.mu.Lock()
	c.logs = append(c.logs, container.LogLine{Time: time.Unix(0, 0).UTC(), Stream: "stdout", Text: "ran " + req.ActivationID})
	c.mu.Unlock()
	return container.RunResult{Status: 200, Body: req.Value}, nil
}

func (c *echoContainer) Pause(context.Context) error  { return nil }
func (c *echoContainer) Resume(context.Context) error { return nil }
func (c *echoContainer) Destroy(context.Context) error {
	return nil
}

func (c *echoContainer) Logs(_ context.Context, _ int64, _ bool) ([]container.LogLine, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.logs
	c.logs = nil
	return l, false, nil
}

// The invoker drives the real pool: jobs it builds are accepted, cold then
// warm starts show in the records, and logs come back formatted.
func TestWithRealPool(t *testing.T) {
	f := &echoFactory{}
	p, err := pool.New(context.Background(), pool.Config{UserMemoryMB: 1024, PauseGrace: -1, Name: "wsk0"}, f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	h := newHarness(t, func(c *Config) { c.Pool = p; c.Now = nil })
	a := h.putAction(entity.NewFQN("guest", "", "echo"), nodeExec(), entity.Params{{Key: "k", Value: json.RawMessage(`"v"`), Init: true}}, nil)

	m1 := h.message(a, true, `{"k":"v","n":1}`)
	h.send(m1)
	first := h.nextAck()
	m2 := h.message(a, true, `{"k":"v","n":2}`)
	h.send(m2)
	second := h.nextAck()

	if first.Record == nil || second.Record == nil {
		t.Fatalf("acks without records: %+v %+v", first, second)
	}
	if string(first.Record.Response.Result) != `{"n":1}` || string(second.Record.Response.Result) != `{"n":2}` {
		t.Fatalf("results %s %s", first.Record.Response.Result, second.Record.Response.Result)
	}
	if _, ok := annotations(t, first.Record)["initTime"]; !ok {
		t.Fatalf("first run not cold: %v", keys(first.Record))
	}
	if _, ok := annotations(t, second.Record)["initTime"]; ok {
		t.Fatalf("second run not warm: %v", keys(second.Record))
	}
	if len(second.Record.Logs) != 1 || second.Record.Logs[0] != fmt.Sprintf("%-30s stdout: ran %s", "1970-01-01T00:00:00Z", m2.ActivationID) {
		t.Fatalf("logs %q", second.Record.Logs)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.specs) != 1 || f.specs[0].Kind != "nodejs:20" || f.specs[0].MemoryMB != 256 || f.specs[0].Image != "openwhisk/action-nodejs-v20:nightly" {
		t.Fatalf("specs %+v", f.specs)
	}
	if len(f.inits) != 1 || f.inits[0].Env["k"] != "v" || f.inits[0].Env["__OW_ACTION_NAME"] != "/guest/echo" {
		t.Fatalf("inits %+v", f.inits)
	}
	if first.Kind != messaging.AckCombined {
		t.Fatalf("ack kind %v", first.Kind)
	}
}
