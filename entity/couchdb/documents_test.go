package couchdb

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/gowhisk/gowhisk/entity"
)

func TestMarshalActivation(t *testing.T) {
	a := activationFor("guest", "hello", 1000, entity.Params{strAnn("path", "guest/hello")})
	a.End = 1005
	a.Response = entity.Response{StatusCode: entity.StatusApplicationError, Result: json.RawMessage(`{"error":"x"}`)}
	a.Logs = []string{"line"}
	a.Version = entity.SemVer{Patch: 1}
	b, err := marshalActivation(a)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("stored form is not JSON: %v\n%s", err, b)
	}
	if doc["_id"] != "guest/"+a.ActivationID || doc["entityType"] != "activation" || doc["activationId"] != a.ActivationID {
		t.Fatalf("stored form = %s", b)
	}
	back, err := decodeActivation(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.DocID() != a.DocID() || back.End != 1005 || back.Response.StatusCode != entity.StatusApplicationError ||
		string(back.Response.Result) != `{"error":"x"}` || back.EntityPath() != "hello" {
		t.Fatalf("round trip = %+v", back)
	}
}

func TestLimitsDoc(t *testing.T) {
	n := 0
	b, err := limitsDoc("guest", "", entity.UserLimits{InvocationsPerMinute: &n})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"_id":"guest/limits","invocationsPerMinute":0}` {
		t.Errorf("new limits doc = %s", b)
	}
	b, err = limitsDoc("guest", "3-abc", entity.UserLimits{AllowedKinds: []string{"nodejs:20"}})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"_id":"guest/limits","_rev":"3-abc","allowedKinds":["nodejs:20"]}` {
		t.Errorf("updated limits doc = %s", b)
	}
}

func TestDecodeSubject(t *testing.T) {
	tests := []struct {
		name, doc string
		ok        bool
		want      string
	}{
		{"subject", `{"_id":"guest","_rev":"1-a","subject":"guest","namespaces":[{"name":"guest","uuid":"u","key":"k"}]}`, true, "guest"},
		{"blocked subject", `{"_id":"bob","_rev":"2-b","subject":"bob","namespaces":[],"blocked":true}`, true, "bob"},
		{"subject without namespaces", `{"_id":"carol","_rev":"1-c","subject":"carol"}`, true, "carol"},
		{"limits document", `{"_id":"guest/limits","_rev":"1-d","invocationsPerMinute":3}`, false, ""},
		{"design document", `{"_id":"_design/subjects.v2.0.0","subject":"x","views":{}}`, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, ok, err := decodeSubject([]byte(tc.doc))
			if err != nil || ok != tc.ok || s.Subject != tc.want {
				t.Fatalf("decodeSubject = %+v, %v, %v; want %q, %v", s, ok, err, tc.want, tc.ok)
			}
			if ok && (s.Rev == "" || s.Namespaces == nil) {
				t.Errorf("decoded subject lacks its revision or namespaces: %+v", s)
			}
		})
	}
	if _, _, err := decodeSubject([]byte(`{"subject":`)); err == nil {
		t.Error("decodeSubject of broken JSON succeeded")
	}
}

func TestCheckSubjectName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"guest", true},
		{"whisk.system", true},
		{"john@example.com", true},
		{"", false},
		{"_design", false},
		{"guest/limits", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkSubjectName(tc.name)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, entity.ErrInvalid)) {
				t.Errorf("checkSubjectName(%q) = %v", tc.name, err)
			}
		})
	}
}

func TestReservedID(t *testing.T) {
	for id, want := range map[string]bool{"_design/x": true, "_local/y": true, "guest/a": false, "a_b": false} {
		if got := reservedID(id); got != want {
			t.Errorf("reservedID(%q) = %v, want %v", id, got, want)
		}
	}
}
