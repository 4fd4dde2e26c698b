package controller

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/gowhisk/gowhisk/entity"
)

// Messages of errors that have no entity kind.
const (
	msgInternal           = "The server encountered an internal error."
	msgMissingCredentials = "The resource requires authentication, which was not supplied with the request"
	wwwAuthenticate       = `Basic realm="OpenWhisk secure realm"`
)

// errorKinds maps each entity error kind to its HTTP status, in the order
// they are tested.
var errorKinds = [...]struct {
	kind   error
	status int
}{
	{entity.ErrNotFound, http.StatusNotFound},
	{entity.ErrExists, http.StatusConflict},
	{entity.ErrConflict, http.StatusConflict},
	{entity.ErrWrongCollection, http.StatusConflict},
	{entity.ErrInvalid, http.StatusBadRequest},
	{entity.ErrTooLarge, http.StatusRequestEntityTooLarge},
	{entity.ErrForbidden, http.StatusForbidden},
	{entity.ErrUnauthenticated, http.StatusUnauthorized},
	{entity.ErrThrottled, http.StatusTooManyRequests},
	{entity.ErrUnavailable, http.StatusServiceUnavailable},
}

// errorStatus returns the HTTP status and the user-facing message of err:
// the kind's status and err.Error() for kinded errors, else 500 and a
// generic message (internal is then true).
func errorStatus(err error) (status int, msg string, internal bool) {
	for _, k := range errorKinds {
		if errors.Is(err, k.kind) {
			return k.status, err.Error(), false
		}
	}
	return http.StatusInternalServerError, msgInternal, true
}

// abort ends the request with the OpenWhisk error body for err:
// {"error": <message>, "code": <transaction id>}. It is the one place
// entity errors become HTTP statuses (see errorStatus). A 401 carries the
// WWW-Authenticate challenge; an internal error is logged with its cause.
func (s *Server) abort(c *gin.Context, err error) {
	status, msg, internal := errorStatus(err)
	if internal {
		s.log.Error("internal error", "tid", transactionID(c), "method", c.Request.Method,
			"path", c.Request.URL.Path, "err", err)
	}
	if status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", wwwAuthenticate)
	}
	s.writeError(c, status, msg)
}

// writeError ends the request with status and the OpenWhisk error body.
func (s *Server) writeError(c *gin.Context, status int, msg string) {
	c.Abort()
	c.PureJSON(status, errorBody{Error: msg, Code: transactionID(c)})
}

type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// methodNotAllowed answers a route that exists for other methods.
func (s *Server) methodNotAllowed(c *gin.Context) {
	msg := "HTTP method not allowed"
	if allow := c.Writer.Header().Get("Allow"); allow != "" {
		msg += ", supported methods: " + allow
	}
	s.writeError(c, http.StatusMethodNotAllowed, msg)
}
