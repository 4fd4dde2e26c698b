package controller

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/gowhisk/gowhisk/entity"
)

// Context keys and headers.
const (
	keyTransactionID = "gowhisk.tid"
	keyIdentity      = "gowhisk.identity"
	headerRequestID  = "X-Request-ID"
)

// List paging bounds (OpenWhisk whisk.query-limit).
const (
	listLimitDefault = 30
	listLimitMax     = 200
)

// transactionID returns the request's transaction id: the X-Request-ID
// header if present and not starting with "sid_", else 32 random
// alphanumerics. It is computed once per request and echoed on every
// response by the request middleware.
func transactionID(c *gin.Context) string {
	if v, ok := c.Get(keyTransactionID); ok {
		return v.(string)
	}
	tid := c.GetHeader(headerRequestID)
	if tid == "" || strings.HasPrefix(tid, "sid_") || len(tid) > 256 || !printableASCII(tid) {
		tid = randomAlnum(32)
	}
	c.Set(keyTransactionID, tid)
	return tid
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func randomAlnum(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/2)
	for len(out) < n {
		_, _ = rand.Read(buf)
		for _, b := range buf {
			if b < 248 && len(out) < n { // 248 = 4*62 keeps the choice uniform
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out)
}

// callerIdentity returns the identity the auth middleware authenticated.
// It is the zero Identity on routes without auth.
func callerIdentity(c *gin.Context) entity.Identity {
	if v, ok := c.Get(keyIdentity); ok {
		return v.(entity.Identity)
	}
	return entity.Identity{}
}

// resolveNamespace returns the :namespace of the URL with "_" replaced by
// the caller's namespace, and whether it is the caller's own namespace.
func (s *Server) resolveNamespace(c *gin.Context) (ns string, own bool) {
	caller := callerIdentity(c).Namespace.Name
	ns = c.Param("namespace")
	if ns == entity.DefaultNamespace {
		ns = caller
	}
	return ns, ns == caller && caller != ""
}

// ownNamespace resolves the URL namespace and aborts with 403 (returning
// ok false) unless it is the caller's own.
func (s *Server) ownNamespace(c *gin.Context) (ns string, ok bool) {
	ns, own := s.resolveNamespace(c)
	if !own {
		s.abort(c, entity.ErrForbidden)
		return "", false
	}
	return ns, true
}

// parseListQuery reads limit, skip and count of a list request on
// collection ("actions", "packages", ...). limit defaults to 30 and must be
// in 0..200 (0 means 200); skip must be >= 0; count is a boolean. Errors
// are ErrInvalid with OpenWhisk's messages.
func parseListQuery(c *gin.Context, collection string) (q entity.ListQuery, count bool, err error) {
	q.Limit = listLimitDefault
	if v, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return q, false, entity.Invalidf("The query parameter 'limit' was malformed:\n'%s' is not a valid 32-bit signed integer value", v)
		}
		if n < 0 || n > listLimitMax {
			return q, false, entity.Invalidf("The value '%d' is not in the range of 0 to %d for %s.", n, listLimitMax, collection)
		}
		if n == 0 {
			n = listLimitMax
		}
		q.Limit = n
	}
	if v, ok := c.GetQuery("skip"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return q, false, entity.Invalidf("The query parameter 'skip' was malformed:\n'%s' is not a valid 32-bit signed integer value", v)
		}
		if n < 0 {
			return q, false, entity.Invalidf("The value '%d' is not greater than or equal to 0 for %s.", n, collection)
		}
		q.Skip = n
	}
	count, err = boolQuery(c, "count", false)
	return q, count, err
}

// boolQuery reads the boolean query parameter name: "true" or "false"
// (case-insensitive), def when absent, ErrInvalid otherwise.
func boolQuery(c *gin.Context, name string, def bool) (bool, error) {
	v, ok := c.GetQuery(name)
	if !ok {
		return def, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, entity.Invalidf("The query parameter '%s' was malformed:\n'%s' is not a valid Boolean value", name, v)
}

// msgMalformed prefixes the detail of a body that does not decode.
const msgMalformed = "The request content was malformed:\n"

// readBody reads the request body, at most maxBytes: ErrTooLarge (413)
// when the declared or actual length is larger, without reading more
// than maxBytes+1 bytes.
func (s *Server) readBody(c *gin.Context, maxBytes int64) ([]byte, error) {
	r := c.Request
	if r.ContentLength > maxBytes {
		return nil, entity.Errorf(entity.ErrTooLarge, "Request larger than allowed: %d > %d bytes.", r.ContentLength, maxBytes)
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, r.Body, maxBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, entity.Errorf(entity.ErrTooLarge, "Request larger than allowed: more than %d bytes.", maxBytes)
		}
		return nil, entity.Invalidf(msgMalformed+"%v", err)
	}
	return body, nil
}

// readJSON decodes the request body (at most maxBytes, else ErrTooLarge)
// into v. An empty or all-whitespace body leaves v unchanged and returns
// nil (OpenWhisk accepts PUT without a body where every field is optional;
// callers needing a field check it). Malformed JSON, trailing data or a
// wrong field type give ErrInvalid "The request content was malformed:...".
func (s *Server) readJSON(c *gin.Context, maxBytes int64, v any) error {
	body, err := s.readBody(c, maxBytes)
	if err != nil {
		return err
	}
	return decodeJSON(body, v)
}

// decodeJSON is readJSON's decoding step on a body already read.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return entity.Invalidf(msgMalformed+"%s", decodeErrorText(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return entity.Invalidf(msgMalformed + "unexpected data after the JSON value")
	}
	return nil
}

func decodeErrorText(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		if typeErr.Field != "" {
			return fmt.Sprintf("field '%s' must be of type %s, not %s", typeErr.Field, typeErr.Type, typeErr.Value)
		}
		return fmt.Sprintf("expected %s, not %s", typeErr.Type, typeErr.Value)
	}
	return err.Error()
}

// respond writes v as JSON with status, without HTML escaping.
func respond(c *gin.Context, status int, v any) { c.PureJSON(status, v) }
