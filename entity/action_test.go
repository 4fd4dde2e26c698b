package entity

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func decodeActionPut(t *testing.T, body string) ActionPut {
	t.Helper()
	var p ActionPut
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return p
}

func TestNewAction(t *testing.T) {
	sys := DefaultSystemLimits()
	name := NewFQN("guest", "", "hello")
	tests := []struct {
		name string
		body string
		want string // the action's API JSON
	}{
		{"defaults", `{"exec":{"kind":"nodejs:20","code":"function main(){}"}}`,
			`{"namespace":"guest","name":"hello","version":"0.0.1","publish":false,
			  "exec":{"kind":"nodejs:20","code":"function main(){}","binary":false},"parameters":[],
			  "limits":{"timeout":60000,"memory":256,"logs":10,"concurrency":1},
			  "annotations":[{"key":"provide-api-key","value":false},{"key":"exec","value":"nodejs:20"}],"updated":1000}`},
		{"everything given", `{"exec":{"kind":"nodejs:20","code":"x","main":"go"},"version":"2.0.0","publish":true,
			  "parameters":[{"key":"a","value":1}],"limits":{"memory":512},
			  "annotations":[{"key":"provide-api-key","value":true},{"key":"web-export","value":true}],
			  "namespace":"ignored","name":"ignored"}`,
			`{"namespace":"guest","name":"hello","version":"2.0.0","publish":true,
			  "exec":{"kind":"nodejs:20","code":"x","binary":false,"main":"go"},"parameters":[{"key":"a","value":1}],
			  "limits":{"timeout":60000,"memory":512,"logs":10,"concurrency":1},
			  "annotations":[{"key":"provide-api-key","value":true},{"key":"web-export","value":true},{"key":"exec","value":"nodejs:20"}],"updated":1000}`},
		{"client exec annotation overwritten", `{"exec":{"kind":"nodejs:20","code":"x"},"annotations":[{"key":"exec","value":"java"}]}`,
			`{"namespace":"guest","name":"hello","version":"0.0.1","publish":false,
			  "exec":{"kind":"nodejs:20","code":"x","binary":false},"parameters":[],
			  "limits":{"timeout":60000,"memory":256,"logs":10,"concurrency":1},
			  "annotations":[{"key":"exec","value":"nodejs:20"},{"key":"provide-api-key","value":false}],"updated":1000}`},
		{"sequence gets _actions", `{"exec":{"kind":"sequence","components":["/guest/a","/guest/p/b"]}}`,
			`{"namespace":"guest","name":"hello","version":"0.0.1","publish":false,
			  "exec":{"kind":"sequence","components":["/guest/a","/guest/p/b"]},
			  "parameters":[{"key":"_actions","value":["/guest/a","/guest/p/b"]}],
			  "limits":{"timeout":60000,"memory":256,"logs":10,"concurrency":1},
			  "annotations":[{"key":"provide-api-key","value":false},{"key":"exec","value":"sequence"}],"updated":1000}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := NewAction(name, decodeActionPut(t, tc.body), 1000, sys)
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckAction(a, testManifest(t), sys); err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(a)
			assertSameJSON(t, b, []byte(tc.want))
			if a.Revision() != "" {
				t.Errorf("new action has revision %q", a.Revision())
			}
		})
	}
	if _, err := NewAction(name, ActionPut{}, 1, sys); !errors.Is(err, ErrInvalid) {
		t.Errorf("NewAction without exec = %v, want ErrInvalid", err)
	}
}

func TestCheckActionResolvesKind(t *testing.T) {
	sys := DefaultSystemLimits()
	tests := []struct {
		name, body, kind string
		comps            []string
	}{
		{"family default", `{"exec":{"kind":"nodejs:default","code":"x"}}`, "nodejs:20", nil},
		{"alias", `{"exec":{"kind":"python:3","code":"x"}}`, "python:3.11", nil},
		{"sequence components canonical", `{"exec":{"kind":"sequence","components":["guest/a","/_/p/b"]}}`, "sequence", []string{"/guest/a", "/_/p/b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := NewAction(NewFQN("guest", "", "x"), decodeActionPut(t, tc.body), 1, sys)
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckAction(a, testManifest(t), sys); err != nil {
				t.Fatal(err)
			}
			if a.Exec.Kind != tc.kind {
				t.Errorf("kind = %q, want %q", a.Exec.Kind, tc.kind)
			}
			ann, _ := a.Annotations.Get(AnnotationExec)
			if string(ann) != `"`+tc.kind+`"` {
				t.Errorf("exec annotation = %s, want %q", ann, tc.kind)
			}
			if tc.comps != nil {
				if !reflect.DeepEqual(a.Exec.Components, tc.comps) {
					t.Errorf("components = %v", a.Exec.Components)
				}
				want, _ := json.Marshal(tc.comps)
				if got, _ := a.Parameters.Get(ParamSequenceActions); string(got) != string(want) {
					t.Errorf("_actions = %s, want %s", got, want)
				}
			}
		})
	}
}

func TestCheckActionErrors(t *testing.T) {
	sys := DefaultSystemLimits()
	small := sys
	small.ExecSizeMax = 10
	small.ParameterSizeMax = 20
	tests := []struct {
		name string
		body string
		sys  SystemLimits
		kind error
		msg  string
	}{
		{"memory too high", `{"exec":{"kind":"nodejs:20","code":"x"},"limits":{"memory":1024}}`, sys, ErrInvalid, "memory 1024 MB exceeds allowed threshold of 512 MB"},
		{"timeout too high", `{"exec":{"kind":"nodejs:20","code":"x"},"limits":{"timeout":400000}}`, sys, ErrInvalid, "duration 400000 milliseconds exceeds allowed threshold of 300000 milliseconds"},
		{"concurrency too high", `{"exec":{"kind":"nodejs:20","code":"x"},"limits":{"concurrency":2}}`, sys, ErrInvalid, "concurrency 2 exceeds allowed threshold of 1"},
		{"memory too low", `{"exec":{"kind":"nodejs:20","code":"x"},"limits":{"memory":127}}`, sys, ErrInvalid, "memory 127 MB below allowed threshold of 128 MB"},
		{"unknown kind", `{"exec":{"kind":"nodejs:99","code":"x"}}`, sys, ErrInvalid,
			"The specified runtime 'nodejs:99' is not supported by this platform. Valid values are: 'blackbox', 'java:8', 'nodejs:20', 'nodejs:6', 'python:3', 'python:3.11', 'sequence'."},
		{"deprecated kind", `{"exec":{"kind":"nodejs:6","code":"x"}}`, sys, ErrInvalid,
			"The 'nodejs:6' runtime is no longer supported. You may read and delete but not update or invoke this action."},
		{"empty sequence", `{"exec":{"kind":"sequence","components":[]}}`, sys, ErrInvalid, "No component specified for the sequence."},
		{"exec too large", `{"exec":{"kind":"nodejs:20","code":"12345678901"}}`, small, ErrTooLarge, "exec larger than allowed: 11 > 10 bytes."},
		{"parameters too large", `{"exec":{"kind":"nodejs:20","code":"x"},"parameters":[{"key":"abcdefghij","value":"0123456789"}]}`, small, ErrTooLarge,
			"parameters larger than allowed: 22 > 20 bytes."},
		// CheckAction measures the built action, system annotations
		// included (22 + provide-api-key/false + exec/"nodejs:20");
		// ActionPut.CheckSizes measures the request as OpenWhisk does.
		{"annotations too large", `{"exec":{"kind":"nodejs:20","code":"x"},"annotations":[{"key":"abcdefghij","value":"0123456789"}]}`, small, ErrTooLarge,
			"annotations larger than allowed: 57 > 20 bytes."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := NewAction(NewFQN("guest", "", "x"), decodeActionPut(t, tc.body), 1, tc.sys)
			if err != nil {
				t.Fatal(err)
			}
			err = CheckAction(a, testManifest(t), tc.sys)
			if !errors.Is(err, tc.kind) || err.Error() != tc.msg {
				t.Errorf("CheckAction = %v; want %v %q", err, tc.kind, tc.msg)
			}
		})
	}
}

func TestActionUpdate(t *testing.T) {
	sys := DefaultSystemLimits()
	m := testManifest(t)
	base, err := NewAction(NewFQN("guest", "", "a"), decodeActionPut(t,
		`{"exec":{"kind":"nodejs:20","code":"old"},"parameters":[{"key":"p","value":1}],"limits":{"memory":512,"timeout":1000},
		  "annotations":[{"key":"keep","value":1},{"key":"drop","value":2}],"publish":true}`), 1, sys)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckAction(base, m, sys); err != nil {
		t.Fatal(err)
	}
	base.SetRevision("1-a")
	tests := []struct {
		name string
		body string
		want string
	}{
		{"empty body bumps version only", `{}`,
			`{"namespace":"guest","name":"a","version":"0.0.2","publish":true,"exec":{"kind":"nodejs:20","code":"old","binary":false},
			  "parameters":[{"key":"p","value":1}],"limits":{"timeout":1000,"memory":512,"logs":10,"concurrency":1},
			  "annotations":[{"key":"keep","value":1},{"key":"drop","value":2},{"key":"provide-api-key","value":false},{"key":"exec","value":"nodejs:20"}],"updated":2}`},
		{"annotations merged, parameters replaced, limits field by field", `{"annotations":[{"key":"new","value":"x"},{"key":"keep","value":9}],
			  "parameters":[{"key":"q","value":2}],"limits":{"logs":5},"publish":false}`,
			`{"namespace":"guest","name":"a","version":"0.0.2","publish":false,"exec":{"kind":"nodejs:20","code":"old","binary":false},
			  "parameters":[{"key":"q","value":2}],"limits":{"timeout":1000,"memory":512,"logs":5,"concurrency":1},
			  "annotations":[{"key":"keep","value":9},{"key":"drop","value":2},{"key":"provide-api-key","value":false},{"key":"exec","value":"nodejs:20"},{"key":"new","value":"x"}],"updated":2}`},
		{"delAnnotations then merge; provide-api-key not re-added", `{"delAnnotations":["drop","provide-api-key"],"annotations":[{"key":"n","value":1}]}`,
			`{"namespace":"guest","name":"a","version":"0.0.2","publish":true,"exec":{"kind":"nodejs:20","code":"old","binary":false},
			  "parameters":[{"key":"p","value":1}],"limits":{"timeout":1000,"memory":512,"logs":10,"concurrency":1},
			  "annotations":[{"key":"keep","value":1},{"key":"exec","value":"nodejs:20"},{"key":"n","value":1}],"updated":2}`},
		{"exec replaced and exec annotation rewritten", `{"exec":{"kind":"python:3","code":"UEsD"}}`,
			`{"namespace":"guest","name":"a","version":"0.0.2","publish":true,"exec":{"kind":"python:3.11","code":"UEsD","binary":true},
			  "parameters":[{"key":"p","value":1}],"limits":{"timeout":1000,"memory":512,"logs":10,"concurrency":1},
			  "annotations":[{"key":"keep","value":1},{"key":"drop","value":2},{"key":"provide-api-key","value":false},{"key":"exec","value":"python:3.11"}],"updated":2}`},
		{"becomes a sequence", `{"exec":{"kind":"sequence","components":["/guest/x"]}}`,
			`{"namespace":"guest","name":"a","version":"0.0.2","publish":true,"exec":{"kind":"sequence","components":["/guest/x"]},
			  "parameters":[{"key":"p","value":1},{"key":"_actions","value":["/guest/x"]}],"limits":{"timeout":1000,"memory":512,"logs":10,"concurrency":1},
			  "annotations":[{"key":"keep","value":1},{"key":"drop","value":2},{"key":"provide-api-key","value":false},{"key":"exec","value":"sequence"}],"updated":2}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := json.Marshal(base)
			u := base.Update(decodeActionPut(t, tc.body), 2)
			if err := CheckAction(u, m, sys); err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(u)
			assertSameJSON(t, b, []byte(tc.want))
			if u.Revision() != "1-a" {
				t.Errorf("update lost the revision: %q", u.Revision())
			}
			after, _ := json.Marshal(base)
			if string(before) != string(after) {
				t.Errorf("Update modified its receiver:\n%s\n%s", before, after)
			}
		})
	}
}

func TestSequenceUpdateKeepsActions(t *testing.T) {
	sys := DefaultSystemLimits()
	m := testManifest(t)
	seq, err := NewAction(NewFQN("guest", "", "s"), decodeActionPut(t, `{"exec":{"kind":"sequence","components":["/guest/a","/guest/b"]}}`), 1, sys)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckAction(seq, m, sys); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, body, want string
	}{
		{"parameters replaced, _actions kept", `{"parameters":[{"key":"x","value":1}]}`, `["/guest/a","/guest/b"]`},
		{"new components", `{"exec":{"kind":"sequence","components":["/guest/c"]}}`, `["/guest/c"]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := seq.Update(decodeActionPut(t, tc.body), 2)
			if err := CheckAction(u, m, sys); err != nil {
				t.Fatal(err)
			}
			got, _ := u.Parameters.Get(ParamSequenceActions)
			if string(got) != tc.want {
				t.Errorf("_actions = %s, want %s", got, tc.want)
			}
			comps, _ := json.Marshal(u.Exec.Components)
			if string(comps) != tc.want {
				t.Errorf("components = %s, want %s", comps, tc.want)
			}
		})
	}
}

func TestActionWithoutCodeAndSummary(t *testing.T) {
	var a Action
	if err := json.Unmarshal(readGolden(t, "action_zip.json"), &a); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(a.WithoutCode())
	if strings.Contains(string(b), "UEsD") || !strings.Contains(string(b), `"binary":true`) {
		t.Errorf("WithoutCode = %s", b)
	}
	if a.Exec.CodeOmitted {
		t.Error("WithoutCode modified its receiver")
	}
	s := a.Summary()
	if !s.Exec.Binary || s.Name != "zipped" || s.Namespace != "guest/utils" {
		t.Errorf("Summary = %+v", s)
	}
}

func TestActionPutCheckSizes(t *testing.T) {
	sys := DefaultSystemLimits()
	sys.ExecSizeMax = 10
	sys.ParameterSizeMax = 20
	tests := []struct {
		name, body string
		kind       error
		msg        string
	}{
		{"empty", `{}`, nil, ""},
		{"at the limits", `{"exec":{"kind":"nodejs:20","code":"1234567890"},"parameters":[{"key":"abcdefghi","value":"012345678"}]}`, nil, ""},
		{"exec", `{"exec":{"kind":"nodejs:20","code":"12345678901"}}`, ErrTooLarge, "exec larger than allowed: 11 > 10 bytes."},
		{"blackbox image counts", `{"exec":{"kind":"blackbox","image":"abcdefghijk"}}`, ErrTooLarge, "exec larger than allowed: 11 > 10 bytes."},
		{"parameters", `{"parameters":[{"key":"abcdefghij","value":"0123456789"}]}`, ErrTooLarge, "parameters larger than allowed: 22 > 20 bytes."},
		{"annotations of the request only", `{"annotations":[{"key":"abcdefghij","value":"0123456789"}]}`, ErrTooLarge, "annotations larger than allowed: 22 > 20 bytes."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := decodeActionPut(t, tc.body).CheckSizes(sys)
			if tc.kind == nil {
				if err != nil {
					t.Errorf("CheckSizes = %v", err)
				}
				return
			}
			if !errors.Is(err, tc.kind) || err.Error() != tc.msg {
				t.Errorf("CheckSizes = %v; want %q", err, tc.msg)
			}
		})
	}
}
