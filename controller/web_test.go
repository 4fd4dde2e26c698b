package controller

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gowhisk/gowhisk/entity"
)

// webAnn are the annotations `wsk action create --web true` writes, plus
// extra ones (JSON objects' members, e.g. `{"key":"raw-http","value":true}`).
func webAnn(extra ...string) string {
	parts := append([]string{
		`{"key":"web-export","value":true}`, `{"key":"raw-http","value":false}`, `{"key":"final","value":true}`,
	}, extra...)
	return "[" + strings.Join(parts, ",") + "]"
}

// webReq sends a web action request with optional body (content type ct)
// and headers; auth as for ts.do ("" = none).
func webReq(t *testing.T, ts *testServer, method, path, ct, body, auth string, headers ...string) response {
	t.Helper()
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	var req *http.Request
	var err error
	if rd != nil {
		req, err = http.NewRequest(method, ts.URL+path, rd)
	} else {
		req, err = http.NewRequest(method, ts.URL+path, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if auth != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(auth)))
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return ts.request(req)
}

func wantErr(t *testing.T, r response, status int, msg string) {
	t.Helper()
	r.wantStatus(status)
	if got := r.ErrMsg(); got != msg {
		t.Fatalf("error %q, want %q (body %s)", got, msg, r.Body)
	}
}

func newWebServer(t *testing.T, opts ...func(*Config)) (*testServer, *fakeActivator) {
	t.Helper()
	f := &fakeActivator{}
	ts := newTestServer(t, append([]func(*Config){withFake(f)}, opts...)...)
	return ts, f
}

func TestWebJSONArguments(t *testing.T) {
	ts, f := newWebServer(t)
	putTestAction(t, ts, "_", "echo-web", `[{"key":"p","value":"fromAction"},{"key":"q","value":"q0"}]`,
		`[{"key":"web-export","value":true}]`)

	r := webReq(t, ts, http.MethodGet, "/api/v1/web/guest/default/echo-web.json/some/path?q=1&x=y", "", "", noAuth,
		"X-Custom", "v")
	r.wantStatus(http.StatusOK)
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	got := r.Obj()
	for k, want := range map[string]any{
		"p": "fromAction", "q": "1", "x": "y", "__ow_method": "get", "__ow_path": "/some/path",
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	if _, ok := got["__ow_user"]; ok {
		t.Error("__ow_user without authentication")
	}
	hdrs, _ := got["__ow_headers"].(map[string]any)
	if hdrs["x-custom"] != "v" || hdrs["host"] == nil {
		t.Errorf("__ow_headers = %v", hdrs)
	}
	if id := r.Header.Get(headerActivationID); len(id) != 32 || id != f.last(t).ActivationID {
		t.Errorf("activation id header %q", id)
	}
	if r.Header.Get("Access-Control-Allow-Origin") != "*" || r.Header.Get("Access-Control-Allow-Methods") != webAllowMethods {
		t.Errorf("CORS headers %v", r.Header)
	}
	last := f.last(t)
	if !last.Blocking || last.Identity.Namespace.Name != entity.GuestSubject || last.Action.Name != "echo-web" {
		t.Errorf("activation request %+v", last)
	}

	// A POST with a JSON body, authenticated as alice: the owner (guest)
	// runs it, __ow_user is alice, body fields win over the query.
	r = webReq(t, ts, http.MethodPost, "/api/v1/web/guest/default/echo-web.json?x=q", "application/json", `{"x":"body","n":2}`, aliceAuth)
	r.wantStatus(http.StatusOK)
	got = r.Obj()
	if got["x"] != "body" || got["n"] != float64(2) || got["__ow_method"] != "post" || got["__ow_user"] != aliceNS {
		t.Errorf("POST result %v", got)
	}
	if id := f.last(t).Identity; id.Namespace.Name != entity.GuestSubject {
		t.Errorf("billed to %q, want the owner", id.Namespace.Name)
	}

	// Form bodies are promoted too; a text body is __ow_body.
	r = webReq(t, ts, http.MethodPut, "/api/v1/web/guest/default/echo-web.json", "application/x-www-form-urlencoded", "a=1&b=two", noAuth)
	if got := r.wantStatus(http.StatusOK).Obj(); got["a"] != "1" || got["b"] != "two" || got["__ow_method"] != "put" {
		t.Errorf("form result %v", got)
	}
	r = webReq(t, ts, http.MethodPatch, "/api/v1/web/guest/default/echo-web.json", "text/plain", "hello", noAuth)
	if got := r.wantStatus(http.StatusOK).Obj(); got["__ow_body"] != "hello" || got["__ow_method"] != "patch" {
		t.Errorf("text result %v", got)
	}
	// Invalid credentials are an anonymous request.
	r = webReq(t, ts, http.MethodDelete, "/api/v1/web/guest/default/echo-web.json", "", "", aliceUUID+":"+strings.Repeat("x", 64))
	if got := r.wantStatus(http.StatusOK).Obj(); got["__ow_user"] != nil || got["__ow_method"] != "delete" {
		t.Errorf("bad credentials result %v", got)
	}
	// A malformed JSON body.
	r = webReq(t, ts, http.MethodPost, "/api/v1/web/guest/default/echo-web.json", "application/json", `{"x":`, noAuth)
	r.wantStatus(http.StatusBadRequest)
}

func TestWebRendering(t *testing.T) {
	ts, _ := newWebServer(t)
	params, _ := json.Marshal([]map[string]any{
		{"key": "statusCode", "value": 201},
		{"key": "headers", "value": map[string]any{"X-Hello": "world", "Content-Type": "text/plain"}},
		{"key": "body", "value": "created"},
		{"key": "html", "value": "<h1>hi</h1>"},
		{"key": "text", "value": "plain text"},
	})
	putTestAction(t, ts, "_", "ok-render", string(params), webAnn())

	r := webReq(t, ts, http.MethodGet, "/api/v1/web/guest/default/ok-render.http", "", "", noAuth).wantStatus(http.StatusCreated)
	if string(r.Body) != "created" || r.Header.Get("X-Hello") != "world" || r.Header.Get("Content-Type") != "text/plain; charset=UTF-8" {
		t.Errorf(".http: %q %v", r.Body, r.Header)
	}
	// No extension is .http.
	webReq(t, ts, http.MethodGet, "/api/v1/web/guest/default/ok-render", "", "", noAuth).wantStatus(http.StatusCreated)
	// .html and .text take "body" first.
	r = webReq(t, ts, http.MethodGet, "/api/v1/web/guest/default/ok-render.html", "", "", noAuth).wantStatus(http.StatusOK)
	if string(r.Body) != "created" || r.Header.Get("Content-Type") != ctHTML {
		t.Errorf(".html: %q %v", r.Body, r.Header)
	}
	r = webReq(t, ts, http.MethodGet, "/api/v1/web/guest/default/ok-render.text", "", "", noAuth).wantStatus(http.StatusOK)
	if string(r.Body) != "created" || r.Header.Get("Content-Type") != ctText {
		t.Errorf(".text: %q %v", r.Body, r.Header)
	}
	r = webReq(t, ts, http.MethodGet, "/api/v1/web/guest/default/ok-render.svg", "", "", noAuth).wantStatus(http.StatusOK)
	if string(r.Body) != "created" || r.Header.Get("Content-Type") != ctSVG {
		t.Errorf(".svg: %q %v", r.Body, r.Header)
	}
	// HEAD has the headers and no body.
	r = webReq(t, ts, http.MethodHead, "/api/v1/web/guest/default/ok-render.http", "", "", noAuth).wantStatus(http.StatusCreated)
	if len(r.Body) != 0 || r.Header.Get("X-Hello") != "world" {
		t.Errorf("HEAD: %q %v", r.Body, r.Header)
	}

	// Outcomes: an application error renders its error field, a whisk
	// error is 400, a scalar is not JSON media.
	putTestAction(t, ts, "_", "apperr-web", "", webAnn())
	putTestAction(t, ts, "_", "whiskerr-web", "", webAnn())
	putTestAction(t, ts, "_", "unavail-web", "", webAnn())
	r = webReq(t, ts, http.MethodGet, "/api/v1/web/guest/default/apperr-web.text", "", "", noAuth).wantStatus(http.StatusOK)
	if string(r.Body) != "app failed" {
		t.Errorf("application error .text: %q", r.Body)
	}
	wantErr(t, webReq(t, ts, http.MethodGet, "/api/v1/web/guest/default/apperr-web.json", "", "", noAuth),
		http.StatusBadRequest, "Response is not valid 'application/json'.")
	wantErr(t, webReq(t, ts, http.MethodGet, "/api/v1/web/guest/default/whiskerr-web.json", "", "", noAuth),
		http.StatusBadRequest, "There was an error processing your request.")
	webReq(t, ts, http.MethodGet, "/api/v1/web/guest/default/unavail-web.json", "", "", noAuth).wantStatus(http.StatusServiceUnavailable)
}

func TestWebNotFound(t *testing.T) {
	ts, f := newWebServer(t)
	putTestAction(t, ts, "_", "echo-private", "", "")
	putTestAction(t, ts, "_", "echo-string", "", `[{"key":"web-export","value":"true"}]`)
	putTestAction(t, ts, "_", "echo-web", "", webAnn())
	const missing = "The requested resource does not exist."
	for _, p := range []string{
		"/api/v1/web/guest/default/echo-private.json",
		"/api/v1/web/guest/default/echo-string.json",
		"/api/v1/web/guest/default/nothing.json",
		"/api/v1/web/guest/nopkg/echo-web.json",
		"/api/v1/web/nobody/default/echo-web.json",
		"/api/v1/web/guest/default/echo-web.xml",
		"/api/v1/web/guest/default",
		"/api/v1/web/",
	} {
		wantErr(t, webReq(t, ts, http.MethodGet, p, "", "", guestAuth), http.StatusNotFound, missing)
	}
	if n := len(f.requests()); n != 0 {
		t.Fatalf("%d activations for missing web actions", n)
	}
	// Non-exported actions get no CORS answer either.
	webReq(t, ts, http.MethodOptions, "/api/v1/web/guest/default/echo-private.json", "", "", noAuth).wantStatus(http.StatusNotFound)
}

func TestWebPackagedAndSequence(t *testing.T) {
	ts, f := newWebServer(t)
	putOK(t, ts, "/api/v1/namespaces/_/packages/demo", `{"parameters":[{"key":"fromPkg","value":1}]}`)
	putTestAction(t, ts, "_", "demo/echo-web", "", webAnn())
	r := webReq(t, ts, http.MethodGet, "/api/v1/web/guest/demo/echo-web.json", "", "", noAuth).wantStatus(http.StatusOK)
	if r.Obj()["fromPkg"] != float64(1) {
		t.Errorf("package parameter missing: %s", r.Body)
	}

	putTestAction(t, ts, "_", "echo-a", "", "")
	b, _ := json.Marshal(map[string]any{
		"exec":        map[string]any{"kind": "sequence", "components": []string{"/_/echo-a"}},
		"annotations": []map[string]any{{"key": "web-export", "value": true}},
	})
	putOK(t, ts, actionsPath+"seq-web", string(b))
	r = webReq(t, ts, http.MethodGet, "/api/v1/web/guest/default/seq-web.json?v=1", "", "", noAuth).wantStatus(http.StatusOK)
	if got := r.Obj(); got["v"] != "1" || got["__ow_method"] != "get" {
		t.Errorf("sequence result %v", got)
	}
	if last := f.last(t); last.Action.Name != "echo-a" || last.Cause == "" || last.Cause != r.Header.Get(headerActivationID) {
		t.Errorf("component request %+v, sequence id %q", last, r.Header.Get(headerActivationID))
	}
}

func TestWebFinalAndReserved(t *testing.T) {
	ts, f := newWebServer(t)
	putTestAction(t, ts, "_", "echo-final", `[{"key":"fixed","value":"v"},{"key":"open","value":null}]`, webAnn())
	putTestAction(t, ts, "_", "echo-open", `[{"key":"fixed","value":"v"}]`, `[{"key":"web-export","value":true}]`)
	const msg = "Request defines parameters that are not allowed (e.g., reserved properties)."
	for _, tc := range []struct{ name, method, path, ct, body string }{
		{"query overrides final", http.MethodGet, "/api/v1/web/guest/default/echo-final.json?fixed=x", "", ""},
		{"body overrides final", http.MethodPost, "/api/v1/web/guest/default/echo-final.json", "application/json", `{"fixed":"x"}`},
		{"reserved in query", http.MethodGet, "/api/v1/web/guest/default/echo-open.json?__ow_method=x", "", ""},
		{"reserved in form", http.MethodPost, "/api/v1/web/guest/default/echo-open.json", "application/x-www-form-urlencoded", "__ow_user=x"},
	} {
		// ts's responses fail the parent test, so no subtests here.
		r := webReq(t, ts, tc.method, tc.path, tc.ct, tc.body, noAuth)
		if r.Status != http.StatusBadRequest || r.ErrMsg() != msg {
			t.Errorf("%s: %d %s", tc.name, r.Status, r.Body)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Fatalf("%d activations of refused requests", n)
	}
	// A null parameter may be set; a non-final action may be overridden.
	r := webReq(t, ts, http.MethodGet, "/api/v1/web/guest/default/echo-final.json?open=1", "", "", noAuth).wantStatus(http.StatusOK)
	if r.Obj()["open"] != "1" || r.Obj()["fixed"] != "v" {
		t.Errorf("final result %s", r.Body)
	}
	r = webReq(t, ts, http.MethodGet, "/api/v1/web/guest/default/echo-open.json?fixed=x", "", "", noAuth).wantStatus(http.StatusOK)
	if r.Obj()["fixed"] != "x" {
		t.Errorf("open result %s", r.Body)
	}
}

func TestWebRawHTTP(t *testing.T) {
	ts, _ := newWebServer(t)
	putTestAction(t, ts, "_", "echo-raw", "", `[{"key":"web-export","value":true},{"key":"raw-http","value":true}]`)
	r := webReq(t, ts, http.MethodPost, "/api/v1/web/guest/default/echo-raw.json?a=1&__ow_user=x", "application/json", `{"b":2}`, noAuth)
	got := r.wantStatus(http.StatusOK).Obj()
	if got["__ow_query"] != "a=1&__ow_user=x" || got["__ow_body"] != base64.StdEncoding.EncodeToString([]byte(`{"b":2}`)) {
		t.Errorf("raw result %v", got)
	}
	if _, ok := got["a"]; ok {
		t.Error("raw-http promoted the query")
	}
	if _, ok := got["b"]; ok {
		t.Error("raw-http promoted the body")
	}
	got = webReq(t, ts, http.MethodGet, "/api/v1/web/guest/default/echo-raw.json", "", "", noAuth).wantStatus(http.StatusOK).Obj()
	if got["__ow_body"] != "" || got["__ow_query"] != "" {
		t.Errorf("raw result without body %v", got)
	}
}

func TestWebRequireWhiskAuth(t *testing.T) {
	ts, f := newWebServer(t)
	putTestAction(t, ts, "_", "echo-secret", "", webAnn(`{"key":"require-whisk-auth","value":"s3cret"}`))
	putTestAction(t, ts, "_", "echo-number", "", webAnn(`{"key":"require-whisk-auth","value":7140012345}`))
	putTestAction(t, ts, "_", "echo-authed", "", webAnn(`{"key":"require-whisk-auth","value":true}`))
	const unauthorized = "Authentication is possible but has failed or not yet been provided."
	base := "/api/v1/web/guest/default/"
	wantErr(t, webReq(t, ts, http.MethodGet, base+"echo-secret.json", "", "", guestAuth), http.StatusUnauthorized, unauthorized)
	wantErr(t, webReq(t, ts, http.MethodGet, base+"echo-secret.json", "", "", noAuth, "X-Require-Whisk-Auth", "wrong"), http.StatusUnauthorized, unauthorized)
	webReq(t, ts, http.MethodGet, base+"echo-secret.json", "", "", noAuth, "X-Require-Whisk-Auth", "s3cret").wantStatus(http.StatusOK)
	wantErr(t, webReq(t, ts, http.MethodGet, base+"echo-number.json", "", "", noAuth), http.StatusUnauthorized, unauthorized)
	webReq(t, ts, http.MethodGet, base+"echo-number.json", "", "", noAuth, "X-Require-Whisk-Auth", "7140012345").wantStatus(http.StatusOK)
	wantErr(t, webReq(t, ts, http.MethodGet, base+"echo-authed.json", "", "", noAuth), http.StatusUnauthorized, unauthorized)
	wantErr(t, webReq(t, ts, http.MethodGet, base+"echo-authed.json", "", "", aliceUUID+":"+strings.Repeat("k", 64)), http.StatusUnauthorized, unauthorized)
	r := webReq(t, ts, http.MethodGet, base+"echo-authed.json", "", "", aliceAuth).wantStatus(http.StatusOK)
	if r.Obj()["__ow_user"] != aliceNS {
		t.Errorf("__ow_user %v", r.Obj()["__ow_user"])
	}
	if n := len(f.requests()); n != 3 {
		t.Fatalf("%d activations, want 3 (the authorized requests)", n)
	}
}

func TestWebCORSAndCustomOptions(t *testing.T) {
	ts, f := newWebServer(t)
	putTestAction(t, ts, "_", "echo-web", "", webAnn(`{"key":"require-whisk-auth","value":true}`))
	r := webReq(t, ts, http.MethodOptions, "/api/v1/web/guest/default/echo-web.http", "", "", noAuth,
		"Access-Control-Request-Headers", "X-Foo, Content-Type")
	r.wantStatus(http.StatusOK)
	if r.Header.Get("Access-Control-Allow-Origin") != "*" || r.Header.Get("Access-Control-Allow-Methods") != "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH" ||
		r.Header.Get("Access-Control-Allow-Headers") != "X-Foo, Content-Type" || len(r.Body) != 0 {
		t.Errorf("OPTIONS: %v %q", r.Header, r.Body)
	}
	r = webReq(t, ts, http.MethodOptions, "/api/v1/web/guest/default/echo-web.http", "", "", noAuth).wantStatus(http.StatusOK)
	if r.Header.Get("Access-Control-Allow-Headers") != webAllowHeadersDefault {
		t.Errorf("default allow headers %q", r.Header.Get("Access-Control-Allow-Headers"))
	}
	if n := len(f.requests()); n != 0 {
		t.Fatalf("automatic OPTIONS ran the action %d times", n)
	}

	// web-custom-options: the action answers OPTIONS itself, even
	// unauthenticated, and no CORS headers are added.
	params := `[{"key":"statusCode","value":200},{"key":"headers","value":{"Access-Control-Allow-Origin":"example.com","Allow":"GET"}}]`
	putTestAction(t, ts, "_", "ok-options", params,
		webAnn(`{"key":"web-custom-options","value":true}`, `{"key":"require-whisk-auth","value":true}`))
	r = webReq(t, ts, http.MethodOptions, "/api/v1/web/guest/default/ok-options.http", "", "", noAuth).wantStatus(http.StatusOK)
	if r.Header.Get("Access-Control-Allow-Origin") != "example.com" || r.Header.Get("Allow") != "GET" || r.Header.Get("Access-Control-Allow-Methods") != "" {
		t.Errorf("custom OPTIONS headers %v", r.Header)
	}
	if n := len(f.requests()); n != 1 {
		t.Fatalf("custom OPTIONS ran the action %d times, want 1", n)
	}
	// Its other methods still require authentication.
	webReq(t, ts, http.MethodGet, "/api/v1/web/guest/default/ok-options.http", "", "", noAuth).wantStatus(http.StatusUnauthorized)
}

func TestWebThrottledAsOwner(t *testing.T) {
	ts, f := newWebServer(t, func(c *Config) { c.Limits.InvocationsPerMinute = 2 })
	putTestAction(t, ts, "_", "echo-web", "", webAnn())
	for range 2 {
		webReq(t, ts, http.MethodGet, "/api/v1/web/guest/default/echo-web.json", "", "", aliceAuth).wantStatus(http.StatusOK)
	}
	r := webReq(t, ts, http.MethodGet, "/api/v1/web/guest/default/echo-web.json", "", "", aliceAuth)
	wantErr(t, r, http.StatusTooManyRequests, "Too many requests in the last minute (count: 3, allowed: 2).")
	if n := len(f.requests()); n != 2 {
		t.Fatalf("%d activations, want 2", n)
	}
	// alice's own invocations are not charged by guest's web actions.
	putTestAction(t, ts, "_", "echo-alice", "", "", aliceAuth)
	ts.do(http.MethodPost, "/api/v1/namespaces/_/actions/echo-alice?blocking=true", "", aliceAuth).wantStatus(http.StatusOK)
}

func TestWebPayloadTooLarge(t *testing.T) {
	ts, _ := newWebServer(t, func(c *Config) { c.Limits.PayloadMax = 16 })
	putTestAction(t, ts, "_", "echo-web", "", webAnn())
	webReq(t, ts, http.MethodPost, "/api/v1/web/guest/default/echo-web.json", "text/plain", strings.Repeat("x", 100), noAuth).
		wantStatus(http.StatusRequestEntityTooLarge)
}

// TestWebBadInputs: malformed paths, queries, content types and bodies
// get a 4xx or a rendered answer, never a 5xx.
func TestWebBadInputs(t *testing.T) {
	ts, _ := newWebServer(t)
	putTestAction(t, ts, "_", "echo-web", "", webAnn())
	for _, tc := range []struct{ method, path, ct, body string }{
		{"GET", "/api/v1/web/guest/default/echo-web.json/%00/%ff", "", ""},
		{"GET", "/api/v1/web/guest/default/echo-web.json?%zz=1&a=%ff&=&&", "", ""},
		{"GET", "/api/v1/web/%ff/default/echo-web.json", "", ""},
		{"GET", "/api/v1/web/guest/default/echo-web.json..json", "", ""},
		{"POST", "/api/v1/web/guest/default/echo-web.json", "application/json; charset=\"", "{}"},
		{"POST", "/api/v1/web/guest/default/echo-web.json", "application/x-www-form-urlencoded", "a=%zz"},
		{"POST", "/api/v1/web/guest/default/echo-web.json", "application/json", "[1,2] 3"},
		{"POST", "/api/v1/web/guest/default/echo-web.http", "image/png", "\x89PNG\xff\x00"},
		{"POST", "/api/v1/web/guest/default/echo-web.text", "text/plain", "\xff\xfe"},
	} {
		r := webReq(t, ts, tc.method, tc.path, tc.ct, tc.body, noAuth)
		if r.Status >= 500 {
			t.Errorf("%s %s (%s): %d %s", tc.method, tc.path, tc.ct, r.Status, r.Body)
		}
	}
}
