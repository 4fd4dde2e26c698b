package messaging

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/gowhisk/gowhisk/entity"
)

const (
	testAID  = "c7bb1339cb4f40e3a6ccead6c99f804e"
	testAID2 = "0123456789abcdef0123456789abcdef"
)

func testInvoker() InvokerInstanceID {
	return InvokerInstanceID{Instance: 0, UserMemory: 2048 * MB}
}

func testIdentity() entity.Identity {
	return entity.Identity{
		Subject:   "guest",
		Namespace: entity.NamespaceRef{Name: "guest", UUID: entity.GuestUUID},
		AuthKey:   entity.AuthKey{APIKey: entity.GuestAuthToken},
		Rights:    entity.AllRights(),
	}
}

func TestTransactionIDJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want TransactionID
		out  string // re-encoded
	}{
		{"pair", `["a1b2c3",1700000000123]`, TransactionID{ID: "a1b2c3", Start: 1700000000123}, `["a1b2c3",1700000000123]`},
		{"extra logging", `["x",5,true]`, TransactionID{ID: "x", Start: 5, ExtraLogging: true}, `["x",5,true]`},
		{"extra logging false", `["x",5,false]`, TransactionID{ID: "x", Start: 5}, `["x",5]`},
		{"parent dropped", `["x",5,false,["p",1]]`, TransactionID{ID: "x", Start: 5}, `["x",5]`},
		{"fractional start", `["x",5.9]`, TransactionID{ID: "x", Start: 5}, `["x",5]`},
		{"exponent start", `["x",1e3]`, TransactionID{ID: "x", Start: 1000}, `["x",1000]`},
		{"not an array", `"x"`, TransactionID{ID: UnknownTransactionID}, `["sid_unknown",0]`},
		{"too short", `["x"]`, TransactionID{ID: UnknownTransactionID}, `["sid_unknown",0]`},
		{"id not a string", `[1,2]`, TransactionID{ID: UnknownTransactionID}, `["sid_unknown",0]`},
		{"start not a number", `["x","2"]`, TransactionID{ID: UnknownTransactionID}, `["sid_unknown",0]`},
		{"huge start", `["x",1e300]`, TransactionID{ID: UnknownTransactionID}, `["sid_unknown",0]`},
		{"escaped id", `["a\"<b>",1]`, TransactionID{ID: `a"<b>`, Start: 1}, `["a\"\u003cb\u003e",1]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got TransactionID
			if err := json.Unmarshal([]byte(tt.in), &got); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			b, _ := json.Marshal(got)
			if string(b) != tt.out {
				t.Fatalf("Marshal = %s, want %s", b, tt.out)
			}
		})
	}
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
		text string
		ok   bool
	}{
		{"2048 MB", 2048 * MB, "2048 MB", true},
		{"2000 MB", 2000 * MB, "2000 MB", true},
		{"256m", 256 * MB, "256 MB", true},
		{"1 gb", GB, "1024 MB", true},
		{"10 KB", 10 * KB, "10 KB", true},
		{"7 B", 7, "7 B", true},
		{"0 MB", 0, "0 B", true},
		{"MB", 0, "", false},
		{"12 TB", 0, "", false},
		{"-1 MB", 0, "", false},
		{"999999999999999 GB", 0, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseByteSize(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if !tt.ok {
				return
			}
			if got != tt.want || got.String() != tt.text {
				t.Fatalf("got %d (%s), want %d (%s)", got, got, tt.want, tt.text)
			}
		})
	}
}

func TestInvokerInstanceIDJSON(t *testing.T) {
	id := InvokerInstanceID{Instance: 3, UserMemory: 2000 * MB}
	b, _ := json.Marshal(id)
	const want = `{"instance":3,"userMemory":"2000 MB","instanceType":"invoker","tags":[],"dedicatedNamespaces":[]}`
	if string(b) != want {
		t.Fatalf("Marshal = %s\nwant       %s", b, want)
	}
	full := InvokerInstanceID{Instance: 1, UniqueName: "u", DisplayedName: "d", UserMemory: GB, BusyMemory: 128 * MB, Tags: []string{"t"}, DedicatedNamespaces: []string{"ns"}}
	b, _ = json.Marshal(full)
	const wantFull = `{"instance":1,"userMemory":"1024 MB","instanceType":"invoker","tags":["t"],"dedicatedNamespaces":["ns"],"uniqueName":"u","displayedName":"d","busyMemory":"128 MB"}`
	if string(b) != wantFull {
		t.Fatalf("Marshal = %s\nwant       %s", b, wantFull)
	}
	var back InvokerInstanceID
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, full) {
		t.Fatalf("round trip = %+v, %v", back, err)
	}
	for name, in := range map[string]string{
		"no instance":      `{"userMemory":"1 GB"}`,
		"negative":         `{"instance":-1,"userMemory":"1 GB"}`,
		"no memory":        `{"instance":0}`,
		"bad memory":       `{"instance":0,"userMemory":"lots"}`,
		"wrong type":       `{"instance":0,"userMemory":"1 GB","instanceType":"controller"}`,
		"not an object":    `[]`,
		"memory as number": `{"instance":0,"userMemory":1024}`,
	} {
		if err := json.Unmarshal([]byte(in), &back); err == nil {
			t.Errorf("%s: %s decoded without error", name, in)
		}
	}
}

func TestControllerInstanceIDJSON(t *testing.T) {
	b, _ := json.Marshal(ControllerInstanceID{AsString: "0"})
	if string(b) != `{"asString":"0","instanceType":"controller"}` {
		t.Fatalf("Marshal = %s", b)
	}
	var c ControllerInstanceID
	if err := json.Unmarshal([]byte(`{"asString":"ctl-1.a_b"}`), &c); err != nil || c.AsString != "ctl-1.a_b" {
		t.Fatalf("Unmarshal = %+v, %v", c, err)
	}
	for _, bad := range []string{`{"asString":""}`, `{"asString":"a/b"}`, `{}`, `{"asString":"0","instanceType":"invoker"}`, `{"asString":"` + strings.Repeat("a", 129) + `"}`} {
		if err := json.Unmarshal([]byte(bad), &c); err == nil {
			t.Errorf("%s decoded without error", bad)
		}
	}
}

func TestActivationMessageGolden(t *testing.T) {
	m := ActivationMessage{
		TransID:             TransactionID{ID: "tid1", Start: 1700000000123},
		Action:              ActionRef{Path: "guest/pkg", Name: "hello", Version: entity.SemVer{Patch: 2}, Binding: "guest/mybinding"},
		Revision:            "3-abc",
		User:                testIdentity(),
		ActivationID:        testAID,
		RootControllerIndex: ControllerInstanceID{AsString: "0"},
		Blocking:            true,
		Content:             json.RawMessage(`{"name":"John"}`),
		InitArgs:            []string{"secret"},
		LockedArgs:          map[string]string{"b": "aes-256", "a": "aes-128"},
		Cause:               testAID2,
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"transid":["tid1",1700000000123],"action":{"path":"guest/pkg","name":"hello","version":"0.0.2","binding":"guest/mybinding"},` +
		`"revision":"3-abc","user":{"subject":"guest","namespace":{"name":"guest","uuid":"` + entity.GuestUUID + `"},"authkey":{"api_key":"` + entity.GuestAuthToken + `"},` +
		`"rights":["READ","PUT","DELETE","ACTIVATE"],"limits":{}},"activationId":"` + testAID + `","rootControllerIndex":{"asString":"0","instanceType":"controller"},` +
		`"blocking":true,"content":{"name":"John"},"initArgs":["secret"],"lockedArgs":{"a":"aes-128","b":"aes-256"},"cause":"` + testAID2 + `"}`
	if string(b) != want {
		t.Fatalf("Marshal =\n%s\nwant\n%s", b, want)
	}
	// The identity part equals what encoding/json writes for entity.Identity.
	idJSON, _ := json.Marshal(m.User)
	if !strings.Contains(string(b), string(idJSON)) {
		t.Fatalf("identity %s not embedded verbatim", idJSON)
	}
	back, err := DecodeActivationMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*back, m) {
		t.Fatalf("round trip:\n%+v\nwant\n%+v", *back, m)
	}
}

func TestActivationMessageMinimal(t *testing.T) {
	m := ActivationMessage{
		TransID: TransactionID{ID: "t", Start: 1}, Action: ActionRef{Path: "guest", Name: "a"},
		User: testIdentity(), ActivationID: testAID, RootControllerIndex: ControllerInstanceID{AsString: "0"},
	}
	m.User.Limits.StoreActivations = new(bool)
	b, _ := json.Marshal(m)
	for _, frag := range []string{`"action":{"path":"guest","name":"a"}`, `"revision":null`, `"limits":{"storeActivations":false}`, `"blocking":false`, `"initArgs":[]`, `"lockedArgs":{}`} {
		if !strings.Contains(string(b), frag) {
			t.Errorf("%s lacks %s", b, frag)
		}
	}
	for _, absent := range []string{`"content"`, `"cause"`, `"traceContext"`, `"version"`, `"binding"`} {
		if strings.Contains(string(b), absent) {
			t.Errorf("%s has %s", b, absent)
		}
	}
	back, err := DecodeActivationMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Revision != "" || back.Content != nil || back.User.Limits.StoreActivations == nil || *back.User.Limits.StoreActivations {
		t.Fatalf("decoded %+v", back)
	}
}

// An ActivationMessage as OpenWhisk's controller writes it (spray's field
// order, whitespace, no initArgs/lockedArgs from older versions).
func TestDecodeActivationMessageFromOpenWhisk(t *testing.T) {
	in := `{"action":{"name":"hello","path":"guest","version":"0.0.1"},"activationId":"` + testAID + `",
	  "blocking":false,"content":{ "name" : "John" },"revision":"1-4b45b2b0c8e6a2b5f4c4d4",
	  "rootControllerIndex":{"asString":"0","instanceType":"controller"},"transid":["sid_x",1700000000123,true],
	  "user":{"authkey":{"api_key":"u:k"},"limits":{"concurrentInvocations":5},"namespace":{"name":"guest","uuid":"u"},"rights":["READ"],"subject":"guest"}}`
	m, err := DecodeActivationMessage([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if m.Action.FQN().DocID() != "guest/hello" || m.Action.Version != (entity.SemVer{Patch: 1}) || string(m.Content) != `{"name":"John"}` ||
		!m.TransID.ExtraLogging || m.User.Limits.ConcurrentInvocations == nil || *m.User.Limits.ConcurrentInvocations != 5 || m.User.AuthKey.APIKey != "u:k" {
		t.Fatalf("decoded %+v", m)
	}
}

func TestDecodeActivationMessageErrors(t *testing.T) {
	ok := `{"transid":["t",1],"action":{"path":"guest","name":"a"},"revision":null,"user":{"subject":"s","namespace":{"name":"guest","uuid":"u"},"authkey":{"api_key":"u:k"},"rights":[],"limits":{}},"activationId":"` + testAID + `","rootControllerIndex":{"asString":"0"},"blocking":true`
	if _, err := DecodeActivationMessage([]byte(ok + `}`)); err != nil {
		t.Fatalf("base message: %v", err)
	}
	tests := map[string]string{
		"not json":           `{`,
		"not an object":      `[1]`,
		"no action":          strings.Replace(ok, `"action":{"path":"guest","name":"a"},`, ``, 1) + `}`,
		"bad action name":    strings.Replace(ok, `"name":"a"`, `"name":"a/b"`, 1) + `}`,
		"bad binding":        strings.Replace(ok, `"name":"a"}`, `"name":"a","binding":"a/b/c"}`, 1) + `}`,
		"bad version":        strings.Replace(ok, `"name":"a"}`, `"name":"a","version":"x"}`, 1) + `}`,
		"bad activation id":  strings.Replace(ok, testAID, "XYZ", 1) + `}`,
		"no controller":      strings.Replace(ok, `"rootControllerIndex":{"asString":"0"},`, ``, 1) + `}`,
		"bad controller":     strings.Replace(ok, `{"asString":"0"}`, `{"asString":"../x"}`, 1) + `}`,
		"no blocking":        strings.Replace(ok, `,"blocking":true`, ``, 1) + `}`,
		"scalar content":     ok + `,"content":5}`,
		"string content":     ok + `,"content":"x"}`,
		"bad cause":          ok + `,"cause":"nope"}`,
		"user not an object": strings.Replace(ok, `"user":{`, `"user":5,"x":{`, 1) + `}`,
		"initArgs not array": ok + `,"initArgs":{}}`,
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if m, err := DecodeActivationMessage([]byte(in)); err == nil {
				t.Fatalf("decoded %+v", m)
			}
		})
	}
}

func testRecord() *entity.Activation {
	d := int64(2)
	return &entity.Activation{
		Namespace: "guest", Name: "hello", Subject: "guest", ActivationID: testAID,
		Start: 1700000000200, End: 1700000000202, Duration: &d,
		Response: entity.Response{StatusCode: 0, Result: json.RawMessage(`{"payload":"Hello John"}`)},
		Logs:     []string{}, Version: entity.SemVer{Patch: 1},
		Annotations: entity.Params{{Key: "path", Value: json.RawMessage(`"guest/hello"`)}},
	}
}

func TestAckGolden(t *testing.T) {
	tid := TransactionID{ID: "tid1", Start: 1700000000123}
	recJSON, _ := json.Marshal(testRecord())
	inst := `{"instance":0,"userMemory":"2048 MB","instanceType":"invoker","tags":[],"dedicatedNamespaces":[]}`
	tests := []struct {
		name string
		msg  interface{ MarshalJSON() ([]byte, error) }
		want string
		kind AckKind
		rec  bool
	}{
		{"completion", CompletionMessage{TransID: tid, ActivationID: testAID, Invoker: testInvoker()},
			`{"transid":["tid1",1700000000123],"activationId":"` + testAID + `","isSystemError":false,"instance":` + inst + `}`, AckCompletion, false},
		{"result", ResultMessage{TransID: tid, Response: ActivationResult{ActivationID: testAID, Record: testRecord()}},
			`{"transid":["tid1",1700000000123],"response":` + string(recJSON) + `}`, AckResult, true},
		{"result shrunk", ResultMessage{TransID: tid, Response: ActivationResult{ActivationID: testAID}},
			`{"transid":["tid1",1700000000123],"response":"` + testAID + `"}`, AckResult, false},
		{"combined", CombinedCompletionAndResultMessage{TransID: tid, Response: ActivationResult{ActivationID: testAID, Record: testRecord()}, IsSystemError: true, Invoker: testInvoker()},
			`{"transid":["tid1",1700000000123],"response":` + string(recJSON) + `,"isSystemError":true,"instance":` + inst + `}`, AckCombined, true},
		{"combined shrunk", CombinedCompletionAndResultMessage{TransID: tid, Response: ActivationResult{ActivationID: testAID}, Invoker: testInvoker()},
			`{"transid":["tid1",1700000000123],"response":"` + testAID + `","isSystemError":false,"instance":` + inst + `}`, AckCombined, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.msg.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Fatalf("Marshal =\n%s\nwant\n%s", b, tt.want)
			}
			a, err := DecodeAck(b)
			if err != nil {
				t.Fatal(err)
			}
			if a.Kind != tt.kind || a.ActivationID != testAID || a.TransID != tid || (a.Record != nil) != tt.rec {
				t.Fatalf("decoded %+v", a)
			}
			if tt.rec && !reflect.DeepEqual(a.Record, testRecord()) {
				t.Fatalf("record %+v", a.Record)
			}
			again, err := a.AppendJSON(nil)
			if err != nil || string(again) != tt.want {
				t.Fatalf("re-encoded %s, %v", again, err)
			}
		})
	}
}

func TestAckClassification(t *testing.T) {
	tests := []struct {
		kind          AckKind
		frees, result bool
	}{
		{AckCompletion, true, false},
		{AckResult, false, true},
		{AckCombined, true, true},
		{0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			a := Ack{Kind: tt.kind}
			if a.FreesSlot() != tt.frees || a.CarriesResult() != tt.result {
				t.Fatalf("FreesSlot=%v CarriesResult=%v", a.FreesSlot(), a.CarriesResult())
			}
		})
	}
}

func TestDecodeAckErrors(t *testing.T) {
	inst := `{"instance":0,"userMemory":"2048 MB"}`
	tests := map[string]string{
		"not json":                 `{`,
		"array":                    `[]`,
		"neither":                  `{"transid":["t",1],"activationId":"` + testAID + `"}`,
		"completion without id":    `{"transid":["t",1],"instance":` + inst + `}`,
		"completion bad id":        `{"transid":["t",1],"activationId":"x","instance":` + inst + `}`,
		"null instance":            `{"transid":["t",1],"activationId":"` + testAID + `","instance":null}`,
		"bad instance":             `{"transid":["t",1],"activationId":"` + testAID + `","instance":{"instance":0}}`,
		"response number":          `{"transid":["t",1],"response":5}`,
		"response null":            `{"transid":["t",1],"response":null}`,
		"response bad id":          `{"transid":["t",1],"response":"abc"}`,
		"record without id":        `{"transid":["t",1],"response":{"namespace":"guest"}}`,
		"record with bad response": `{"transid":["t",1],"response":{"activationId":"` + testAID + `","response":5}}`,
		"record without version":   `{"transid":["t",1],"response":{"activationId":"` + testAID + `"}}`,
		"isSystemError string":     `{"transid":["t",1],"activationId":"` + testAID + `","isSystemError":"x","instance":` + inst + `}`,
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if a, err := DecodeAck([]byte(in)); err == nil {
				t.Fatalf("decoded %+v", a)
			}
		})
	}
	// A completion without isSystemError (optional in OpenWhisk) is fine.
	a, err := DecodeAck([]byte(`{"transid":["t",1],"activationId":"` + testAID + `","instance":` + inst + `}`))
	if err != nil || a.Kind != AckCompletion || a.IsSystemError {
		t.Fatalf("got %+v, %v", a, err)
	}
}

func TestPingAndCacheInvalidationJSON(t *testing.T) {
	p := PingMessage{Invoker: testInvoker(), IsEnabled: true}
	b, _ := json.Marshal(p)
	const wantPing = `{"name":{"instance":0,"userMemory":"2048 MB","instanceType":"invoker","tags":[],"dedicatedNamespaces":[]},"isEnabled":true}`
	if string(b) != wantPing {
		t.Fatalf("ping = %s", b)
	}
	var pb PingMessage
	if err := json.Unmarshal([]byte(`{"name":{"instance":2,"userMemory":"256 MB"}}`), &pb); err != nil || !pb.IsEnabled || pb.Invoker.Instance != 2 {
		t.Fatalf("ping decode = %+v, %v", pb, err)
	}
	if err := json.Unmarshal([]byte(`{"isEnabled":false}`), &pb); err == nil {
		t.Fatal("ping without name decoded")
	}
	c := CacheInvalidationMessage{Key: CacheKey{MainID: "guest/hello", SecondaryID: "2-x"}, InstanceID: "controller0"}
	b, _ = json.Marshal(c)
	if string(b) != `{"key":{"mainId":"guest/hello","secondaryId":"2-x"},"instanceId":"controller0"}` {
		t.Fatalf("cache invalidation = %s", b)
	}
	var cb CacheInvalidationMessage
	if err := json.Unmarshal(b, &cb); err != nil || cb != c {
		t.Fatalf("decode = %+v, %v", cb, err)
	}
	if err := json.Unmarshal([]byte(`{"key":{},"instanceId":"c"}`), &cb); err == nil {
		t.Fatal("cache invalidation without mainId decoded")
	}
}

func BenchmarkActivationMessageEncode(b *testing.B) {
	m := ActivationMessage{
		TransID: TransactionID{ID: "tid1", Start: 1700000000123}, Action: ActionRef{Path: "guest", Name: "hello", Version: entity.SemVer{Patch: 1}},
		Revision: "3-abc", User: testIdentity(), ActivationID: testAID, RootControllerIndex: ControllerInstanceID{AsString: "0"},
		Blocking: true, Content: json.RawMessage(`{"name":"John"}`),
	}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for range b.N {
		buf, _ = m.AppendJSON(buf[:0])
	}
}

func BenchmarkCompletionEncode(b *testing.B) {
	m := CompletionMessage{TransID: TransactionID{ID: "tid1", Start: 1}, ActivationID: testAID, Invoker: testInvoker()}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for range b.N {
		buf = m.AppendJSON(buf[:0])
	}
}

func BenchmarkDecodeAckCombined(b *testing.B) {
	enc, _ := CombinedCompletionAndResultMessage{TransID: TransactionID{ID: "tid1", Start: 1},
		Response: ActivationResult{ActivationID: testAID, Record: testRecord()}, Invoker: testInvoker()}.MarshalJSON()
	b.ReportAllocs()
	for range b.N {
		if _, err := DecodeAck(enc); err != nil {
			b.Fatal(err)
		}
	}
}
