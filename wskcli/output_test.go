package wskcli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/entity"
)

func TestPrintJSON(t *testing.T) {
	var b bytes.Buffer
	printJSON(&b, map[string]any{"b": "<html>&", "a": []int{1}})
	want := "{\n    \"a\": [\n        1\n    ],\n    \"b\": \"<html>&\"\n}\n"
	if b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}

func TestStream(t *testing.T) {
	var plain, color bytes.Buffer
	stream{w: &plain}.okf("created action %s", stream{w: &plain}.bold("x"))
	s := stream{w: &color, color: true}
	s.okf("created action %s", s.bold("x"))
	if plain.String() != "ok: created action x\n" {
		t.Errorf("plain %q", plain.String())
	}
	if color.String() != "\x1b[32mok:\x1b[0m created action \x1b[1mx\x1b[0m\n" {
		t.Errorf("colour %q", color.String())
	}
}

func summaries(t *testing.T, js string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(js), v); err != nil {
		t.Fatal(err)
	}
}

func TestPrintActionList(t *testing.T) {
	var acts []entity.ActionSummary
	summaries(t, `[{"namespace":"guest","name":"hello","version":"0.0.1","publish":true,"annotations":[{"key":"exec","value":"nodejs:20"}],"limits":{},"exec":{"binary":false},"updated":1},
		{"namespace":"guest/pkg","name":"a","version":"0.0.1","publish":false,"annotations":[],"limits":{},"exec":{"binary":false},"updated":1}]`, &acts)
	var b bytes.Buffer
	printActionList(stream{w: &b}, acts)
	want := "actions\n" +
		"/guest/hello                                                           private nodejs:20\n" +
		"/guest/pkg/a                                                           private \n"
	if b.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", b.String(), want)
	}
	sortActions(acts)
	if acts[0].Name != "hello" {
		t.Errorf("name sort puts packaged actions first: %v", acts)
	}
}

func TestPrintOtherLists(t *testing.T) {
	var b bytes.Buffer
	var ts []entity.TriggerSummary
	summaries(t, `[{"namespace":"guest","name":"t","version":"0.0.1","publish":true,"annotations":[],"updated":1}]`, &ts)
	printTriggerList(stream{w: &b}, ts)
	var ps []entity.PackageSummary
	summaries(t, `[{"namespace":"guest","name":"p","version":"0.0.1","publish":true,"annotations":[],"binding":false,"updated":1}]`, &ps)
	printPackageList(stream{w: &b}, ps)
	var rs []entity.Rule
	summaries(t, `[{"namespace":"guest","name":"r","version":"0.0.1","publish":false,"annotations":[],"trigger":{"path":"guest","name":"t"},"action":{"path":"guest","name":"a"},"status":"active","updated":1}]`, &rs)
	printRuleList(stream{w: &b}, rs)
	want := "triggers\n/guest/t" + strings.Repeat(" ", 63) + "private\n" +
		"packages\n/guest/p" + strings.Repeat(" ", 63) + "shared\n" +
		"rules\n/guest/r" + strings.Repeat(" ", 63) + "private              active\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestPrintActivationTable(t *testing.T) {
	start := time.Date(2024, 3, 5, 7, 8, 9, 0, time.Local).UnixMilli()
	var acts []entity.ActivationSummary
	summaries(t, `[
		{"namespace":"guest","name":"hello","version":"0.0.2","publish":false,"activationId":"0123456789abcdef0123456789abcdef",
		 "annotations":[{"key":"kind","value":"nodejs:20"},{"key":"initTime","value":5}],"start":`+itoa(start)+`,"end":`+itoa(start+1234)+`,"duration":1234,"statusCode":0},
		{"namespace":"guest","name":"a-very-long-action-name-that-needs-shortening","version":"0.0.1","publish":false,"activationId":"fedcba9876543210fedcba9876543210",
		 "annotations":[{"key":"kind","value":"python:3.11"}],"start":`+itoa(start)+`,"end":`+itoa(start+3)+`,"duration":3,"statusCode":2},
		{"namespace":"guest","name":"trig","version":"0.0.1","publish":false,"activationId":"00000000000000000000000000000000",
		 "annotations":[],"start":`+itoa(start)+`,"statusCode":0}]`, &acts)
	var b bytes.Buffer
	printActivationTable(stream{w: &b}, acts)
	want := "Datetime            Activation ID                    Kind        Start Duration   Status          Entity\n" +
		"2024-03-05 07:08:09 0123456789abcdef0123456789abcdef nodejs:20   cold  1.234s     success         guest/hello:0.0.2\n" +
		"2024-03-05 07:08:09 fedcba9876543210fedcba9876543210 python:3.11 warm  3ms        developer error guest/a-very-long-act...s-shortening:0.0.1\n" +
		"2024-03-05 07:08:09 00000000000000000000000000000000 unknown     warm  0s         success         guest/trig:0.0.1\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestTruncateMiddle(t *testing.T) {
	tests := []struct {
		s    string
		max  int
		want string
	}{
		{"short", 20, "short"},
		{"abcdefghijklmnopqrstuvwxyz", 10, "abcde...yz"},
		{"abcdefghijklmnopqrstuvwxyz", 11, "abcdef...yz"},
	}
	for _, tc := range tests {
		if got := truncateMiddle(tc.s, tc.max); got != tc.want {
			t.Errorf("truncateMiddle(%q, %d) = %q, want %q", tc.s, tc.max, got, tc.want)
		}
	}
}

func TestStripLogLine(t *testing.T) {
	tests := map[string]string{
		"2024-01-02T03:04:05.678901234Z stdout: hello world": "hello world",
		"2024-01-02T03:04:05.678Z stderr: oops":              "oops",
		"2024-01-02T03:04:05.6Z        stdout: padded":       "padded",
		"no prefix at all": "no prefix at all",
		"":                 "",
	}
	for in, want := range tests {
		if got := stripLogLine(in); got != want {
			t.Errorf("stripLogLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSummary(t *testing.T) {
	var act showAction
	if err := decodeJSON([]byte(`{"namespace":"guest","name":"a","annotations":[{"key":"final","value":true},
		{"key":"parameters","value":[{"name":"zeta"},{"name":"alpha"}]}],"parameters":[{"key":"beta","value":1},{"key":"alpha","value":2}]}`), &act); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(paramUnion(act.Annotations, act.Parameters), ", "); got != "**alpha, **beta, zeta" {
		t.Errorf("paramUnion = %q", got)
	}
	var b bytes.Buffer
	printEntitySummary(stream{w: &b}, "action", "/guest/a", act.Annotations, paramUnion(act.Annotations, act.Parameters))
	want := "action /guest/a: Returns a result based on parameters alpha, beta and zeta\n   (parameters: **alpha, **beta, zeta)\n"
	if b.String() != want {
		t.Errorf("summary\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	printEntitySummary(stream{w: &b}, "trigger", "/guest/t", nil, nil)
	if b.String() != "trigger /guest/t\n   (parameters: none defined)\n" {
		t.Errorf("empty summary %q", b.String())
	}
}

func TestFieldOf(t *testing.T) {
	act := showActivation{ActivationID: "x", Response: showResponse{Status: "success"}}
	if v, ok := fieldOf(act, "ACTIVATIONID"); !ok || v != "x" {
		t.Errorf("fieldOf activationid = %v, %v", v, ok)
	}
	if _, ok := fieldOf(act, "nosuch"); ok {
		t.Errorf("an unknown field was found")
	}
}
