package standalone_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestWebActions creates web actions with `wsk action create --web true`
// on a real `gowhisk standalone --sandbox process` and calls them over
// /api/v1/web (reference §1.6) as a browser or curl would.
func TestWebActions(t *testing.T) {
	tmp := t.TempDir()
	wsk := buildWsk(t, filepath.Join(tmp, "bin"))
	srv := startProcessServer(t, tmp, scenarioLimits...)

	work := filepath.Join(tmp, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	props := filepath.Join(tmp, "wskprops")
	if err := os.WriteFile(props, []byte("APIHOST="+srv.APIHost+"\nAUTH="+guestAuth+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"hello.js": `function main(p) {
  var name = p.name || 'World';
  return {greeting: 'Hello, ' + name, method: p.__ow_method, path: p.__ow_path,
    user: p.__ow_user || null, fixed: p.fixed || null, count: p.count || null,
    agent: (p.__ow_headers || {})['x-agent'] || null,
    body: '<h1>Hello, ' + name + '</h1>'};
}`,
		"http.js": `function main(p) {
  if (p.png) {
    return {headers: {'Content-Type': 'image/png'}, body: Buffer.from([0x89, 0x50, 0x4e, 0x47]).toString('base64')};
  }
  return {statusCode: 201, headers: {'X-Hello': 'world', 'Content-Type': 'text/plain'}, body: 'hi ' + (p.name || 'there')};
}`,
		"options.js": `function main(p) {
  return {statusCode: 200, headers: {'Access-Control-Allow-Origin': 'example.com', 'X-Method': p.__ow_method}};
}`,
	}
	for name, code := range files {
		if err := os.WriteFile(filepath.Join(work, name), []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wskRun := func(args ...string) {
		t.Helper()
		cmd := exec.Command(wsk, args...)
		cmd.Dir = work
		cmd.Env = append(cleanEnv(), "WSK_CONFIG_FILE="+props)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("wsk %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	wskRun("action", "create", "hello", "hello.js", "--web", "true", "--param", "fixed", "v")
	wskRun("action", "create", "http", "http.js", "--web", "true")
	wskRun("action", "create", "private", "hello.js")
	wskRun("action", "create", "secure", "hello.js", "--web", "true", "--web-secure", "s3cret")
	wskRun("action", "create", "options", "options.js", "--web", "true", "-a", "web-custom-options", "true")
	wskRun("action", "create", "greetseq", "--sequence", "hello", "--web", "true")

	web := srv.APIHost + "/api/v1/web/guest/default/"
	call := func(t *testing.T, method, url, contentType, body string, headers ...string) webResult {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, url, rd)
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := (&http.Client{Timeout: 2 * pollWait}).Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v\nserver stderr (tail):\n%s", method, url, err, tail(srv.Stderr.String()))
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return webResult{status: resp.StatusCode, header: resp.Header, body: b}
	}

	t.Run("json with query parameters", func(t *testing.T) {
		r := call(t, "GET", web+"hello.json/extra/path?name=Web&count=3", "", "", "X-Agent", "e2e")
		r.want(t, 200)
		got := r.obj(t)
		for k, want := range map[string]any{
			"greeting": "Hello, Web", "method": "get", "path": "/extra/path", "fixed": "v", "count": "3", "agent": "e2e", "user": nil,
		} {
			if got[k] != want {
				t.Errorf("%s = %v, want %v", k, got[k], want)
			}
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		if id := r.header.Get("x-openwhisk-activation-id"); len(id) != 32 {
			t.Errorf("activation id header %q", id)
		}
		if r.header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("no CORS header: %v", r.header)
		}
	})
	t.Run("post with a JSON body", func(t *testing.T) {
		r := call(t, "POST", web+"hello.json?name=Query", "application/json", `{"name":"Body","count":7}`)
		got := r.want(t, 200).obj(t)
		if got["greeting"] != "Hello, Body" || got["count"] != float64(7) || got["method"] != "post" {
			t.Errorf("result %v", got)
		}
	})
	t.Run("authenticated caller is __ow_user, the owner runs it", func(t *testing.T) {
		u, k, _ := strings.Cut(guestAuth, ":")
		req, _ := http.NewRequest("GET", web+"hello.json", nil)
		req.SetBasicAuth(u, k)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || got["user"] != "guest" {
			t.Errorf("result %v (%v)", got, err)
		}
		// The activation is recorded in the owner's namespace.
		c := api{t: t, srv: srv}
		rec := c.activation(t, resp.Header.Get("x-openwhisk-activation-id"))
		if rec.Name != "hello" {
			t.Errorf("record %s", rec.raw)
		}
	})
	t.Run("html and text", func(t *testing.T) {
		r := call(t, "GET", web+"hello.html?name=Html", "", "").want(t, 200)
		if string(r.body) != "<h1>Hello, Html</h1>" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			t.Errorf(".html: %q %v", r.body, r.header)
		}
		r = call(t, "GET", web+"hello.text", "", "").want(t, 200)
		if string(r.body) != "<h1>Hello, World</h1>" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
			t.Errorf(".text: %q %v", r.body, r.header)
		}
	})
	t.Run("http status, headers and body", func(t *testing.T) {
		r := call(t, "GET", web+"http.http?name=you", "", "").want(t, 201)
		if string(r.body) != "hi you" || r.header.Get("X-Hello") != "world" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
			t.Errorf(".http: %q %v", r.body, r.header)
		}
		// Without an extension it is .http too; a binary type is base64-decoded.
		r = call(t, "GET", web+"http?png=1", "", "").want(t, 200)
		if !bytes.Equal(r.body, []byte{0x89, 'P', 'N', 'G'}) || r.header.Get("Content-Type") != "image/png" {
			t.Errorf("png: %q %v", r.body, r.header)
		}
	})
	t.Run("not exported is 404", func(t *testing.T) {
		r := call(t, "GET", web+"private.json", "", "").want(t, 404)
		if msg := r.obj(t)["error"]; msg != "The requested resource does not exist." {
			t.Errorf("error %v", msg)
		}
		call(t, "GET", srv.APIHost+"/api/v1/web/nobody/default/hello.json", "", "").want(t, 404)
	})
	t.Run("final parameters cannot be overridden", func(t *testing.T) {
		r := call(t, "GET", web+"hello.json?fixed=other", "", "").want(t, 400)
		if msg := r.obj(t)["error"]; msg != "Request defines parameters that are not allowed (e.g., reserved properties)." {
			t.Errorf("error %v", msg)
		}
	})
	t.Run("require-whisk-auth", func(t *testing.T) {
		call(t, "GET", web+"secure.json", "", "").want(t, 401)
		call(t, "GET", web+"secure.json", "", "", "X-Require-Whisk-Auth", "wrong").want(t, 401)
		r := call(t, "GET", web+"secure.json", "", "", "X-Require-Whisk-Auth", "s3cret").want(t, 200)
		if r.obj(t)["greeting"] != "Hello, World" {
			t.Errorf("result %s", r.body)
		}
	})
	t.Run("sequence as a web action", func(t *testing.T) {
		r := call(t, "GET", web+"greetseq.json?name=Seq", "", "").want(t, 200)
		if got := r.obj(t); got["greeting"] != "Hello, Seq" || got["method"] != "get" {
			t.Errorf("sequence result %v", got)
		}
	})
	t.Run("OPTIONS answers CORS", func(t *testing.T) {
		r := call(t, "OPTIONS", web+"hello.json", "", "", "Access-Control-Request-Headers", "X-Custom").want(t, 200)
		if r.header.Get("Access-Control-Allow-Origin") != "*" || r.header.Get("Access-Control-Allow-Methods") != "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH" ||
			r.header.Get("Access-Control-Allow-Headers") != "X-Custom" {
			t.Errorf("OPTIONS headers %v", r.header)
		}
		// web-custom-options: the action answers OPTIONS itself.
		r = call(t, "OPTIONS", web+"options.http", "", "").want(t, 200)
		if r.header.Get("Access-Control-Allow-Origin") != "example.com" || r.header.Get("X-Method") != "options" {
			t.Errorf("custom OPTIONS headers %v", r.header)
		}
	})
}

// webResult is a web action response.
type webResult struct {
	status int
	header http.Header
	body   []byte
}

func (r webResult) want(t *testing.T, status int) webResult {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	return r
}

func (r webResult) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %s", r.body)
	}
	return m
}

// buildWsk builds cmd/wsk into dir.
func buildWsk(t *testing.T, dir string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(dir, "wsk")
	if out, err := exec.Command(goTool, "build", "-o", bin, "github.com/gowhisk/gowhisk/cmd/wsk").CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/wsk: %v\n%s", err, out)
	}
	return bin
}
