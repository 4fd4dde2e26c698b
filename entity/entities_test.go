package entity

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestNewTriggerFeedAnnotation(t *testing.T) {
	tests := []struct {
		name string
		body string
		ok   bool
	}{
		{"no feed", `{}`, true},
		{"fully qualified feed", `{"annotations":[{"key":"feed","value":"/whisk.system/alarms/alarm"}]}`, true},
		{"relative feed", `{"annotations":[{"key":"feed","value":"alarms/alarm"}]}`, true},
		{"feed not a string", `{"annotations":[{"key":"feed","value":true}]}`, false},
		{"empty feed", `{"annotations":[{"key":"feed","value":""}]}`, false},
		{"illegal feed name", `{"annotations":[{"key":"feed","value":"/ns/*bad"}]}`, false},
		{"too many segments", `{"annotations":[{"key":"feed","value":"/a/b/c/d"}]}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var put TriggerPut
			if err := json.Unmarshal([]byte(tc.body), &put); err != nil {
				t.Fatal(err)
			}
			tr, err := NewTrigger(NewFQN("guest", "", "t"), put, 5)
			if tc.ok {
				if err != nil {
					t.Fatalf("NewTrigger = %v", err)
				}
				if tr.Version != DefaultVersion || tr.Updated != 5 {
					t.Errorf("trigger = %+v", tr)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || err.Error() != "Feed name is not valid" {
				t.Errorf("NewTrigger = %v; want ErrInvalid 'Feed name is not valid'", err)
			}
			if _, err := (&Trigger{}).Update(put, 6); err == nil {
				t.Error("Update accepted an invalid feed")
			}
		})
	}
}

func TestTriggerUpdate(t *testing.T) {
	var tr Trigger
	if err := json.Unmarshal(readGolden(t, "trigger.json"), &tr); err != nil {
		t.Fatal(err)
	}
	tr.SetRevision("2-x")
	var put TriggerPut
	if err := json.Unmarshal([]byte(`{"annotations":[{"key":"a","value":1}],"parameters":[{"key":"p","value":2}],"publish":true}`), &put); err != nil {
		t.Fatal(err)
	}
	u, err := tr.Update(put, 9)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(u)
	assertSameJSON(t, b, []byte(`{"namespace":"guest","name":"events","version":"0.0.2","publish":true,
	  "parameters":[{"key":"p","value":2}],"limits":{},"annotations":[{"key":"a","value":1}],
	  "rules":{"guest/t2a":{"action":{"name":"hello","path":"guest"},"status":"active"},
	           "guest/t2b":{"action":{"name":"b","path":"guest/pkg"},"status":"inactive"}},"updated":9}`))
	u.Rules["guest/new"] = ReducedRule{Status: StatusActive}
	if _, ok := tr.Rules["guest/new"]; ok {
		t.Error("Update shares the rules map with its receiver")
	}
	if u.Revision() != "2-x" {
		t.Errorf("revision = %q", u.Revision())
	}
}

func TestPackageBinding(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"package", `{"parameters":[{"key":"a","value":1}],"publish":true}`,
			`{"namespace":"guest","name":"p","version":"0.0.1","publish":true,"binding":{},
			  "parameters":[{"key":"a","value":1}],"annotations":[],"updated":3}`},
		{"binding gets binding annotation", `{"binding":{"namespace":"whisk.system","name":"alarms"}}`,
			`{"namespace":"guest","name":"p","version":"0.0.1","publish":false,"binding":{"namespace":"whisk.system","name":"alarms"},
			  "parameters":[],"annotations":[{"key":"binding","value":{"namespace":"whisk.system","name":"alarms"}}],"updated":3}`},
		{"binding annotation replaces a client one", `{"binding":{"namespace":"ns","name":"pk"},"annotations":[{"key":"binding","value":"x"},{"key":"d","value":1}]}`,
			`{"namespace":"guest","name":"p","version":"0.0.1","publish":false,"binding":{"namespace":"ns","name":"pk"},
			  "parameters":[],"annotations":[{"key":"binding","value":{"namespace":"ns","name":"pk"}},{"key":"d","value":1}],"updated":3}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var put PackagePut
			if err := json.Unmarshal([]byte(tc.body), &put); err != nil {
				t.Fatal(err)
			}
			p := NewPackage(NewFQN("guest", "", "p"), put, 3)
			b, _ := json.Marshal(p)
			assertSameJSON(t, b, []byte(tc.want))
		})
	}
}

func TestPackageUpdate(t *testing.T) {
	var p Package
	if err := json.Unmarshal(readGolden(t, "package_get.json"), &p); err != nil {
		t.Fatal(err)
	}
	var put PackagePut
	_ = json.Unmarshal([]byte(`{"annotations":[{"key":"n","value":1}]}`), &put)
	u := p.Update(put, 4)
	b, _ := json.Marshal(u)
	assertSameJSON(t, b, []byte(`{"namespace":"guest","name":"iot","version":"0.0.2","publish":false,"binding":{},
	  "parameters":[],"annotations":[{"key":"n","value":1}],"updated":4}`))
	if len(p.Actions) != 1 {
		t.Error("Update modified its receiver")
	}
}

func TestRuleResolveRefs(t *testing.T) {
	tests := []struct {
		name            string
		body            string
		trigger, action FQN
		err             bool
	}{
		{"fully qualified strings", `{"trigger":"/ns/t","action":"/ns/p/a"}`, NewFQN("ns", "", "t"), NewFQN("ns", "p", "a"), false},
		{"relative strings", `{"trigger":"t","action":"p/a"}`, NewFQN("guest", "", "t"), NewFQN("guest", "p", "a"), false},
		{"default namespace", `{"trigger":"/_/t","action":"/_/a"}`, NewFQN("guest", "", "t"), NewFQN("guest", "", "a"), false},
		{"objects", `{"trigger":{"path":"ns","name":"t"},"action":{"path":"ns/p","name":"a"}}`, NewFQN("ns", "", "t"), NewFQN("ns", "p", "a"), false},
		{"object with default namespace", `{"trigger":{"path":"_","name":"t"},"action":{"path":"_/p","name":"a"}}`, NewFQN("guest", "", "t"), NewFQN("guest", "p", "a"), false},
		{"missing refs", `{}`, FQN{}, FQN{}, false},
		{"blank and null refs", `{"trigger":"  ","action":null}`, FQN{}, FQN{}, false},
		{"status ignored", `{"trigger":"t","action":"a","status":"inactive"}`, NewFQN("guest", "", "t"), NewFQN("guest", "", "a"), false},
		{"illegal name", `{"trigger":"/ns/t*","action":"a"}`, FQN{}, FQN{}, true},
		{"too many segments", `{"trigger":"/a/b/c/d","action":"a"}`, FQN{}, FQN{}, true},
		{"number", `{"trigger":1,"action":"a"}`, FQN{}, FQN{}, true},
		{"object with bad name", `{"trigger":{"path":"ns","name":""},"action":"a"}`, FQN{}, FQN{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var put RulePut
			if err := json.Unmarshal([]byte(tc.body), &put); err != nil {
				t.Fatal(err)
			}
			tr, ac, err := put.ResolveRefs("guest")
			if tc.err {
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("ResolveRefs = %v, %v, %v; want ErrInvalid", tr, ac, err)
				}
				return
			}
			if err != nil || tr != tc.trigger || ac != tc.action {
				t.Errorf("ResolveRefs = %v, %v, %v; want %v, %v", tr, ac, err, tc.trigger, tc.action)
			}
		})
	}
}

func TestActivationEntityPath(t *testing.T) {
	tests := []struct {
		name string
		ann  string
		want string
	}{
		{"no annotations", `[]`, "hello"},
		{"path without package", `[{"key":"path","value":"guest/hello"}]`, "hello"},
		{"path with package", `[{"key":"path","value":"guest/pkg/hello"}]`, "pkg/hello"},
		{"binding wins", `[{"key":"path","value":"whisk.system/alarms/hello"},{"key":"binding","value":"guest/mybind"}]`, "mybind/hello"},
		{"path not a string", `[{"key":"path","value":{"a":1}}]`, "hello"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := Activation{Namespace: "guest", Name: "hello", ActivationID: "0123456789abcdef0123456789abcdef"}
			if err := json.Unmarshal([]byte(tc.ann), &a.Annotations); err != nil {
				t.Fatal(err)
			}
			if got := a.EntityPath(); got != tc.want {
				t.Errorf("EntityPath = %q, want %q", got, tc.want)
			}
			if a.DocID() != "guest/0123456789abcdef0123456789abcdef" {
				t.Errorf("DocID = %q", a.DocID())
			}
		})
	}
}

func TestStatusName(t *testing.T) {
	tests := []struct {
		code int
		want string
	}{
		{0, "success"}, {1, "application error"}, {2, "action developer error"}, {3, "whisk internal error"},
		{4, "whisk internal error"}, {-1, "whisk internal error"},
	}
	for _, tc := range tests {
		if got := StatusName(tc.code); got != tc.want {
			t.Errorf("StatusName(%d) = %q, want %q", tc.code, got, tc.want)
		}
	}
}

func TestBindingJSON(t *testing.T) {
	tests := []struct {
		name, in string
		want     Binding
		ok       bool
	}{
		{"empty object", `{}`, Binding{}, true},
		{"null", `null`, Binding{}, true},
		{"binding", `{"namespace":"whisk.system","name":"alarms"}`, Binding{"whisk.system", "alarms"}, true},
		{"default namespace kept", `{"namespace":"_","name":"p"}`, Binding{"_", "p"}, true},
		{"name only", `{"name":"p"}`, Binding{}, false},
		{"namespace only", `{"namespace":"n"}`, Binding{}, false},
		{"illegal name", `{"namespace":"n","name":"p/q"}`, Binding{}, false},
		{"not an object", `"n/p"`, Binding{}, false},
		{"false", `false`, Binding{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b Binding
			err := json.Unmarshal([]byte(tc.in), &b)
			if !tc.ok {
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("Unmarshal(%s) = %+v, %v; want ErrInvalid", tc.in, b, err)
				}
				return
			}
			if err != nil || b != tc.want {
				t.Errorf("Unmarshal(%s) = %+v, %v; want %+v", tc.in, b, err, tc.want)
			}
		})
	}
}
