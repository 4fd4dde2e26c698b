// Package loadbalancer schedules activations on invokers for the
// controller (it implements controller.Activator): it publishes
// ActivationMessages on invoker<N>, keeps the in-flight bookkeeping of
// every activation (OpenWhisk's CommonLoadBalancer) and resolves blocking
// waiters from the acks on completed<controller>.
//
// This file holds the pure decisions; lean.go is the shell of the lean
// balancer (one in-process invoker, standalone mode).
package loadbalancer

import (
	"time"

	"github.com/gowhisk/gowhisk/controller"
	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/messaging"
)

// Forced-completion defaults (whisk.loadbalancer.timeout-factor and
// timeout-addon; the floor is the 60 s of CommonLoadBalancer).
const (
	DefaultTimeoutFloor  = 60 * time.Second
	DefaultTimeoutFactor = 2
	DefaultTimeoutAddon  = time.Minute
)

// forcedTimeout is how long an activation may stay in flight before the
// balancer completes it without an ack: max(action timeout, floor) ×
// factor + addon (3 min for a 60 s action with the defaults).
func forcedTimeout(actionTimeout, floor time.Duration, factor int, addon time.Duration) time.Duration {
	return max(actionTimeout, floor)*time.Duration(factor) + addon
}

// defaultTimeouts sets the forced-completion parameters left at zero (or
// below) to DefaultTimeoutFloor, DefaultTimeoutFactor and
// DefaultTimeoutAddon.
func defaultTimeouts(floor *time.Duration, factor *int, addon *time.Duration) {
	if *floor <= 0 {
		*floor = DefaultTimeoutFloor
	}
	if *factor <= 0 {
		*factor = DefaultTimeoutFactor
	}
	if *addon <= 0 {
		*addon = DefaultTimeoutAddon
	}
}

// ackEffect is what an ack does to an in-flight activation.
type ackEffect struct {
	deliver bool // send the ack's record to the blocking waiter
	close   bool // close the waiter's channel (after delivering, if any)
	release bool // drop the entry and release its slot
}

// classifyAck decides what an ack of kind does to an entry: a result
// answers a blocking waiter that is still unanswered (with the record if
// the ack carries one, else by closing the channel so the controller reads
// the store); a completion frees the slot and closes a waiter that never
// got a result.
func classifyAck(kind messaging.AckKind, blocking, answered, hasRecord bool) ackEffect {
	var e ackEffect
	carriesResult := kind == messaging.AckResult || kind == messaging.AckCombined
	freesSlot := kind == messaging.AckCompletion || kind == messaging.AckCombined
	if blocking && !answered && carriesResult {
		e.deliver = hasRecord
		e.close = true
	}
	if freesSlot {
		e.release = true
		if blocking && !answered {
			e.close = true
		}
	}
	return e
}

// activationMessage builds the ActivationMessage for req, sent by
// controller controllerID. received stands in for req.Received when that
// is zero.
func activationMessage(req *controller.ActivationRequest, controllerID string, received time.Time) *messaging.ActivationMessage {
	a := req.Action
	if !req.Received.IsZero() {
		received = req.Received
	}
	m := &messaging.ActivationMessage{
		TransID:             messaging.TransactionID{ID: req.TransactionID, Start: received.UnixMilli()},
		Action:              messaging.ActionRef{Path: a.Namespace, Name: a.Name, Version: a.Version, Binding: req.Binding},
		Revision:            a.Revision(),
		User:                req.Identity,
		ActivationID:        req.ActivationID,
		RootControllerIndex: messaging.ControllerInstanceID{AsString: controllerID},
		Blocking:            req.Blocking,
		Content:             req.Args,
		Cause:               req.Cause,
	}
	m.InitArgs, m.LockedArgs = argNames(a.Parameters)
	return m
}

// argNames lists the parameters passed to /init and the encrypted ones.
func argNames(ps entity.Params) (initArgs []string, locked map[string]string) {
	for _, p := range ps {
		if p.Init {
			initArgs = append(initArgs, p.Key)
		}
		if p.Encryption != "" {
			if locked == nil {
				locked = map[string]string{}
			}
			locked[p.Key] = p.Encryption
		}
	}
	return initArgs, locked
}
