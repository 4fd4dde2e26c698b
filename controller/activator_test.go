package controller

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/entity"
)

// fakeActivator is a hand-written Activator. What it does depends on the
// action's name (its prefix before "-"):
//
//	ok, echo   success, result = the arguments (object) or them wrapped
//	array      success, result = [1,2,3] (or the array arguments)
//	apperr     application error {"error":"app failed"}
//	deverr     developer error {"error":"dev failed"}
//	whiskerr   whisk error {"error":"whisk failed"}
//	hang       accepted, never completes
//	closed     accepted; stores the record, then closes the channel empty
//	unavail    entity.ErrUnavailable
//	throttled  an entity.ErrThrottled error
//
// It records every request it accepted or refused.
type fakeActivator struct {
	store entity.Activations

	mu   sync.Mutex
	reqs []ActivationRequest
}

func (f *fakeActivator) requests() []ActivationRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ActivationRequest(nil), f.reqs...)
}

// last returns the last request, failing the test if there is none.
func (f *fakeActivator) last(t *testing.T) ActivationRequest {
	t.Helper()
	r := f.requests()
	if len(r) == 0 {
		t.Fatal("activator got no request")
	}
	return r[len(r)-1]
}

func (f *fakeActivator) Activate(ctx context.Context, req ActivationRequest) (<-chan *entity.Activation, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	behaviour, _, _ := strings.Cut(req.Action.Name, "-")
	switch behaviour {
	case "unavail":
		return nil, entity.ErrUnavailable
	case "throttled":
		return nil, entity.Errorf(entity.ErrThrottled, "Too many concurrent requests in flight (count: 30, allowed: 30).")
	}
	rec := fakeRecord(req, behaviour)
	ch := make(chan *entity.Activation, 1)
	switch behaviour {
	case "hang":
		return ch, nil
	case "closed":
		if err := f.store.Put(ctx, rec); err != nil {
			return nil, err
		}
		close(ch)
		return ch, nil
	}
	if req.Blocking {
		ch <- rec
	}
	return ch, nil
}

// fakeRecord builds the record an invoker would write for req.
func fakeRecord(req ActivationRequest, behaviour string) *entity.Activation {
	now := time.Now().UnixMilli()
	code, result := entity.StatusSuccess, json.RawMessage(req.Args)
	switch behaviour {
	case "array":
		if len(req.Args) == 0 || req.Args[0] != '[' {
			result = json.RawMessage(`[1,2,3]`)
		}
	case "apperr":
		code, result = entity.StatusApplicationError, json.RawMessage(`{"error":"app failed"}`)
	case "deverr":
		code, result = entity.StatusDeveloperError, json.RawMessage(`{"error":"dev failed"}`)
	case "whiskerr":
		code, result = entity.StatusWhiskError, json.RawMessage(`{"error":"whisk failed"}`)
	}
	path, _ := json.Marshal(req.Action.FullName().DocID())
	kind, _ := json.Marshal(req.Action.Exec.Kind)
	ann := entity.Params{{Key: entity.AnnotationPath, Value: path}, {Key: entity.AnnotationKind, Value: kind}}
	if req.Binding != "" {
		b, _ := json.Marshal(string(req.Binding))
		ann = append(ann, entity.Param{Key: entity.AnnotationBinding, Value: b})
	}
	return &entity.Activation{
		Namespace: req.Identity.Namespace.Name, Name: req.Action.Name, Subject: req.Identity.Subject,
		ActivationID: req.ActivationID, Start: now, End: now + 3, Cause: req.Cause,
		Response: entity.Response{StatusCode: code, Result: result},
		Logs:     []string{"2026-01-01T00:00:00.000Z stdout: hello"},
		Version:  req.Action.Version, Annotations: ann,
	}
}

// withFake installs a fake activator over the test server's activation
// store and returns it.
func withFake(f *fakeActivator) func(*Config) {
	return func(c *Config) {
		f.store = c.Activations
		c.Activator = f
	}
}
