package couchdb

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/gowhisk/gowhisk/entity"
)

// statusErr is an error carrying an HTTP status the way kivik's do.
type statusErr int

func (e statusErr) Error() string   { return fmt.Sprintf("status %d", int(e)) }
func (e statusErr) HTTPStatus() int { return int(e) }

func TestStoreError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		kind error // nil: no entity kind
	}{
		{"not found", statusErr(http.StatusNotFound), entity.ErrNotFound},
		{"conflict", statusErr(http.StatusConflict), entity.ErrConflict},
		{"precondition failed", statusErr(http.StatusPreconditionFailed), entity.ErrConflict},
		{"bad request", statusErr(http.StatusBadRequest), entity.ErrInvalid},
		{"too large", statusErr(http.StatusRequestEntityTooLarge), entity.ErrTooLarge},
		{"connection failed (kivik 502)", statusErr(http.StatusBadGateway), entity.ErrUnavailable},
		{"unavailable", statusErr(http.StatusServiceUnavailable), entity.ErrUnavailable},
		{"overloaded", statusErr(http.StatusTooManyRequests), entity.ErrUnavailable},
		{"unauthorized is internal", statusErr(http.StatusUnauthorized), nil},
		{"server error is internal", statusErr(http.StatusInternalServerError), nil},
		{"plain error", errors.New("boom"), nil},
		{"wrapped status", fmt.Errorf("ctx: %w", statusErr(http.StatusNotFound)), entity.ErrNotFound},
	}
	kinds := []error{entity.ErrNotFound, entity.ErrConflict, entity.ErrInvalid, entity.ErrTooLarge, entity.ErrUnavailable, entity.ErrExists}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := storeError("op", tc.err)
			if got == nil {
				t.Fatal("storeError returned nil")
			}
			for _, k := range kinds {
				if errors.Is(got, k) != (k == tc.kind) {
					t.Errorf("storeError(%v) = %v; errors.Is(%q) = %v", tc.err, got, k, errors.Is(got, k))
				}
			}
		})
	}
	if storeError("op", nil) != nil {
		t.Error("storeError(nil) != nil")
	}
	// A cancelled request stays a context error, even though kivik
	// reports it as a 502.
	cancelled := fmt.Errorf("%w: %w", statusErr(http.StatusBadGateway), context.Canceled)
	if got := storeError("op", cancelled); !errors.Is(got, context.Canceled) || errors.Is(got, entity.ErrUnavailable) {
		t.Errorf("storeError(cancelled) = %v", got)
	}
	// Not found and conflict keep OpenWhisk's user-facing messages.
	if got := storeError("op", statusErr(http.StatusNotFound)); got.Error() != entity.ErrNotFound.Error() {
		t.Errorf("not found message = %q", got)
	}
}

func TestTransientStatus(t *testing.T) {
	for status, want := range map[int]bool{
		http.StatusOK: false, http.StatusBadRequest: false, http.StatusConflict: false, http.StatusNotFound: false,
		http.StatusUnauthorized: false, http.StatusRequestEntityTooLarge: false,
		http.StatusTooManyRequests: true, http.StatusInternalServerError: true, http.StatusBadGateway: true,
		http.StatusServiceUnavailable: true, http.StatusGatewayTimeout: true,
	} {
		if got := transientStatus(status); got != want {
			t.Errorf("transientStatus(%d) = %v, want %v", status, got, want)
		}
	}
}
