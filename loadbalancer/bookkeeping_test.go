package loadbalancer

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/controller"
	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/messaging"
)

func TestForcedTimeout(t *testing.T) {
	tests := []struct {
		name   string
		action time.Duration
		want   time.Duration
	}{
		{"60 s action", 60 * time.Second, 3 * time.Minute},
		{"short action uses the floor", 100 * time.Millisecond, 3 * time.Minute},
		{"5 min action", 5 * time.Minute, 11 * time.Minute},
		{"zero", 0, 3 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := forcedTimeout(tt.action, DefaultTimeoutFloor, DefaultTimeoutFactor, DefaultTimeoutAddon); got != tt.want {
				t.Fatalf("forcedTimeout(%v) = %v, want %v", tt.action, got, tt.want)
			}
		})
	}
}

func TestClassifyAck(t *testing.T) {
	tests := []struct {
		name                       string
		kind                       messaging.AckKind
		blocking, answered, record bool
		want                       ackEffect
	}{
		{"combined blocking with record", messaging.AckCombined, true, false, true, ackEffect{deliver: true, close: true, release: true}},
		{"combined blocking shrunk", messaging.AckCombined, true, false, false, ackEffect{close: true, release: true}},
		{"combined non-blocking", messaging.AckCombined, false, false, true, ackEffect{release: true}},
		{"result blocking", messaging.AckResult, true, false, true, ackEffect{deliver: true, close: true}},
		{"result blocking shrunk", messaging.AckResult, true, false, false, ackEffect{close: true}},
		{"result already answered", messaging.AckResult, true, true, true, ackEffect{}},
		{"result non-blocking", messaging.AckResult, false, false, true, ackEffect{}},
		{"completion after result", messaging.AckCompletion, true, true, false, ackEffect{release: true}},
		{"completion without result", messaging.AckCompletion, true, false, false, ackEffect{close: true, release: true}},
		{"completion non-blocking", messaging.AckCompletion, false, false, false, ackEffect{release: true}},
		{"invalid kind", 0, true, false, true, ackEffect{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classifyAck(tt.kind, tt.blocking, tt.answered, tt.record); got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func testAction(t *testing.T, timeoutMs int) *entity.Action {
	t.Helper()
	a, err := entity.NewAction(entity.NewFQN("guest", "pkg", "hello"), entity.ActionPut{
		Exec: &entity.Exec{Kind: "nodejs:20", Code: "function main(){}"},
		Parameters: &entity.Params{
			{Key: "plain", Value: json.RawMessage(`1`)},
			{Key: "secret", Value: json.RawMessage(`"s"`), Init: true},
			{Key: "locked", Value: json.RawMessage(`"x"`), Encryption: "aes-256"},
		},
		Limits: &entity.ActionLimitsPut{Timeout: &timeoutMs},
	}, 1, entity.DefaultSystemLimits())
	if err != nil {
		t.Fatal(err)
	}
	a.SetRevision("2-abc")
	return a
}

func testIdentity() entity.Identity {
	return entity.NewIdentity("guest", entity.NamespaceKey{Name: "guest", UUID: entity.GuestUUID, Key: entity.GuestKey}, entity.UserLimits{})
}

func TestActivationMessage(t *testing.T) {
	a := testAction(t, 1000)
	received := time.UnixMilli(1700000000123)
	req := controller.ActivationRequest{
		ActivationID: "0123456789abcdef0123456789abcdef", TransactionID: "tid", Identity: testIdentity(),
		Action: a, Binding: "guest/bound", Args: json.RawMessage(`{"plain":1,"secret":"s"}`), Blocking: true,
		Cause: "c7bb1339cb4f40e3a6ccead6c99f804e", Received: received,
	}
	m := activationMessage(&req, "0", time.UnixMilli(5))
	want := &messaging.ActivationMessage{
		TransID:             messaging.TransactionID{ID: "tid", Start: 1700000000123},
		Action:              messaging.ActionRef{Path: "guest/pkg", Name: "hello", Version: entity.SemVer{Patch: 1}, Binding: "guest/bound"},
		Revision:            "2-abc",
		User:                testIdentity(),
		ActivationID:        req.ActivationID,
		RootControllerIndex: messaging.ControllerInstanceID{AsString: "0"},
		Blocking:            true,
		Content:             req.Args,
		InitArgs:            []string{"secret"},
		LockedArgs:          map[string]string{"locked": "aes-256"},
		Cause:               req.Cause,
	}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", m, want)
	}
	req.Received = time.Time{}
	if m := activationMessage(&req, "0", time.UnixMilli(5)); m.TransID.Start != 5 {
		t.Fatalf("zero Received: start %d, want the fallback 5", m.TransID.Start)
	}
}

// On the lean bus the invoker gets the controller's ActivationMessage
// itself, not its JSON: it must read the same as the message decoded from
// the wire.
func TestActivationMessageSurvivesTheWire(t *testing.T) {
	req := controller.ActivationRequest{
		ActivationID: "0123456789abcdef0123456789abcdef", TransactionID: "tid", Identity: testIdentity(),
		Action: testAction(t, 1000), Binding: "guest/bound", Args: json.RawMessage(`{"plain":1,"secret":"s","a":[1,{"b":null}]}`),
		Blocking: true, Received: time.UnixMilli(1700000000123),
	}
	m := activationMessage(&req, "0", time.UnixMilli(5))
	b, err := m.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := messaging.DecodeActivationMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(decoded, m) {
		t.Fatalf("decoded\n%+v\nsent\n%+v", decoded, m)
	}
	if len(b) > m.SizeHint() {
		t.Fatalf("SizeHint %d below the encoded size %d", m.SizeHint(), len(b))
	}
}
