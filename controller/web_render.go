package controller

// Web actions, the response side (reference §1.6; OpenWhisk's
// WebActions.scala transcoders): an activation's result rendered as the
// HTTP response of the requested extension. Everything here is pure.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/gowhisk/gowhisk/entity"
)

// Messages of web action responses (OpenWhisk's Messages).
const (
	msgWebPropertyNotFound    = "Response does not include requested property."
	msgWebUnknownContentType  = "Response did not specify a known content-type."
	msgWebContentTypeMismatch = "Response type in header did not match generated content type."
	msgWebErrorProcessing     = "There was an error processing your request."
	msgWebNotReady            = "Response not yet ready."
	// msgWebUnauthorized is akka-http's default text of 401, which
	// OpenWhisk answers when a web action's authentication check fails.
	msgWebUnauthorized = "Authentication is possible but has failed or not yet been provided."
)

// msgWebInvalidMedia is Messages.invalidMedia: a result that cannot be
// rendered as media type mt.
func msgWebInvalidMedia(mt string) string { return "Response is not valid '" + mt + "'." }

// Content types of the rendered responses.
const (
	ctJSON = "application/json"
	ctHTML = "text/html; charset=UTF-8"
	ctSVG  = "image/svg+xml"
	ctText = "text/plain; charset=UTF-8"
)

// webResponse is a rendered web action response: either an OpenWhisk
// error (errMsg set, answered with status) or status, headers, content
// type ("" for none) and body.
type webResponse struct {
	status      int
	header      [][2]string
	contentType string
	body        []byte
	errMsg      string
}

func webError(status int, msg string) webResponse { return webResponse{status: status, errMsg: msg} }

// renderActivation renders a completed activation's record for ext
// (WebActions.scala completeRequest): a success renders its result, an
// application error its "error" field (404 if it has none), a developer or
// whisk error is 400 "There was an error processing your request.".
func renderActivation(ext webExt, rec *entity.Activation) webResponse {
	result := bytes.TrimSpace(rec.Response.Result)
	switch rec.Response.StatusCode {
	case entity.StatusSuccess:
		if len(result) == 0 {
			result = []byte("{}")
		}
		return renderWeb(ext, result)
	case entity.StatusApplicationError:
		fields, ok := objectFields(result)
		if !ok {
			return webError(http.StatusNotFound, msgWebPropertyNotFound)
		}
		v, ok := fields["error"]
		if !ok {
			return webError(http.StatusNotFound, msgWebPropertyNotFound)
		}
		return renderWeb(ext, v)
	}
	return webError(http.StatusBadRequest, msgWebErrorProcessing)
}

// renderWeb renders a result value (any JSON) for ext.
func renderWeb(ext webExt, v json.RawMessage) webResponse {
	v = bytes.TrimSpace(v)
	switch ext {
	case extJSON:
		if len(v) > 0 && (v[0] == '{' || v[0] == '[') {
			return webResponse{status: http.StatusOK, contentType: ctJSON, body: prettyJSON(v)}
		}
		return webError(http.StatusBadRequest, msgWebInvalidMedia("application/json"))
	case extHTML:
		return renderMarkup(v, "html", ctHTML, "text/html")
	case extSVG:
		return renderMarkup(v, "svg", ctSVG, "image/svg+xml")
	case extText:
		return renderText(v)
	}
	return renderHTTP(v)
}

// objectFields decodes a JSON object's fields; ok is false for other
// values.
func objectFields(v json.RawMessage) (map[string]json.RawMessage, bool) {
	if len(v) == 0 || v[0] != '{' {
		return nil, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(v, &m) != nil {
		return nil, false
	}
	return m, true
}

// projection is the "body" field of an object result, else its alt field;
// a non-object result is itself. ok is false if an object has neither.
func projection(v json.RawMessage, alt string) (json.RawMessage, bool) {
	fields, isObj := objectFields(v)
	if !isObj {
		return v, true
	}
	if b, ok := fields["body"]; ok {
		return bytes.TrimSpace(b), true
	}
	b, ok := fields[alt]
	return bytes.TrimSpace(b), ok
}

// renderMarkup renders .html or .svg: the projected value must be a
// string.
func renderMarkup(v json.RawMessage, alt, contentType, media string) webResponse {
	p, _ := projection(v, alt)
	var s string
	if len(p) == 0 || p[0] != '"' || json.Unmarshal(p, &s) != nil {
		return webError(http.StatusBadRequest, msgWebInvalidMedia(media))
	}
	return webResponse{status: http.StatusOK, contentType: contentType, body: []byte(s)}
}

// renderText renders .text: a string as is, an object or array as
// indented JSON, another value as its JSON text; 404 if an object result
// has neither "body" nor "text".
func renderText(v json.RawMessage) webResponse {
	p, ok := projection(v, "text")
	if !ok {
		return webError(http.StatusNotFound, msgWebPropertyNotFound)
	}
	var body []byte
	switch {
	case len(p) == 0:
		body = []byte("null")
	case p[0] == '"':
		var s string
		if json.Unmarshal(p, &s) != nil {
			return webError(http.StatusBadRequest, msgWebInvalidMedia("text/plain"))
		}
		body = []byte(s)
	case p[0] == '{' || p[0] == '[':
		body = prettyJSON(p)
	default:
		body = append([]byte(nil), p...)
	}
	return webResponse{status: http.StatusOK, contentType: ctText, body: body}
}

// prettyJSON indents a JSON value by two spaces, as OpenWhisk's pretty
// printer, with the HTML-safe escapes of stored results (\u003c, \u003e,
// \u0026) written as the characters they stand for.
func prettyJSON(v json.RawMessage) []byte {
	var buf bytes.Buffer
	if json.Indent(&buf, v, "", "  ") != nil {
		return append([]byte(nil), v...)
	}
	return unescapeHTML(buf.Bytes())
}

// unescapeHTML replaces the escapes \u003c, \u003e and \u0026 in the
// strings of valid JSON b by '<', '>' and '&'; other escapes are copied as
// they are.
func unescapeHTML(b []byte) []byte {
	if !bytes.Contains(b, []byte(`\u00`)) {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			out = append(out, b[i])
			continue
		}
		if b[i+1] == 'u' && i+6 <= len(b) {
			switch strings.ToLower(string(b[i+2 : i+6])) {
			case "003c":
				out = append(out, '<')
				i += 5
				continue
			case "003e":
				out = append(out, '>')
				i += 5
				continue
			case "0026":
				out = append(out, '&')
				i += 5
				continue
			}
		}
		out = append(out, b[i], b[i+1]) // any other escape, kept whole
		i++
	}
	return out
}

// renderHTTP renders .http: the result must be an object
// {headers, statusCode, body} (WebActions.scala resultAsHttp). A
// non-empty string body is interpreted by the Content-Type header
// (default text/html): base64-decoded for binary types and for
// JSON-family types whose body is base64, else sent as text; an object,
// array, number or boolean body is sent as JSON; a missing, null or empty
// body sends no entity (default status 204). statusCode may be a number
// or a numeric string (default 200). Anything else is 400 "Response is
// not valid 'message/http'.".
func renderHTTP(v json.RawMessage) webResponse {
	bad := webError(http.StatusBadRequest, msgWebInvalidMedia("message/http"))
	fields, ok := objectFields(v)
	if !ok {
		return bad
	}
	var headers [][2]string
	var ct string
	hasCT := false
	if hv, ok := fields["headers"]; ok {
		hs, err := entity.ParamsFromObject(bytes.TrimSpace(hv))
		if err != nil {
			return bad
		}
		for _, h := range hs {
			vals, ok := headerValues(h.Value)
			if !ok || !validHeaderName(h.Key) {
				return bad
			}
			for _, val := range vals {
				if !validHeaderValue(val) {
					return bad
				}
				if strings.EqualFold(h.Key, "Content-Type") {
					if !hasCT {
						ct, hasCT = val, true
					}
					continue
				}
				headers = append(headers, [2]string{h.Key, val})
			}
		}
	}
	code, hasCode := 0, false
	if cv, ok := fields["statusCode"]; ok {
		if code, ok = parseStatusCode(cv); !ok {
			return bad
		}
		hasCode = true
	}
	status := func(def int) int {
		if hasCode {
			return code
		}
		return def
	}
	body := bytes.TrimSpace(fields["body"])
	if len(body) == 0 || string(body) == "null" || string(body) == `""` {
		return webResponse{status: status(http.StatusNoContent), header: headers}
	}
	if body[0] == '"' {
		var s string
		if json.Unmarshal(body, &s) != nil {
			return bad
		}
		r := interpretHTTPString(s, ct, hasCT)
		if r.errMsg == "" {
			r.status, r.header = status(http.StatusOK), headers
		}
		return r
	}
	if !hasCT {
		ct = ctJSON
	}
	mt, ok := parseMediaType(ct)
	switch {
	case ok && mt.full == ctJSON:
		return webResponse{status: status(http.StatusOK), header: headers, contentType: ctJSON, body: prettyJSON(body)}
	case ok && mt.isJSONFamily():
		return webResponse{status: status(http.StatusOK), header: headers, contentType: mt.full, body: prettyJSON(body)}
	}
	return webError(http.StatusBadRequest, msgWebContentTypeMismatch)
}

// interpretHTTPString is the entity of a non-empty string body with
// Content-Type ct (text/html if !hasCT).
func interpretHTTPString(s, ct string, hasCT bool) webResponse {
	if !hasCT {
		ct = "text/html"
	}
	mt, ok := parseMediaType(ct)
	if !ok {
		return webError(http.StatusBadRequest, msgWebUnknownContentType)
	}
	switch {
	case mt.isJSONFamily() && isBase64Code(s), mt.isBinary():
		b, ok := decodeBase64(s)
		if !ok {
			return webError(http.StatusBadRequest, msgWebContentTypeMismatch)
		}
		return webResponse{contentType: ct, body: b}
	}
	if _, has := mt.params["charset"]; !has && mt.main() == "text" {
		ct += "; charset=UTF-8"
	}
	return webResponse{contentType: ct, body: []byte(s)}
}

// base64Code matches a padded base64 string (OpenWhisk's
// Exec.isBinaryCode, applied to the trimmed string).
var base64Code = regexp.MustCompile(`^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)$`)

func isBase64Code(s string) bool {
	t := strings.TrimSpace(s)
	return len(t) > 0 && len(t)%4 == 0 && base64Code.MatchString(t)
}

// decodeBase64 decodes standard base64, padded or not (Java's basic
// decoder), after trimming surrounding white space.
func decodeBase64(s string) ([]byte, bool) {
	s = strings.TrimSpace(s)
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, true
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	return b, err == nil
}

// headerValues are the values of a result header: a string, boolean or
// number as its text, an array as its elements' values (repeated
// header); ok is false for null and objects.
func headerValues(v json.RawMessage) ([]string, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return nil, false
	}
	switch v[0] {
	case '"':
		var s string
		if json.Unmarshal(v, &s) != nil {
			return nil, false
		}
		return []string{s}, true
	case '[':
		var elems []json.RawMessage
		if json.Unmarshal(v, &elems) != nil {
			return nil, false
		}
		out := []string{}
		for _, e := range elems {
			vals, ok := headerValues(e)
			if !ok {
				return nil, false
			}
			out = append(out, vals...)
		}
		return out, true
	case 't', 'f':
		if string(v) == "true" || string(v) == "false" {
			return []string{string(v)}, true
		}
		return nil, false
	case '{', 'n':
		return nil, false
	}
	if !json.Valid(v) {
		return nil, false
	}
	return []string{string(v)}, true
}

// parseStatusCode reads statusCode: a whole number, or a string of an
// integer, naming a status from 200 to 599 that net/http knows.
func parseStatusCode(v json.RawMessage) (int, bool) {
	v = bytes.TrimSpace(v)
	var code int
	switch {
	case len(v) == 0:
		return 0, false
	case v[0] == '"':
		var s string
		if json.Unmarshal(v, &s) != nil {
			return 0, false
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, false
		}
		code = n
	default:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || f != math.Trunc(f) || f < 0 || f > 1000 {
			return 0, false
		}
		code = int(f)
	}
	if code < 200 || code > 599 || http.StatusText(code) == "" {
		return 0, false
	}
	return code, true
}

// validHeaderName reports whether s is an HTTP token (RFC 9110 field
// name).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue reports whether s has no control characters other than
// horizontal tab (so it cannot split the header).
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
