package messaging

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

// recorder is a Producer keeping what it was sent; with values set it is
// also a ValueSender.
type recorder struct {
	bytes  [][]byte
	values []any
}

func (r *recorder) Send(_ context.Context, _ string, msg []byte) error {
	r.bytes = append(r.bytes, msg)
	return nil
}
func (r *recorder) Close() error { return nil }

type valueRecorder struct{ recorder }

func (r *valueRecorder) SendValue(_ context.Context, _ string, v any, _ int) error {
	r.values = append(r.values, v)
	return nil
}

func testActivationMessage() *ActivationMessage {
	return &ActivationMessage{
		TransID:             TransactionID{ID: "tid1", Start: 1700000000123},
		Action:              ActionRef{Path: "guest", Name: "hello"},
		Revision:            "1-abc",
		User:                testIdentity(),
		ActivationID:        testAID,
		RootControllerIndex: ControllerInstanceID{AsString: "0"},
		Blocking:            true,
		Content:             []byte(`{"name":"` + strings.Repeat("x", 300) + `"}`),
		InitArgs:            []string{},
		LockedArgs:          map[string]string{},
	}
}

// SendActivation and SendAck hand values to a ValueSender and JSON to any
// other producer; ActivationFrom and AckFrom read either form the same.
func TestSendValueOrBytes(t *testing.T) {
	ctx := context.Background()
	am := testActivationMessage()
	ack := &Ack{Kind: AckCombined, TransID: am.TransID, ActivationID: testAID, Record: testRecord(), Invoker: testInvoker()}

	var plain recorder
	if err := SendActivation(ctx, &plain, "invoker0", am); err != nil {
		t.Fatal(err)
	}
	if err := SendAck(ctx, &plain, "completed0", ack); err != nil {
		t.Fatal(err)
	}
	var direct valueRecorder
	if err := SendActivation(ctx, &direct, "invoker0", am); err != nil {
		t.Fatal(err)
	}
	if err := SendAck(ctx, &direct, "completed0", ack); err != nil {
		t.Fatal(err)
	}
	if len(plain.bytes) != 2 || len(direct.values) != 2 || len(direct.bytes) != 0 {
		t.Fatalf("plain sent %d messages, direct %d values and %d messages", len(plain.bytes), len(direct.values), len(direct.bytes))
	}

	fromBytes, err := ActivationFrom(&Message{Value: plain.bytes[0]})
	if err != nil {
		t.Fatal(err)
	}
	fromValue, err := ActivationFrom(&Message{Decoded: direct.values[0]})
	if err != nil {
		t.Fatal(err)
	}
	if fromValue != am || !reflect.DeepEqual(fromBytes, am) {
		t.Fatalf("activation from bytes %+v, from value %+v; sent %+v", fromBytes, fromValue, am)
	}

	ackBytes, err := AckFrom(&Message{Value: plain.bytes[1]})
	if err != nil {
		t.Fatal(err)
	}
	ackValue, err := AckFrom(&Message{Decoded: direct.values[1]})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ackValue, *ack) || ackValue.Record != ack.Record {
		t.Fatalf("ack from value %+v; sent %+v", ackValue, *ack)
	}
	// The wire form normalizes empty lists; it re-encodes to the same JSON.
	again, _ := ackBytes.AppendJSON(nil)
	if string(again) != string(plain.bytes[1]) || !reflect.DeepEqual(ackBytes.Record, ack.Record) {
		t.Fatalf("ack from bytes %+v re-encodes as\n%s\nsent\n%s", ackBytes, again, plain.bytes[1])
	}

	// A Decoded value of another type falls back to the bytes.
	if _, err := AckFrom(&Message{Decoded: am}); err == nil {
		t.Fatal("AckFrom of an activation message without bytes: no error")
	}
}

// The size hints bound the encoded sizes, which the lean bus counts
// against its byte limits.
func TestSizeHints(t *testing.T) {
	am := testActivationMessage()
	b, _ := am.AppendJSON(nil)
	if len(b) > am.SizeHint() {
		t.Errorf("activation message: SizeHint %d < encoded %d", am.SizeHint(), len(b))
	}
	rec := testRecord()
	rec.Logs = []string{strings.Repeat("l", 1000), "2"}
	for _, a := range []*Ack{
		{Kind: AckCombined, TransID: am.TransID, ActivationID: testAID, Record: rec, Invoker: testInvoker()},
		{Kind: AckCompletion, TransID: am.TransID, ActivationID: testAID, Invoker: testInvoker()},
		{Kind: AckResult, TransID: am.TransID, ActivationID: testAID},
	} {
		b, err := a.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > a.SizeHint() {
			t.Errorf("%s ack: SizeHint %d < encoded %d", a.Kind, a.SizeHint(), len(b))
		}
	}
}
