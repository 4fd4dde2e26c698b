package messaging

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzDecodeAck: decoding never panics, and whatever decodes re-encodes to
// a canonical form that decodes again to the same canonical form.
func FuzzDecodeAck(f *testing.F) {
	rec, _ := json.Marshal(testRecord())
	inst := `{"instance":0,"userMemory":"2048 MB","instanceType":"invoker","tags":[],"dedicatedNamespaces":[]}`
	for _, s := range []string{
		`{"transid":["t",1],"activationId":"` + testAID + `","isSystemError":false,"instance":` + inst + `}`,
		`{"transid":["t",1],"response":"` + testAID + `"}`,
		`{"transid":["t",1],"response":` + string(rec) + `}`,
		`{"transid":["t",1,true],"response":` + string(rec) + `,"isSystemError":true,"instance":` + inst + `}`,
		`{"transid":"x","response":{"activationId":"` + testAID + `","version":"1.2.3","annotations":[{"key":"k","value":"<&>"}]},"instance":{"instance":1,"userMemory":"1 KB"}}`,
		`{}`, `[]`, `null`, `{"response":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeAck(b)
		if err != nil {
			return
		}
		if !a.FreesSlot() && !a.CarriesResult() {
			t.Fatalf("decoded ack of kind %v", a.Kind)
		}
		enc, err := a.AppendJSON(nil)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", a, err)
		}
		a2, err := DecodeAck(enc)
		if err != nil {
			t.Fatalf("re-encoded ack %s does not decode: %v", enc, err)
		}
		if a2.Kind != a.Kind || a2.ActivationID != a.ActivationID || a2.TransID != a.TransID || a2.IsSystemError != a.IsSystemError {
			t.Fatalf("round trip changed the ack: %+v -> %+v", a, a2)
		}
		enc2, err := a2.AppendJSON(nil)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable:\n%s\n%s (%v)", enc, enc2, err)
		}
	})
}

// FuzzDecodeActivationMessage: decoding never panics, and whatever decodes
// re-encodes to a form that decodes to an equal encoding.
func FuzzDecodeActivationMessage(f *testing.F) {
	base := ActivationMessage{
		TransID: TransactionID{ID: "t", Start: 1}, Action: ActionRef{Path: "guest/pkg", Name: "a", Binding: "guest/b"},
		Revision: "1-x", User: testIdentity(), ActivationID: testAID, RootControllerIndex: ControllerInstanceID{AsString: "0"},
		Blocking: true, Content: json.RawMessage(`{"a":[1,2,{"b":null}]}`), InitArgs: []string{"a"}, LockedArgs: map[string]string{"a": "x"},
		Cause: testAID2, TraceContext: map[string]string{"traceparent": "00-x"},
	}
	b, _ := json.Marshal(base)
	f.Add(b)
	base.Content, base.Cause, base.TraceContext = json.RawMessage(`[1, "x"]`), "", nil
	b, _ = json.Marshal(base)
	f.Add(b)
	f.Add([]byte(`{"action":{"path":"g","name":"a"},"user":{},"activationId":"` + testAID + `","rootControllerIndex":{"asString":"0"},"blocking":false,"content":null,"transid":5}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeActivationMessage(b)
		if err != nil {
			return
		}
		enc, err := m.AppendJSON(nil)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		m2, err := DecodeActivationMessage(enc)
		if err != nil {
			t.Fatalf("re-encoded message %s does not decode: %v", enc, err)
		}
		enc2, _ := m2.AppendJSON(nil)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable:\n%s\n%s", enc, enc2)
		}
		if m2.ActivationID != m.ActivationID || m2.Action != m.Action || m2.Blocking != m.Blocking || m2.TransID != m.TransID {
			t.Fatalf("round trip changed the message: %+v -> %+v", m, m2)
		}
	})
}
