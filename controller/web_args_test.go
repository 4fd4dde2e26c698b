package controller

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/gowhisk/gowhisk/entity"
)

func TestSplitExtension(t *testing.T) {
	tests := []struct {
		name, seg, base string
		ext             webExt
	}{
		{"none is http", "hello", "hello", extHTTP},
		{"http", "hello.http", "hello", extHTTP},
		{"json", "hello.json", "hello", extJSON},
		{"html", "hello.html", "hello", extHTML},
		{"svg", "hello.svg", "hello", extSVG},
		{"text", "hello.text", "hello", extText},
		{"unknown stays in the name", "hello.xml", "hello.xml", extHTTP},
		{"only the last extension", "a.json.html", "a.json", extHTML},
		{"dotted name", "my.action.json", "my.action", extJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base, ext := splitExtension(tc.seg)
			if base != tc.base || ext != tc.ext {
				t.Fatalf("splitExtension(%q) = %q, %q; want %q, %q", tc.seg, base, ext, tc.base, tc.ext)
			}
		})
	}
}

func TestParseWebPath(t *testing.T) {
	tests := []struct {
		name, path string
		want       webTarget
		ok         bool
	}{
		{"default package", "/guest/default/hello.json", webTarget{namespace: "guest", action: "hello", ext: extJSON}, true},
		{"package", "/guest/demo/hello", webTarget{namespace: "guest", pkg: "demo", action: "hello", ext: extHTTP}, true},
		{"extra path", "/guest/default/hello.html/a/b", webTarget{namespace: "guest", action: "hello", ext: extHTML, path: "/a/b"}, true},
		{"trailing slash", "/guest/default/hello.text/", webTarget{namespace: "guest", action: "hello", ext: extText, path: "/"}, true},
		{"missing action", "/guest/default", webTarget{}, false},
		{"empty action", "/guest/default/", webTarget{}, false},
		{"bad namespace", "/gu$st/default/hello", webTarget{}, false},
		{"bad package", "/guest/-x/hello", webTarget{}, false},
		{"extension only", "/guest/default/.json", webTarget{}, false},
		{"no leading slash", "guest/default/hello", webTarget{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseWebPath(tc.path)
			if ok != tc.ok || got != tc.want {
				t.Fatalf("parseWebPath(%q) = %+v, %v; want %+v, %v", tc.path, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestWebAuthorized(t *testing.T) {
	ann := func(v string) entity.Params {
		if v == "" {
			return nil
		}
		return entity.Params{{Key: annotationRequireAuth, Value: json.RawMessage(v)}}
	}
	tests := []struct {
		name, ann, header string
		hasHeader, authed bool
		want              bool
	}{
		{"absent is public", "", "", false, false, true},
		{"false is public", `false`, "", false, false, true},
		{"null is public", `null`, "", false, false, true},
		{"true needs auth", `true`, "", false, false, false},
		{"true with auth", `true`, "", false, true, true},
		{"true ignores the header", `true`, "true", true, false, false},
		{"string without header", `"s3cret"`, "", false, true, false},
		{"string with wrong header", `"s3cret"`, "nope", true, false, false},
		{"string with header", `"s3cret"`, "s3cret", true, false, true},
		{"empty string needs the header", `""`, "", true, false, true},
		{"number with header", `1234567`, "1234567", true, false, true},
		{"number with wrong header", `1234567`, "123456", true, false, false},
		{"object refuses", `{"a":1}`, "", false, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := webAuthorized(ann(tc.ann), tc.header, tc.hasHeader, tc.authed); got != tc.want {
				t.Fatalf("webAuthorized = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAnnotationIsTrue(t *testing.T) {
	tests := []struct {
		name, value string
		want        bool
	}{
		{"true", `true`, true},
		{"false", `false`, false},
		{"string true", `"true"`, false},
		{"number", `1`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := entity.Params{{Key: annotationWebExport, Value: json.RawMessage(tc.value)}}
			if got := annotationIsTrue(ps, annotationWebExport); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	if annotationIsTrue(nil, annotationWebExport) {
		t.Fatal("absent annotation is true")
	}
}

func TestMediaTypeIsBinary(t *testing.T) {
	tests := []struct {
		name, ct string
		binary   bool
	}{
		{"text/plain", "text/plain", false},
		{"text/html with charset", "text/html; charset=utf-8", false},
		{"json", "application/json", false},
		{"xml", "application/xml", false},
		{"javascript", "application/javascript", false},
		{"form", "application/x-www-form-urlencoded", false},
		{"octet-stream", "application/octet-stream", true},
		{"png", "image/png", true},
		{"svg", "image/svg+xml", true},
		{"pdf", "application/pdf", true},
		{"unknown with charset", "application/x-thing; charset=utf-8", false},
		{"unknown without charset", "application/x-thing", true},
		{"multipart", "multipart/form-data; boundary=x", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mt, ok := parseMediaType(tc.ct)
			if !ok {
				t.Fatalf("parseMediaType(%q) failed", tc.ct)
			}
			if got := mt.isBinary(); got != tc.binary {
				t.Fatalf("isBinary(%q) = %v, want %v", tc.ct, got, tc.binary)
			}
		})
	}
}

func TestWebBody(t *testing.T) {
	tests := []struct {
		name, ct, body string
		raw            bool
		want           string // "" for no body
		invalid        bool
	}{
		{"nothing", "", "", false, "", false},
		{"nothing raw", "", "", true, "", false},
		{"json object", "application/json", `{"a": 1}`, false, `{"a":1}`, false},
		{"json array", "application/json", `[1, 2]`, false, `[1,2]`, false},
		{"json scalar", "application/json", `"hi"`, false, `"hi"`, false},
		{"json family", "application/vnd.api+json", `{"a":1}`, false, `{"a":1}`, false},
		{"empty json", "application/json", ``, false, "", false},
		{"malformed json", "application/json", `{"a":`, false, "", true},
		{"form", "application/x-www-form-urlencoded", `a=1&b=x+y&a=2`, false, `{"a":"2","b":"x y"}`, false},
		{"empty form", "application/x-www-form-urlencoded", ``, false, `{}`, false},
		{"text", "text/plain", `hello`, false, `"hello"`, false},
		{"binary", "application/octet-stream", "\x00\x01", false, `"AAE="`, false},
		{"no content type is binary", "", "abc", false, `"YWJj"`, false},
		{"empty text with a type", "text/plain", ``, false, `""`, false},
		{"raw json is base64", "application/json", `{"a":1}`, true, `"eyJhIjoxfQ=="`, false},
		{"raw form is text", "application/x-www-form-urlencoded", `a=1`, true, `"a=1"`, false},
		{"raw text", "text/plain", `hi`, true, `"hi"`, false},
		{"raw binary", "image/png", "\x89PNG", true, `"iVBORw=="`, false},
		{"bad content type is binary", "not a type", "abc", false, `"YWJj"`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := webBody(tc.ct, []byte(tc.body), tc.raw)
			if tc.invalid {
				if err == nil || !isKind(err, entity.ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("webBody = %s, want %s", got, tc.want)
			}
		})
	}
}

func isKind(err, kind error) bool {
	s, _, _ := errorStatus(err)
	k, _, _ := errorStatus(kind)
	return s == k
}

func TestQueryParams(t *testing.T) {
	got := queryParams("b=2&a=1&b=3&c=x%20y&d")
	want := entity.Params{
		{Key: "b", Value: json.RawMessage(`"3"`)},
		{Key: "a", Value: json.RawMessage(`"1"`)},
		{Key: "c", Value: json.RawMessage(`"x y"`)},
		{Key: "d", Value: json.RawMessage(`""`)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("queryParams = %v, want %v", got, want)
	}
	if queryParams("") != nil {
		t.Fatal("empty query has params")
	}
}

func TestWebOverrides(t *testing.T) {
	final := &entity.Action{
		Parameters: entity.Params{{Key: "p", Value: json.RawMessage(`"fixed"`)}, {Key: "open", Value: json.RawMessage(`null`)}},
	}
	final.Annotations = entity.Params{{Key: entity.AnnotationFinal, Value: json.RawMessage(`true`)}}
	notFinal := &entity.Action{Parameters: final.Parameters}
	q := func(k string) entity.Params { return entity.Params{{Key: k, Value: json.RawMessage(`"x"`)}} }
	tests := []struct {
		name        string
		a           *entity.Action
		query, body entity.Params
		want        bool
	}{
		{"plain params", final, q("other"), q("more"), false},
		{"query sets a final param", final, q("p"), nil, true},
		{"body sets a final param", final, nil, q("p"), true},
		{"null param is not final", final, q("open"), nil, false},
		{"not final", notFinal, q("p"), q("p"), false},
		{"reserved in query", notFinal, q(owMethod), nil, true},
		{"reserved in body", notFinal, nil, q(owBody), true},
		{"__ow_ prefix alone is fine", notFinal, q("__ow_other"), nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := webOverrides(tc.query, tc.body, immutableParams(tc.a)); got != tc.want {
				t.Fatalf("webOverrides = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWebArgs(t *testing.T) {
	hdr := http.Header{"Content-Type": {"application/json"}, "X-Multi": {"a", "b"}, "Content-Length": {"7"}}
	tests := []struct {
		name string
		req  webRequest
		raw  bool
		want string
	}{
		{
			"object body over query",
			webRequest{method: "POST", header: hdr, path: "/x", rawQuery: "a=1&b=2", body: json.RawMessage(`{"b":3,"c":[1]}`)},
			false,
			`{"__ow_method":"post","__ow_headers":{"content-type":"application/json","x-multi":"a, b"},"__ow_path":"/x","a":"1","b":3,"c":[1]}`,
		},
		{
			"user when authenticated",
			webRequest{method: "GET", header: http.Header{}, user: "alice"},
			false,
			`{"__ow_method":"get","__ow_headers":{},"__ow_path":"","__ow_user":"alice"}`,
		},
		{
			"non-object body as __ow_body",
			webRequest{method: "PUT", header: http.Header{}, rawQuery: "q=1", body: json.RawMessage(`[1,2]`)},
			false,
			`{"__ow_method":"put","__ow_headers":{},"__ow_path":"","q":"1","__ow_body":[1,2]}`,
		},
		{
			"raw with body",
			webRequest{method: "POST", header: http.Header{}, rawQuery: "a=1&a=2", body: json.RawMessage(`"eyJhIjoxfQ=="`)},
			true,
			`{"__ow_method":"post","__ow_headers":{},"__ow_path":"","__ow_query":"a=1\u0026a=2","__ow_body":"eyJhIjoxfQ=="}`,
		},
		{
			"raw without body",
			webRequest{method: "DELETE", header: http.Header{}},
			true,
			`{"__ow_method":"delete","__ow_headers":{},"__ow_path":"","__ow_query":"","__ow_body":""}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := webArgs(tc.req, tc.raw)
			if string(got) != tc.want {
				t.Fatalf("webArgs =\n %s\nwant\n %s", got, tc.want)
			}
			if !json.Valid(got) {
				t.Fatal("not valid JSON")
			}
		})
	}
}

// FuzzWebArgs: any request body, content type and query give valid JSON
// arguments, or ErrInvalid for the body; never a panic.
func FuzzWebArgs(f *testing.F) {
	f.Add("application/json", `{"a":1}`, "a=1&b", false)
	f.Add("application/x-www-form-urlencoded", "a=%zz", "", false)
	f.Add("text/plain; charset=\xff", "\xff\xfe", "%", true)
	f.Fuzz(func(t *testing.T, ct, body, query string, raw bool) {
		b, err := webBody(ct, []byte(body), raw)
		if err != nil {
			if !isKind(err, entity.ErrInvalid) {
				t.Fatalf("webBody error %v", err)
			}
			return
		}
		if b != nil && !json.Valid(b) {
			t.Fatalf("webBody = %q, not JSON", b)
		}
		args := webArgs(webRequest{method: "GET", header: http.Header{ct: {body}}, path: query, rawQuery: query, body: b}, raw)
		if !json.Valid(args) {
			t.Fatalf("webArgs = %q, not JSON", args)
		}
		_ = webOverrides(queryParams(query), bodyObject(b), nil)
	})
}
