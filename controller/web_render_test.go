package controller

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/gowhisk/gowhisk/entity"
)

func TestRenderWeb(t *testing.T) {
	tests := []struct {
		name   string
		ext    webExt
		result string
		want   webResponse
	}{
		{"json object", extJSON, `{"a":1}`, webResponse{status: 200, contentType: ctJSON, body: []byte("{\n  \"a\": 1\n}")}},
		{"json array", extJSON, `[1]`, webResponse{status: 200, contentType: ctJSON, body: []byte("[\n  1\n]")}},
		{"json scalar", extJSON, `"x"`, webError(400, "Response is not valid 'application/json'.")},
		{"html body", extHTML, `{"body":"<p>hi</p>","html":"no"}`, webResponse{status: 200, contentType: ctHTML, body: []byte("<p>hi</p>")}},
		{"html field", extHTML, `{"html":"<p>hi</p>"}`, webResponse{status: 200, contentType: ctHTML, body: []byte("<p>hi</p>")}},
		{"html string result", extHTML, `"<b>x</b>"`, webResponse{status: 200, contentType: ctHTML, body: []byte("<b>x</b>")}},
		{"html missing", extHTML, `{"x":1}`, webError(400, "Response is not valid 'text/html'.")},
		{"html not a string", extHTML, `{"body":1}`, webError(400, "Response is not valid 'text/html'.")},
		{"svg", extSVG, `{"svg":"<svg/>"}`, webResponse{status: 200, contentType: ctSVG, body: []byte("<svg/>")}},
		{"svg missing", extSVG, `{}`, webError(400, "Response is not valid 'image/svg+xml'.")},
		{"text string", extText, `{"text":"plain"}`, webResponse{status: 200, contentType: ctText, body: []byte("plain")}},
		{"text number", extText, `{"body":42}`, webResponse{status: 200, contentType: ctText, body: []byte("42")}},
		{"text bool", extText, `true`, webResponse{status: 200, contentType: ctText, body: []byte("true")}},
		{"text null", extText, `{"body":null}`, webResponse{status: 200, contentType: ctText, body: []byte("null")}},
		{"text object unescaped", extText, `{"body":{"h":"\u003cp\u003e"}}`, webResponse{status: 200, contentType: ctText, body: []byte("{\n  \"h\": \"<p>\"\n}")}},
		{"text object", extText, `{"body":{"a":[1]}}`, webResponse{status: 200, contentType: ctText, body: []byte("{\n  \"a\": [\n    1\n  ]\n}")}},
		{"text missing", extText, `{"x":1}`, webError(404, "Response does not include requested property.")},
		{"http not an object", extHTTP, `[1]`, webError(400, "Response is not valid 'message/http'.")},
		{"http empty is 204", extHTTP, `{}`, webResponse{status: 204}},
		{"http empty string body", extHTTP, `{"body":"","statusCode":200}`, webResponse{status: 200}},
		{"http html default", extHTTP, `{"body":"<p>x</p>"}`, webResponse{status: 200, contentType: "text/html; charset=UTF-8", body: []byte("<p>x</p>")}},
		{
			"http headers and status", extHTTP,
			`{"statusCode":201,"headers":{"X-A":"1","X-N":2,"X-B":true,"Set-Cookie":["a=1","b=2"],"Content-Type":"text/plain"},"body":"hi"}`,
			webResponse{status: 201, contentType: "text/plain; charset=UTF-8", body: []byte("hi"),
				header: [][2]string{{"X-A", "1"}, {"X-N", "2"}, {"X-B", "true"}, {"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}}},
		},
		{"http status string", extHTTP, `{"statusCode":"404","body":"gone"}`, webResponse{status: 404, contentType: "text/html; charset=UTF-8", body: []byte("gone")}},
		{"http status float whole", extHTTP, `{"statusCode":302.0}`, webResponse{status: 302}},
		{"http status fraction", extHTTP, `{"statusCode":200.5}`, webError(400, "Response is not valid 'message/http'.")},
		{"http status unknown", extHTTP, `{"statusCode":999}`, webError(400, "Response is not valid 'message/http'.")},
		{"http status bool", extHTTP, `{"statusCode":true}`, webError(400, "Response is not valid 'message/http'.")},
		{"http headers not an object", extHTTP, `{"headers":[1]}`, webError(400, "Response is not valid 'message/http'.")},
		{"http header object value", extHTTP, `{"headers":{"a":{}}}`, webError(400, "Response is not valid 'message/http'.")},
		{"http header with newline", extHTTP, `{"headers":{"a":"x\r\nb: y"}}`, webError(400, "Response is not valid 'message/http'.")},
		{"http object body is json", extHTTP, `{"body":{"a":1}}`, webResponse{status: 200, contentType: ctJSON, body: []byte("{\n  \"a\": 1\n}")}},
		{"http json body other json type", extHTTP, `{"headers":{"content-type":"application/hal+json"},"body":[1]}`, webResponse{status: 200, contentType: "application/hal+json", body: []byte("[\n  1\n]")}},
		{"http json body text type", extHTTP, `{"headers":{"content-type":"text/plain"},"body":{"a":1}}`, webError(400, "Response type in header did not match generated content type.")},
		{"http binary body", extHTTP, `{"headers":{"Content-Type":"image/png"},"body":"iVBORw=="}`, webResponse{status: 200, contentType: "image/png", body: []byte("\x89PNG")}},
		{"http binary not base64", extHTTP, `{"headers":{"Content-Type":"image/png"},"body":"not base64!"}`, webError(400, "Response type in header did not match generated content type.")},
		{"http json base64 string", extHTTP, `{"headers":{"Content-Type":"application/json"},"body":"eyJhIjoxfQ=="}`, webResponse{status: 200, contentType: "application/json", body: []byte(`{"a":1}`)}},
		{"http json plain string", extHTTP, `{"headers":{"Content-Type":"application/json"},"body":"{\"a\":1}"}`, webResponse{status: 200, contentType: "application/json", body: []byte(`{"a":1}`)}},
		{"http unknown content type", extHTTP, `{"headers":{"Content-Type":"nonsense"},"body":"x"}`, webError(400, "Response did not specify a known content-type.")},
		{"http number body", extHTTP, `{"body":5}`, webResponse{status: 200, contentType: ctJSON, body: []byte("5")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := renderWeb(tc.ext, json.RawMessage(tc.result))
			if len(got.body) == 0 {
				got.body = nil
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("renderWeb(%s, %s) =\n %+v (body %q)\nwant\n %+v (body %q)", tc.ext, tc.result, got, got.body, tc.want, tc.want.body)
			}
		})
	}
}

func TestRenderActivation(t *testing.T) {
	rec := func(code int, result string) *entity.Activation {
		return &entity.Activation{Response: entity.Response{StatusCode: code, Result: json.RawMessage(result)}}
	}
	tests := []struct {
		name string
		ext  webExt
		rec  *entity.Activation
		want webResponse
	}{
		{"success", extText, rec(entity.StatusSuccess, `{"text":"ok"}`), webResponse{status: 200, contentType: ctText, body: []byte("ok")}},
		{"success without result", extHTTP, rec(entity.StatusSuccess, ``), webResponse{status: 204}},
		{"application error renders error", extText, rec(entity.StatusApplicationError, `{"error":"boom"}`), webResponse{status: 200, contentType: ctText, body: []byte("boom")}},
		{"application error as http", extHTTP, rec(entity.StatusApplicationError, `{"error":{"statusCode":418,"body":"teapot"}}`), webResponse{status: 418, contentType: "text/html; charset=UTF-8", body: []byte("teapot")}},
		{"application error without error", extJSON, rec(entity.StatusApplicationError, `{"x":1}`), webError(404, msgWebPropertyNotFound)},
		{"developer error", extJSON, rec(entity.StatusDeveloperError, `{"error":"x"}`), webError(400, "There was an error processing your request.")},
		{"whisk error", extJSON, rec(entity.StatusWhiskError, `{"error":"x"}`), webError(400, "There was an error processing your request.")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := renderActivation(tc.ext, tc.rec)
			if len(got.body) == 0 {
				got.body = nil
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("renderActivation = %+v (body %q), want %+v", got, got.body, tc.want)
			}
		})
	}
}

func TestUnescapeHTML(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"none", `{"a":"x"}`, `{"a":"x"}`},
		{"html escapes", `{"a":"\u003cb\u003e \u0026"}`, `{"a":"<b> &"}`},
		{"upper hex", `"\u003C"`, `"<"`},
		{"escaped backslash before u003c", `"\\u003c"`, `"\\u003c"`},
		{"other escapes", `"\u00e9\n\""`, `"\u00e9\n\""`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(unescapeHTML([]byte(tc.in))); got != tc.want {
				t.Fatalf("unescapeHTML(%s) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseStatusCode(t *testing.T) {
	tests := []struct {
		name, v string
		code    int
		ok      bool
	}{
		{"number", `201`, 201, true},
		{"string", `"503"`, 503, true},
		{"exponent", `3e2`, 300, true},
		{"below 200", `100`, 0, false},
		{"unregistered", `299`, 0, false},
		{"negative", `-1`, 0, false},
		{"string not a number", `"OK"`, 0, false},
		{"string with spaces", `" 200"`, 0, false},
		{"null", `null`, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, ok := parseStatusCode(json.RawMessage(tc.v))
			if code != tc.code || ok != tc.ok {
				t.Fatalf("parseStatusCode(%s) = %d, %v; want %d, %v", tc.v, code, ok, tc.code, tc.ok)
			}
		})
	}
}

func TestIsBase64Code(t *testing.T) {
	tests := []struct {
		name, s string
		want    bool
	}{
		{"padded", "eyJhIjoxfQ==", true},
		{"no padding needed", "YWJj", true},
		{"surrounding space", " YWJj ", true},
		{"json text", `{"a":1}`, false},
		{"wrong length", "YWJ", false},
		{"empty", "", false},
		{"word of 4", "true", true}, // as OpenWhisk: any 4k-letter word matches
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := isBase64Code(tc.s); got != tc.want {
				t.Fatalf("isBase64Code(%q) = %v, want %v", tc.s, got, tc.want)
			}
		})
	}
}

func TestHeaderValues(t *testing.T) {
	if v, ok := headerValues(json.RawMessage(`[["a"],1]`)); !ok || !reflect.DeepEqual(v, []string{"a", "1"}) {
		t.Fatalf("headerValues nested = %v, %v", v, ok)
	}
	if _, ok := headerValues(json.RawMessage(`null`)); ok {
		t.Fatal("null header accepted")
	}
	if !validHeaderName("X-Ok_1") || validHeaderName("bad name") || validHeaderName("") {
		t.Fatal("validHeaderName")
	}
}

// FuzzRenderWeb: any result renders to a response with a valid status or
// an error, for every extension; never a panic.
func FuzzRenderWeb(f *testing.F) {
	f.Add(`{"statusCode":"201","headers":{"a":["b",1]},"body":"eA=="}`)
	f.Add(`{"headers":{"Content-Type":"image/png"},"body":"!!"}`)
	f.Add(`{"body":{"a":"\u003c"},"text":1}`)
	f.Fuzz(func(t *testing.T, result string) {
		for _, ext := range webExtensions {
			r := renderWeb(ext, json.RawMessage(result))
			if r.status < 200 || r.status > 599 {
				t.Fatalf("%s: status %d for %q", ext, r.status, result)
			}
			if r.errMsg == "" && r.status >= 400 && ext != extHTTP {
				t.Fatalf("%s: status %d without an error", ext, r.status)
			}
		}
	})
}
