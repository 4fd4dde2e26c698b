package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/entity"
)

func TestInterpretRun(t *testing.T) {
	big := `{"a":"` + strings.Repeat("x", 40) + `"}`
	tests := []struct {
		name       string
		res        RunResult
		err        error
		truncation int
		wantCode   int
		wantResult string
	}{
		{"object is success", RunResult{200, []byte(`{"payload":"hi"}`)}, nil, 0, 0, `{"payload":"hi"}`},
		{"object is compacted", RunResult{200, []byte(" {\"a\": [1, 2],\n \"b\": \"x y\"}\n")}, nil, 0, 0, `{"a":[1,2],"b":"x y"}`},
		{"empty object is success", RunResult{200, []byte(`{}`)}, nil, 0, 0, `{}`},
		{"array is success", RunResult{200, []byte(`[1, {"error":1}]`)}, nil, 0, 0, `[1,{"error":1}]`},
		{"error field is application error", RunResult{200, []byte(`{"error":"boom","other":1}`)}, nil, 0, 1, `{"error":"boom"}`},
		{"error object value", RunResult{200, []byte(`{"x":{"error":2},"error":{"code": 7}}`)}, nil, 0, 1, `{"error":{"code":7}}`},
		{"error null is application error", RunResult{200, []byte(`{"error":null}`)}, nil, 0, 1, `{"error":null}`},
		{"escaped error key", RunResult{200, []byte(`{"\u0065rror":"e"}`)}, nil, 0, 1, `{"error":"e"}`},
		{"error key is case sensitive", RunResult{200, []byte(`{"Error":"e"}`)}, nil, 0, 0, `{"Error":"e"}`},
		{"nested error is not top level", RunResult{200, []byte(`{"a":{"error":"e"},"s":"{\"error\":1}"}`)}, nil, 0, 0, `{"a":{"error":"e"},"s":"{\"error\":1}"}`},
		{"last duplicate error wins", RunResult{200, []byte(`{"error":1,"error":2}`)}, nil, 0, 1, `{"error":2}`},
		{"non-200 with error field", RunResult{502, []byte(`{"error":"An error has occurred: x"}`)}, nil, 0, 2, `{"error":"An error has occurred: x"}`},
		{"non-200 object without error", RunResult{500, []byte(`{"a":1}`)}, nil, 0, 2, `{"error":"The action did not produce a valid JSON or JSON Array response: {\"a\":1}"}`},
		{"non-200 array", RunResult{500, []byte(`[1]`)}, nil, 0, 2, `{"error":"The action did not produce a valid JSON or JSON Array response: [1]"}`},
		{"scalar string", RunResult{200, []byte(`"hello"`)}, nil, 0, 2, `{"error":"The action did not produce a valid JSON or JSON Array response: \"hello\""}`},
		{"scalar number", RunResult{200, []byte(`42`)}, nil, 0, 2, `{"error":"The action did not produce a valid JSON or JSON Array response: 42"}`},
		{"not json", RunResult{200, []byte(`hello world`)}, nil, 0, 2, `{"error":"The action did not produce a valid JSON or JSON Array response: hello world"}`},
		{"truncated object", RunResult{200, []byte(`{"a":1`)}, nil, 0, 2, `{"error":"The action did not produce a valid JSON or JSON Array response: {\"a\":1"}`},
		{"empty body", RunResult{200, nil}, nil, 0, 2, `{"error":"The action did not produce a valid JSON or JSON Array response."}`},
		{"exited", RunResult{}, ErrExited, 0, 2, `{"error":"The action did not produce a valid response and exited unexpectedly."}`},
		{"wrapped exited", RunResult{}, fmt.Errorf("read: %w", ErrExited), 0, 2, `{"error":"The action did not produce a valid response and exited unexpectedly."}`},
		{"unknown error", RunResult{}, errors.New("broken pipe"), 0, 2, `{"error":"The action did not produce a valid response and exited unexpectedly."}`},
		{"oom", RunResult{}, ErrOOM, 0, 2, `{"error":"The action exhausted its memory and was aborted."}`},
		{"timeout", RunResult{}, ErrTimeout, 0, 2, `{"error":"The action exceeded its time limits of 1500 milliseconds."}`},
		{"deadline exceeded", RunResult{}, context.DeadlineExceeded, 0, 2, `{"error":"The action exceeded its time limits of 1500 milliseconds."}`},
		{"provision", RunResult{}, ErrProvision, 0, 3, `{"error":"Failed to provision resources to run the action."}`},
		{"too long", RunResult{200, []byte(big)}, nil, 10, 1, `{"error":"The action produced a response that exceeded the allowed length: 48 \u003e 10 bytes. The truncated response was: {\"a\":\"xxxx"}`},
		{"too long non-200", RunResult{500, []byte(big)}, nil, 10, 1, `{"error":"The action produced a response that exceeded the allowed length: 48 \u003e 10 bytes. The truncated response was: {\"a\":\"xxxx"}`},
		{"too long cut at rune boundary", RunResult{200, []byte(`{"a":"ééé"}`)}, nil, 8, 1, `{"error":"The action produced a response that exceeded the allowed length: 14 \u003e 8 bytes. The truncated response was: {\"a\":\"é"}`},
		{"exactly the limit", RunResult{200, []byte(`{"a":1}`)}, nil, 7, 0, `{"a":1}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := InterpretRun(tc.res, tc.err, 1500*time.Millisecond, tc.truncation)
			if got.StatusCode != tc.wantCode || string(got.Result) != tc.wantResult {
				t.Fatalf("got %d %s, want %d %s", got.StatusCode, got.Result, tc.wantCode, tc.wantResult)
			}
			if !json.Valid(got.Result) {
				t.Fatalf("result is not JSON: %s", got.Result)
			}
		})
	}
}

func TestInterpretInit(t *testing.T) {
	tests := []struct {
		name       string
		res        RunResult
		err        error
		wantOK     bool
		wantCode   int
		wantResult string
	}{
		{"ok 200", RunResult{200, []byte(`{"OK":true}`)}, nil, true, 0, ``},
		{"ok without status", RunResult{}, nil, true, 0, ``},
		{"init error with error field", RunResult{}, &InitError{502, []byte(`{"error":"SyntaxError: bad"}`)}, false, 2, `{"error":"SyntaxError: bad"}`},
		{"wrapped init error", RunResult{}, fmt.Errorf("x: %w", &InitError{403, []byte(`{"error":"Cannot initialize the action more than once."}`)}), false, 2, `{"error":"Cannot initialize the action more than once."}`},
		{"init error without error field", RunResult{}, &InitError{500, []byte(`{"a":1}`)}, false, 2, `{"error":"The action failed during initialization: {\"a\":1}"}`},
		{"init error not json", RunResult{}, &InitError{500, []byte(`oops`)}, false, 2, `{"error":"The action failed during initialization: oops"}`},
		{"init error empty", RunResult{}, &InitError{500, nil}, false, 2, `{"error":"The action failed during initialization."}`},
		{"non-200 without error value", RunResult{502, []byte(`{"error":"x"}`)}, nil, false, 2, `{"error":"x"}`},
		{"timeout", RunResult{}, ErrTimeout, false, 2, `{"error":"The action exceeded its time limits of 1500 milliseconds during initialization."}`},
		{"exited", RunResult{}, ErrExited, false, 2, `{"error":"The action did not initialize and exited unexpectedly."}`},
		{"oom", RunResult{}, ErrOOM, false, 2, `{"error":"The action exhausted its memory and was aborted."}`},
		{"provision", RunResult{}, ErrProvision, false, 3, `{"error":"Failed to provision resources to run the action."}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := InterpretInit(tc.res, tc.err, 1500*time.Millisecond)
			if ok != tc.wantOK || got.StatusCode != tc.wantCode || string(got.Result) != tc.wantResult {
				t.Fatalf("got %v %d %s, want %v %d %s", ok, got.StatusCode, got.Result, tc.wantOK, tc.wantCode, tc.wantResult)
			}
		})
	}
}

func TestInterpretCreate(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		blackbox   bool
		wantCode   int
		wantResult string
	}{
		{"provision", fmt.Errorf("docker run: %w", ErrProvision), false, 3, `{"error":"Failed to provision resources to run the action."}`},
		{"managed runtime other error", errors.New("no launcher"), false, 3, `{"error":"Failed to provision resources to run the action."}`},
		{"blackbox bad image", errors.New("Failed to pull container image 'x/y'."), true, 2, `{"error":"Failed to pull container image 'x/y'."}`},
		{"blackbox provision", ErrProvision, true, 3, `{"error":"Failed to provision resources to run the action."}`},
		{"blackbox cancelled", context.Canceled, true, 3, `{"error":"Failed to provision resources to run the action."}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := InterpretCreate(tc.err, tc.blackbox)
			if got.StatusCode != tc.wantCode || string(got.Result) != tc.wantResult {
				t.Fatalf("got %d %s, want %d %s", got.StatusCode, got.Result, tc.wantCode, tc.wantResult)
			}
		})
	}
}

func TestFormatLogs(t *testing.T) {
	t1 := time.Date(2017, 5, 2, 20, 12, 55, 102315773, time.UTC)
	t2 := time.Date(2017, 5, 2, 20, 12, 56, 0, time.FixedZone("X", 3600))
	tests := []struct {
		name      string
		lines     []LogLine
		truncated bool
		limit     int64
		want      []string
	}{
		{"none", nil, false, 10, []string{}},
		{"docker example", []LogLine{{t1, "stdout", "hello"}}, false, 10, []string{"2017-05-02T20:12:55.102315773Z stdout: hello"}},
		{"short time is padded", []LogLine{{t2, "stderr", "oops\n"}}, false, 10, []string{"2017-05-02T19:12:56Z           stderr: oops"}},
		{"truncated", []LogLine{{t1, "stdout", "a"}}, true, 1024, []string{
			"2017-05-02T20:12:55.102315773Z stdout: a",
			"2017-05-02T20:12:55.102315773Z stderr: Logs were truncated because the total bytes size exceeds the limit of 1024 bytes.",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := FormatLogs(tc.lines, tc.truncated, tc.limit)
			if got == nil || strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("truncated without lines uses now", func(t *testing.T) {
		got := FormatLogs(nil, true, 0)
		if len(got) != 1 || !strings.HasSuffix(got[0], " stderr: Logs were truncated because the total bytes size exceeds the limit of 0 bytes.") {
			t.Fatalf("got %q", got)
		}
		if _, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(got[0][:30])); err != nil {
			t.Fatalf("bad time in %q: %v", got[0], err)
		}
	})
}

func TestTopLevelFieldMalformedDoesNotPanic(t *testing.T) {
	for _, in := range []string{``, `{`, `{"a"`, `{"a":`, `{"a":1,`, `{"a":"\`, `[`, `{"a":{"b":[1,2}`, `{,}`} {
		topLevelField([]byte(in), "error")
	}
}

func FuzzInterpretRun(f *testing.F) {
	f.Add(200, []byte(`{"error":"x"}`))
	f.Add(502, []byte(`[1,2]`))
	f.Add(200, []byte(`{"a":{"b":"\"}"},"error":[1]}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		got := InterpretRun(RunResult{Status: status, Body: body}, nil, time.Second, 64)
		if got.StatusCode < entity.StatusSuccess || got.StatusCode > entity.StatusDeveloperError {
			t.Fatalf("status %d", got.StatusCode)
		}
		if !json.Valid(got.Result) {
			t.Fatalf("invalid result %q", got.Result)
		}
		// The error field found by the scanner agrees with encoding/json
		// (which is case-insensitive, so only compare when it finds the exact key).
		if got.StatusCode == entity.StatusApplicationError && len(body) <= 64 {
			var m map[string]json.RawMessage
			if json.Unmarshal(body, &m) == nil {
				if _, ok := m["error"]; !ok {
					t.Fatalf("application error without error key: %q", body)
				}
			}
		}
	})
}
