package controller

import (
	"context"
	"encoding/json"
	"time"

	"github.com/gowhisk/gowhisk/entity"
)

// ActivationRequest is one activation the controller hands to the load
// balancer: the fields of OpenWhisk's ActivationMessage (reference §5.5)
// that the controller decides.
type ActivationRequest struct {
	// ActivationID is the new activation's id (32 lowercase hex).
	ActivationID string
	// TransactionID is the request's transaction id.
	TransactionID string
	// Identity is the caller: the activation record's namespace and
	// subject, and the namespace whose throttles and limits apply.
	Identity entity.Identity
	// Action is the action to run, as stored (its FullName is the real
	// location, also when invoked through a binding; Revision is the store
	// revision the invoker should run), with Parameters already merged
	// package < binding < action. Parameters marked Init are passed to
	// /init only; they are also present in Args, and the invoker removes
	// them from the /run arguments.
	Action *entity.Action
	// Binding is the path of the package binding the action was invoked
	// through ("ns/binding"), or "" (the record's "binding" annotation).
	Binding entity.EntityPath
	// Args are the arguments of the run: a JSON object (the action's
	// merged parameters overridden by the request body) or, for an array
	// body, that JSON array unmerged.
	Args json.RawMessage
	// Blocking tells whether a caller waits for the result: only then the
	// activator must deliver the record on the returned channel.
	Blocking bool
	// Cause is the id of the activation that caused this one (a sequence
	// or conductor), or "".
	Cause string
	// Received is when the controller received the request (the start of
	// the record's waitTime).
	Received time.Time
}

// Activator schedules activations on invokers: the load-balancer seam.
type Activator interface {
	// Activate schedules the activation described by req and returns as
	// soon as it is accepted (queued for an invoker), without waiting for
	// it to run.
	//
	// For a blocking request (req.Blocking) the returned channel, buffered
	// so that the activator never blocks on it, later delivers the
	// activation's record (stored form) exactly once when the activation
	// completes. The activator closes the channel without a value if it
	// cannot deliver the record (the completion carried no record, or the
	// activation was forced complete); the controller then looks for the
	// record in the activation store until its wait ends. The controller
	// may stop waiting at any time (its blocking timeout elapsed, the
	// client went away): it then answers 202 with the activation id and
	// never reads the channel again, so the activator must not rely on a
	// reader. For a non-blocking request the channel may be nil.
	//
	// Errors: entity.ErrUnavailable when no invoker can take the
	// activation (HTTP 503 "No invokers available."); entity.ErrThrottled
	// when a namespace throttle (concurrent invocations) is exceeded (HTTP
	// 429, with the error's message); entity.ErrTooLarge when the message
	// is too large for the transport (HTTP 413); ctx's error when ctx ends
	// first. Any other error is an internal error (HTTP 500). On error no
	// activation was scheduled.
	Activate(ctx context.Context, req ActivationRequest) (<-chan *entity.Activation, error)
}

// InFlightCounter is implemented by an Activator that knows how many
// activations of a namespace it has in flight (the load balancers): the
// count of the concurrentInvocations throttle (reference §7.6). An
// activation counts from its acceptance until its slot is freed (its
// completion ack, or its forced completion).
type InFlightCounter interface {
	// NamespaceInFlight returns the number of in-flight activations whose
	// ActivationRequest.Identity has ThrottleKey key: its namespace's UUID.
	NamespaceInFlight(key string) int
}
