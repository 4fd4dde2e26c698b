package controller

// Web actions, the request side (reference §1.6; OpenWhisk's WebActions.scala):
// the URL path, the extension, the annotations that govern a web action,
// the request body and the action's arguments. Everything here is pure.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/gowhisk/gowhisk/entity"
)

// Annotations of web actions (OpenWhisk's Annotations).
const (
	annotationWebExport     = "web-export"
	annotationRawHTTP       = "raw-http"
	annotationCustomOptions = "web-custom-options"
	annotationRequireAuth   = "require-whisk-auth"
)

// headerRequireWhiskAuth carries the secret of a require-whisk-auth web
// action whose annotation is a string or number.
const headerRequireWhiskAuth = "X-Require-Whisk-Auth"

// Reserved argument names of a web action (the "__ow_" properties).
const (
	owMethod  = "__ow_method"
	owHeaders = "__ow_headers"
	owPath    = "__ow_path"
	owUser    = "__ow_user"
	owQuery   = "__ow_query"
	owBody    = "__ow_body"
)

// isReservedWebKey reports whether a request may not set argument key.
func isReservedWebKey(key string) bool {
	switch key {
	case owMethod, owHeaders, owPath, owUser, owQuery, owBody:
		return true
	}
	return false
}

// webExt is a response extension: ".http", ".json", ".html", ".svg" or
// ".text".
type webExt string

const (
	extHTTP webExt = ".http"
	extJSON webExt = ".json"
	extHTML webExt = ".html"
	extSVG  webExt = ".svg"
	extText webExt = ".text"
)

// webExtensions in the order OpenWhisk tries them.
var webExtensions = [...]webExt{extHTTP, extJSON, extHTML, extSVG, extText}

// splitExtension splits an action segment into the action name and its
// extension: the first known extension the segment ends with, else the
// whole segment with the default ".http" (OpenWhisk does not enforce an
// extension, so an unknown one stays part of the name).
func splitExtension(seg string) (name string, ext webExt) {
	for _, e := range webExtensions {
		if strings.HasSuffix(seg, string(e)) {
			return strings.TrimSuffix(seg, string(e)), e
		}
	}
	return seg, extHTTP
}

// webTarget is what the path after /api/v1/web names.
type webTarget struct {
	namespace string
	pkg       string // "" for the default package
	action    string
	ext       webExt
	// path is the rest of the path after the action segment ("" or
	// "/a/b"): the __ow_path argument.
	path string
}

// fqn is the action's fully qualified name.
func (t webTarget) fqn() entity.FQN { return entity.NewFQN(t.namespace, t.pkg, t.action) }

// parseWebPath parses "/{ns}/{pkg|default}/{action}[.ext][/extra/path]".
// ok is false if a segment is missing or not a valid entity name (the
// route then answers 404).
func parseWebPath(p string) (t webTarget, ok bool) {
	rest, found := strings.CutPrefix(p, "/")
	if !found {
		return t, false
	}
	parts := strings.SplitN(rest, "/", 4)
	if len(parts) < 3 {
		return t, false
	}
	ns, pkg, seg := parts[0], parts[1], parts[2]
	if len(parts) == 4 {
		t.path = "/" + parts[3]
	}
	if !entity.ValidName(ns) || !entity.ValidName(pkg) || !entity.ValidName(seg) {
		return webTarget{}, false
	}
	t.namespace = ns
	if pkg != reservedPackageName {
		t.pkg = pkg
	}
	t.action, t.ext = splitExtension(seg)
	if !entity.ValidName(t.action) {
		return webTarget{}, false
	}
	return t, true
}

// annotationIsTrue reports whether annotation key is the JSON boolean true
// (OpenWhisk reads web-export, raw-http and web-custom-options with
// getAs[Boolean]: a string "true" or a number does not count).
func annotationIsTrue(ann entity.Params, key string) bool {
	v, ok := ann.Get(key)
	return ok && string(bytes.TrimSpace(v)) == "true"
}

// webAuthorized decides whether a request may run a web action with
// annotations ann (WebActions.scala confirmAuthenticated, with the
// reference's reading of false): require-whisk-auth absent, null or false
// is public; true requires a valid Basic authentication
// (authenticated); a string or a number requires the
// X-Require-Whisk-Auth header to equal it (the number as written); any
// other value refuses every request.
func webAuthorized(ann entity.Params, header string, hasHeader, authenticated bool) bool {
	v, ok := ann.Get(annotationRequireAuth)
	if !ok {
		return true
	}
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 0 || string(v) == "null" || string(v) == "false":
		return true
	case string(v) == "true":
		return authenticated
	case v[0] == '"':
		var s string
		if json.Unmarshal(v, &s) != nil {
			return false
		}
		return hasHeader && header == s
	case v[0] == '-' || (v[0] >= '0' && v[0] <= '9'):
		return hasHeader && header == string(v)
	}
	return false
}

// mediaType is a parsed Content-Type.
type mediaType struct {
	full   string // lower-case "type/subtype"
	params map[string]string
}

// parseMediaType parses a Content-Type value; ok is false if it is not a
// media type.
func parseMediaType(v string) (mediaType, bool) {
	mt, params, err := mime.ParseMediaType(v)
	if err != nil || !strings.Contains(mt, "/") {
		return mediaType{}, false
	}
	return mediaType{full: strings.ToLower(mt), params: params}, true
}

func (m mediaType) main() string {
	main, _, _ := strings.Cut(m.full, "/")
	return main
}

// isJSONFamily: application/json or any "+json" type.
func (m mediaType) isJSONFamily() bool {
	return m.full == "application/json" || strings.HasSuffix(m.full, "+json")
}

// textualApplicationTypes are the application/* types akka-http (which
// OpenWhisk uses) registers with a charset, i.e. not binary.
var textualApplicationTypes = map[string]bool{
	"application/json":                  true,
	"application/javascript":            true,
	"application/x-javascript":          true,
	"application/ecmascript":            true,
	"application/xml":                   true,
	"application/xhtml+xml":             true,
	"application/x-www-form-urlencoded": true,
	"application/rss+xml":               true,
	"application/atom+xml":              true,
	"application/soap+xml":              true,
	"application/xml-dtd":               true,
}

// isBinary decides whether a body of this media type is binary (carried as
// base64): text/* and the registered textual application types are not;
// other types are binary unless they declare a charset (akka-http's
// reading of an unregistered type). multipart bodies are binary (they may
// carry files). image/svg+xml is binary, as akka-http registers it.
func (m mediaType) isBinary() bool {
	if m.main() == "text" || textualApplicationTypes[m.full] {
		return false
	}
	if m.main() == "multipart" {
		return true
	}
	if _, ok := m.params["charset"]; ok && m.full != "image/svg+xml" {
		return false
	}
	return true
}

// webBody interprets a request body for the action's arguments
// (WebActions.scala extractEntityAndProcessRequest). It returns the body
// value, or nil when there is none to pass:
//
//   - no body and no Content-Type: nil (raw-http: "" later);
//   - not raw, JSON family: the JSON value (nil if empty; ErrInvalid if
//     malformed);
//   - not raw, form-urlencoded: an object of the fields (the last of a
//     repeated field wins);
//   - a binary type, or exactly application/json (raw): a base64 string;
//   - anything else: the body as a string.
//
// A body without a Content-Type is application/octet-stream.
func webBody(contentType string, body []byte, raw bool) (json.RawMessage, error) {
	if len(body) == 0 && contentType == "" {
		return nil, nil
	}
	mt, ok := parseMediaType(contentType)
	if !ok {
		mt = mediaType{full: "application/octet-stream"}
	}
	switch {
	case !raw && mt.isJSONFamily():
		if len(bytes.TrimSpace(body)) == 0 {
			return nil, nil
		}
		if !json.Valid(body) {
			return nil, entity.Invalidf(msgMalformed + "the body is not valid JSON")
		}
		return compact(body), nil
	case !raw && mt.full == "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, entity.Invalidf(msgMalformed+"%v", err)
		}
		return lastValues(form), nil
	case mt.isBinary() || mt.full == "application/json":
		return jsonString(base64.StdEncoding.EncodeToString(body)), nil
	}
	return jsonString(string(body)), nil
}

// lastValues is a JSON object of each key's last value, keys sorted.
func lastValues(v url.Values) json.RawMessage {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		vals := v[k]
		out = entity.AppendJSONString(out, k)
		out = append(out, ':')
		out = entity.AppendJSONString(out, vals[len(vals)-1])
	}
	return append(out, '}')
}

// jsonString is s as a JSON string (invalid UTF-8 replaced by U+FFFD).
func jsonString(s string) json.RawMessage {
	return entity.AppendJSONString(nil, s)
}

// webRequest is the HTTP request as a web action sees it.
type webRequest struct {
	method   string      // the HTTP method
	header   http.Header // request headers, Host and Content-Type included
	path     string      // __ow_path
	rawQuery string      // the URL's raw query
	user     string      // the authenticated caller's namespace, or ""
	body     json.RawMessage
}

// webHeaders is the __ow_headers object: lower-cased names, repeated
// headers joined by ", ", Content-Length left out, names sorted.
func webHeaders(h http.Header) json.RawMessage {
	keys := make([]string, 0, len(h))
	merged := make(map[string][]string, len(h))
	for k, vs := range h {
		lk := strings.ToLower(k)
		if lk == "content-length" {
			continue
		}
		if _, ok := merged[lk]; !ok {
			keys = append(keys, lk)
		}
		merged[lk] = append(merged[lk], vs...)
	}
	sort.Strings(keys)
	out := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		out = entity.AppendJSONString(out, k)
		out = append(out, ':')
		out = append(out, jsonString(strings.Join(merged[k], ", "))...)
	}
	return append(out, '}')
}

// bodyObject returns the fields of a JSON object body (nil if the body is
// not an object).
func bodyObject(body json.RawMessage) entity.Params {
	if len(body) == 0 || body[0] != '{' {
		return nil
	}
	ps, err := entity.ParamsFromObject(body)
	if err != nil {
		return nil
	}
	return ps
}

// queryParams are the query's parameters as strings, in order of first
// appearance, the last value of a repeated key winning.
func queryParams(rawQuery string) entity.Params {
	if rawQuery == "" {
		return nil
	}
	vals, _ := url.ParseQuery(rawQuery)
	var out entity.Params
	seen := map[string]bool{}
	for _, part := range strings.Split(rawQuery, "&") {
		k, _, _ := strings.Cut(part, "=")
		k, err := url.QueryUnescape(k)
		if err != nil || seen[k] || len(vals[k]) == 0 {
			continue
		}
		seen[k] = true
		vs := vals[k]
		out = append(out, entity.Param{Key: k, Value: jsonString(vs[len(vs)-1])})
	}
	return out
}

// immutableParams are the parameters a request may not override: with the
// annotation final truthy, the action's parameters with a non-null value.
func immutableParams(a *entity.Action) map[string]bool {
	if !a.Annotations.IsTruthy(entity.AnnotationFinal) {
		return nil
	}
	out := map[string]bool{}
	for _, p := range a.Parameters {
		if v := bytes.TrimSpace(p.Value); len(v) > 0 && string(v) != "null" {
			out[p.Key] = true
		}
	}
	return out
}

// webOverrides reports whether a (non raw-http) request's query or object
// body sets a reserved __ow_ key or one of the immutable parameters
// (WebActions.scala Context.overrides): the request is then refused with
// 400 msgParametersNotAllowed.
func webOverrides(query, body entity.Params, immutable map[string]bool) bool {
	for _, ps := range [...]entity.Params{query, body} {
		for _, p := range ps {
			if isReservedWebKey(p.Key) || immutable[p.Key] {
				return true
			}
		}
	}
	return false
}

// webArgs builds the request part of a web action's arguments
// (WebActions.scala Context.toActionArgument), a JSON object merged over
// the action's parameters by the invoke path: __ow_method (lower case),
// __ow_headers, __ow_path, __ow_user (only when authenticated), then
//
//   - not raw: the query parameters (strings), then the body's fields if
//     it is an object, else the body as __ow_body;
//   - raw-http: __ow_query (the raw query string) and __ow_body (the body,
//     "" if none).
//
// Later keys win.
func webArgs(r webRequest, raw bool) json.RawMessage {
	meta := entity.Params{
		{Key: owMethod, Value: jsonString(strings.ToLower(r.method))},
		{Key: owHeaders, Value: webHeaders(r.header)},
		{Key: owPath, Value: jsonString(r.path)},
	}
	if r.user != "" {
		meta = append(meta, entity.Param{Key: owUser, Value: jsonString(r.user)})
	}
	out := meta.AppendObject(nil)
	out = out[:len(out)-1] // reopen the object
	add := func(k string, v json.RawMessage) {
		out = append(out, ',')
		out = entity.AppendJSONString(out, k)
		out = append(out, ':')
		out = append(out, v...)
	}
	if raw {
		add(owQuery, jsonString(r.rawQuery))
		body := r.body
		if body == nil {
			body = json.RawMessage(`""`)
		}
		add(owBody, body)
		return append(out, '}')
	}
	fields := bodyObject(r.body)
	set := map[string]bool{owMethod: true, owHeaders: true, owPath: true}
	if r.user != "" {
		set[owUser] = true
	}
	var rest entity.Params
	rest = append(rest, queryParams(r.rawQuery)...)
	if fields != nil {
		rest = append(rest, fields...)
	} else if r.body != nil {
		rest = append(rest, entity.Param{Key: owBody, Value: r.body})
	}
	// Later keys win: keep the last occurrence of each key.
	last := make(map[string]int, len(rest))
	for i, p := range rest {
		last[p.Key] = i
	}
	for i, p := range rest {
		if last[p.Key] != i || set[p.Key] {
			continue
		}
		add(p.Key, p.Value)
	}
	return append(out, '}')
}
