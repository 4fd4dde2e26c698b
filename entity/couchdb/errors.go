package couchdb

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	kivik "github.com/go-kivik/kivik/v4"

	"github.com/gowhisk/gowhisk/entity"
)

// kindForStatus maps an HTTP status from CouchDB to an entity error kind,
// or nil if the status is not one the callers distinguish. A 409 means
// ErrConflict here; a create turns it into ErrExists itself.
func kindForStatus(status int) error {
	switch status {
	case http.StatusNotFound:
		return entity.ErrNotFound
	case http.StatusConflict, http.StatusPreconditionFailed:
		return entity.ErrConflict
	case http.StatusBadRequest:
		return entity.ErrInvalid
	case http.StatusRequestEntityTooLarge:
		return entity.ErrTooLarge
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		// kivik reports a failed connection as 502.
		return entity.ErrUnavailable
	}
	return nil
}

// transientStatus reports whether a request that failed with status may
// succeed if sent again (server overloaded, unreachable or failing).
func transientStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// storeError wraps an error of operation op in the entity error kind of
// its HTTP status. ErrNotFound and ErrConflict are returned bare, as their
// messages are the ones API users see. A cancelled context stays a context
// error.
func storeError(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("couchdb %s: %w", op, err)
	}
	switch k := kindForStatus(kivik.HTTPStatus(err)); k {
	case nil:
		return fmt.Errorf("couchdb %s: %w", op, err)
	case entity.ErrNotFound, entity.ErrConflict:
		return k
	default:
		return entity.Errorf(k, "couchdb %s: %v", op, err)
	}
}

// isStatus reports whether err carries the HTTP status.
func isStatus(err error, status int) bool {
	return err != nil && kivik.HTTPStatus(err) == status
}
