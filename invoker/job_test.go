package invoker

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/runtimes"
)

func TestPartitionArgs(t *testing.T) {
	tests := []struct {
		name     string
		content  string
		initArgs []string
		env      entity.Params
		value    string
	}{
		{"absent", "", nil, nil, `{}`},
		{"null", "null", []string{"a"}, nil, `{}`},
		{"no init args passes through", `{"a":1,"b":2}`, nil, nil, `{"a":1,"b":2}`},
		{"array passes through", `[1,{"a":2}]`, []string{"a"}, nil, `[1,{"a":2}]`},
		{"split", `{"a":1,"s":"x","b":{"c":null}}`, []string{"s", "b"}, entity.Params{{Key: "s", Value: json.RawMessage(`"x"`)}, {Key: "b", Value: json.RawMessage(`{"c":null}`)}}, `{"a":1}`},
		{"init arg absent from content", `{"a":1}`, []string{"s"}, nil, `{"a":1}`},
		{"all init", `{"s":true}`, []string{"s"}, entity.Params{{Key: "s", Value: json.RawMessage(`true`)}}, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, value := partitionArgs(json.RawMessage(tt.content), tt.initArgs)
			if !reflect.DeepEqual(env, tt.env) || string(value) != tt.value {
				t.Fatalf("got %v %s, want %v %s", env, value, tt.env, tt.value)
			}
		})
	}
}

func TestEnvString(t *testing.T) {
	tests := map[string]string{
		`"plain"`:            "plain",
		`"esc\"aped\n"`:      "esc\"aped\n",
		`null`:               "",
		``:                   "",
		`true`:               "true",
		`12.50`:              "12.50",
		`{"a":[1,"b"]}`:      `{"a":[1,"b"]}`,
		`[1,2]`:              `[1,2]`,
		`"\u003chtml\u003e"`: "<html>",
	}
	for in, want := range tests {
		if got := envString(json.RawMessage(in)); got != want {
			t.Errorf("envString(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestProvidesAPIKey(t *testing.T) {
	tests := []struct {
		name string
		ann  entity.Params
		want bool
	}{
		{"absent (old actions)", nil, true},
		{"true", entity.Params{{Key: "provide-api-key", Value: json.RawMessage(`true`)}}, true},
		{"false", entity.Params{{Key: "provide-api-key", Value: json.RawMessage(`false`)}}, false},
		{"truthy string", entity.Params{{Key: "provide-api-key", Value: json.RawMessage(`"yes"`)}}, true},
		{"empty string", entity.Params{{Key: "provide-api-key", Value: json.RawMessage(`""`)}}, false},
		{"zero", entity.Params{{Key: "provide-api-key", Value: json.RawMessage(`0`)}}, false},
		{"null", entity.Params{{Key: "provide-api-key", Value: json.RawMessage(`null`)}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &entity.Action{}
			a.Annotations = tt.ann
			if got := providesAPIKey(a); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRuntimeSpec(t *testing.T) {
	m, err := runtimes.LoadManifest()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		exec        entity.Exec
		kind, image string
		native, ok  bool
	}{
		{"kind", entity.Exec{Kind: "nodejs:20"}, "nodejs:20", "openwhisk/action-nodejs-v20:nightly", false, true},
		{"alias", entity.Exec{Kind: "python:3"}, "python:3.11", "openwhisk/action-python-v3.11:nightly", false, true},
		{"native skeleton", entity.Exec{Kind: "blackbox", Image: "openwhisk/dockerskeleton:nightly"}, "blackbox", "openwhisk/dockerskeleton:nightly", true, true},
		{"native skeleton without its tag (wsk --native)", entity.Exec{Kind: "blackbox", Image: "openwhisk/dockerskeleton"}, "blackbox", "openwhisk/dockerskeleton:nightly", true, true},
		{"user image", entity.Exec{Kind: "blackbox", Image: "me/x"}, "blackbox", "me/x", false, true},
		{"unknown kind", entity.Exec{Kind: "cobol:1"}, "", "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, image, native, ok := runtimeSpec(m, &tt.exec)
			if kind != tt.kind || image != tt.image || native != tt.native || ok != tt.ok {
				t.Fatalf("got %q %q %v %v", kind, image, native, ok)
			}
		})
	}
}

func TestFetchFailure(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code int
		msg  string
	}{
		{"not found", entity.ErrNotFound, entity.StatusApplicationError, MsgActionNotFound},
		{"wrong collection", entity.ErrWrongCollection, entity.StatusWhiskError, MsgActionMismatch},
		{"store down", entity.ErrUnavailable, entity.StatusWhiskError, MsgActionFetchFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fetchFailure(tt.err)
			want := entity.ErrorResponse(tt.code, tt.msg)
			if r.StatusCode != tt.code || string(r.Result) != string(want.Result) {
				t.Fatalf("got %+v", r)
			}
		})
	}
}
