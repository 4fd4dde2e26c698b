package entity

import (
	"errors"
	"fmt"
)

// Sentinel error kinds. Every error returned by this package and by the store
// adapters wraps one of these (or is a plain I/O error, which callers treat as
// an internal error). The controller maps them to HTTP statuses in one place.
var (
	// ErrNotFound: the document does not exist (HTTP 404).
	ErrNotFound = errors.New("The requested resource does not exist.")
	// ErrExists: a create-only write hit an existing document (HTTP 409).
	ErrExists = errors.New("resource already exists")
	// ErrConflict: a write carried a stale revision (HTTP 409).
	ErrConflict = errors.New("Concurrent modification to resource detected.")
	// ErrWrongCollection: the name exists as another kind of entity (HTTP 409).
	ErrWrongCollection = errors.New("Resource by this name exists but is not in this collection.")
	// ErrInvalid: the request is malformed or violates a rule (HTTP 400).
	ErrInvalid = errors.New("invalid request")
	// ErrTooLarge: a size limit was exceeded (HTTP 413).
	ErrTooLarge = errors.New("request entity too large")
	// ErrForbidden: the identity may not do this (HTTP 403).
	ErrForbidden = errors.New("The supplied authentication is not authorized to access this resource.")
	// ErrUnauthenticated: missing or wrong credentials (HTTP 401).
	ErrUnauthenticated = errors.New("The supplied authentication is invalid.")
	// ErrThrottled: a namespace throttle was exceeded (HTTP 429).
	ErrThrottled = errors.New("Too many requests.")
	// ErrUnavailable: no invoker or backing service can take the work (HTTP 503).
	ErrUnavailable = errors.New("No invokers available")
)

// kindError is an error with a user-facing message that wraps a sentinel kind.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// Errorf returns an error of the given sentinel kind whose message (the text
// an API user sees) is the formatted string.
func Errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// Invalidf returns an ErrInvalid error with the given user-facing message.
func Invalidf(format string, args ...any) error { return Errorf(ErrInvalid, format, args...) }
