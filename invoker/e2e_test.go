package invoker

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/controller"
	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/entity/boltstore"
	"github.com/gowhisk/gowhisk/invoker/pool"
	"github.com/gowhisk/gowhisk/loadbalancer"
	"github.com/gowhisk/gowhisk/messaging"
	"github.com/gowhisk/gowhisk/messaging/lean"
	"github.com/gowhisk/gowhisk/runtimes"
)

// stack is the standalone execution path with a fake pool: controller →
// lean balancer → lean bus → invoker → fake runner, over one boltstore.
type stack struct {
	t      *testing.T
	url    string
	runner *fakeRunner
}

func newStack(t *testing.T) *stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	db, err := boltstore.Open(ctx, t.TempDir(), boltstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Subjects().PutSubject(ctx, entity.Subject{Subject: entity.GuestSubject,
		Namespaces: []entity.NamespaceKey{{Name: "guest", UUID: entity.GuestUUID, Key: entity.GuestKey}}}); err != nil {
		t.Fatal(err)
	}
	m, err := runtimes.LoadManifest()
	if err != nil {
		t.Fatal(err)
	}
	bus := lean.New(lean.Config{})
	lb, err := loadbalancer.NewLean(loadbalancer.LeanConfig{Producer: bus.Producer(),
		Acks: bus.Consumer(messaging.CompletedTopic("0"), messaging.CompletedTopic("0"))})
	if err != nil {
		t.Fatal(err)
	}
	runner := newFakeRunner(time.Now())
	inv, err := New(Config{Consumer: bus.Consumer(messaging.InvokerTopic(0), messaging.InvokerTopic(0)), Producer: bus.Producer(),
		Entities: db.Entities(), Activations: db.Activations(), Pool: runner, Manifest: m})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := controller.New(controller.Config{Entities: db.Entities(), Activations: db.Activations(), Subjects: db.Subjects(),
		Manifest: m, Activator: lb})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	done := make(chan struct{}, 2)
	go func() { _ = lb.Run(ctx); done <- struct{}{} }()
	go func() { _ = inv.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() {
		hs.Close()
		_ = srv.Close(context.Background())
		cancel()
		<-done
		<-done
		_ = bus.Close()
		_ = db.Close()
	})
	return &stack{t: t, url: hs.URL, runner: runner}
}

func (s *stack) do(method, path, body string) (int, http.Header, map[string]any) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.SetBasicAuth(entity.GuestUUID, entity.GuestKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil && len(b) > 0 {
		s.t.Fatalf("%s %s: body %s: %v", method, path, b, err)
	}
	return res.StatusCode, res.Header, out
}

func TestEndToEndBlockingAndNonBlocking(t *testing.T) {
	s := newStack(t)
	status, _, _ := s.do("PUT", "/api/v1/namespaces/_/actions/hello", `{"exec":{"kind":"nodejs:20","code":"function main(a){return a}"},"parameters":[{"key":"greeting","value":"hi"}]}`)
	if status != http.StatusOK {
		t.Fatalf("PUT action: %d", status)
	}

	// Blocking: 200 with the record, resolved by the ack.
	status, hdr, body := s.do("POST", "/api/v1/namespaces/_/actions/hello?blocking=true", `{"name":"John"}`)
	if status != http.StatusOK {
		t.Fatalf("blocking invoke: %d %v", status, body)
	}
	resp, _ := body["response"].(map[string]any)
	result, _ := resp["result"].(map[string]any)
	if body["activationId"] != hdr.Get("x-openwhisk-activation-id") || resp["status"] != "success" || result["name"] != "John" || result["greeting"] != "hi" {
		t.Fatalf("blocking record %v", body)
	}
	if body["namespace"] != "guest" || body["name"] != "hello" {
		t.Fatalf("blocking record %v", body)
	}
	anns, _ := body["annotations"].([]any)
	found := map[string]bool{}
	for _, a := range anns {
		if m, ok := a.(map[string]any); ok {
			found[m["key"].(string)] = true
		}
	}
	for _, k := range []string{"path", "kind", "limits", "waitTime", "initTime", "timeout"} {
		if !found[k] {
			t.Errorf("record lacks annotation %s: %v", k, anns)
		}
	}

	// result=true: only the result.
	status, _, body = s.do("POST", "/api/v1/namespaces/_/actions/hello?blocking=true&result=true", `{"name":"Jane"}`)
	if status != http.StatusOK || body["name"] != "Jane" {
		t.Fatalf("result=true: %d %v", status, body)
	}

	// Non-blocking: 202 with the id; the record shows up in the store.
	status, _, body = s.do("POST", "/api/v1/namespaces/_/actions/hello", `{"name":"Async"}`)
	id, _ := body["activationId"].(string)
	if status != http.StatusAccepted || !entity.ValidActivationID(id) {
		t.Fatalf("non-blocking invoke: %d %v", status, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, _, body = s.do("GET", "/api/v1/namespaces/_/activations/"+id, "")
		if status == http.StatusOK {
			break
		}
		if status != http.StatusNotFound || time.Now().After(deadline) {
			t.Fatalf("GET activation: %d %v", status, body)
		}
		time.Sleep(5 * time.Millisecond)
	}
	resp, _ = body["response"].(map[string]any)
	result, _ = resp["result"].(map[string]any)
	if body["activationId"] != id || result["name"] != "Async" {
		t.Fatalf("stored record %v", body)
	}
}

func TestEndToEndApplicationErrorIs502(t *testing.T) {
	s := newStack(t)
	s.runner.respond = func(pool.Job) (entity.Response, bool) {
		return entity.ErrorResponse(entity.StatusApplicationError, "boom"), false
	}
	if status, _, _ := s.do("PUT", "/api/v1/namespaces/_/actions/fail", `{"exec":{"kind":"python:3","code":"def main(a): return {'error':'boom'}"}}`); status != http.StatusOK {
		t.Fatalf("PUT: %d", status)
	}
	status, _, body := s.do("POST", "/api/v1/namespaces/_/actions/fail?blocking=true", `{}`)
	resp, _ := body["response"].(map[string]any)
	if status != http.StatusBadGateway || resp["status"] != "application error" {
		t.Fatalf("invoke: %d %v", status, body)
	}
}
