package loadbalancer

import (
	"context"
	"errors"
	"time"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/messaging"
)

// The health test action (reference §5.3): a trivial action each
// controller stores at start and sends straight to an invoker that is
// unhealthy or unresponsive; its completion counts for the invoker's
// health like any activation's.

// HealthActionNamespace is the namespace of the health test action and of
// the stub identity that invokes it.
const HealthActionNamespace = "whisk.system"

// HealthActionCode is the health test action's code.
const HealthActionCode = "function main(params) { return params; }"

// HealthActionName is the name of controller controllerID's health test
// action: "invokerHealthTestAction<controllerID>".
func HealthActionName(controllerID string) entity.FQN {
	return entity.NewFQN(HealthActionNamespace, "", "invokerHealthTestAction"+controllerID)
}

// HealthTestAction builds controller controllerID's health test action,
// for the caller to create or update in the store at controller start: the
// default nodejs kind of m, HealthActionCode, 128 MB, the default other
// limits. Errors: entity.ErrInvalid when m has no default nodejs kind.
func HealthTestAction(controllerID string, m *entity.Manifest, now time.Time) (*entity.Action, error) {
	if m == nil {
		return nil, entity.Invalidf("health test action: no runtimes manifest")
	}
	k, ok := m.Resolve("nodejs:default")
	if !ok {
		return nil, entity.Invalidf("health test action: the runtimes manifest has no default nodejs kind")
	}
	mem := minInvokerSlotMB
	return entity.NewAction(HealthActionName(controllerID), entity.ActionPut{
		Exec:   &entity.Exec{Kind: k.Kind, Code: HealthActionCode},
		Limits: &entity.ActionLimitsPut{Memory: &mem},
	}, now.UnixMilli(), entity.DefaultSystemLimits())
}

// SendHealthAction publishes one non-blocking activation of action (the
// health test action) straight to invoker, with transaction id
// HealthTransactionID, a stub identity in HealthActionNamespace and no
// revision (the invoker reads the current action). It is not tracked in
// flight: its completion ack is recognised by its transaction id. A
// HealthAction hook typically calls it. Errors are the producer's.
func (s *Sharding) SendHealthAction(ctx context.Context, invoker int, action *entity.Action) error {
	if action == nil || invoker < 0 {
		return errors.New("loadbalancer: health action or invoker missing")
	}
	m := &messaging.ActivationMessage{
		TransID:             messaging.TransactionID{ID: HealthTransactionID, Start: s.cfg.Now().UnixMilli()},
		Action:              messaging.ActionRef{Path: action.Namespace, Name: action.Name, Version: action.Version},
		User:                s.healthID,
		ActivationID:        entity.NewActivationID(),
		RootControllerIndex: messaging.ControllerInstanceID{AsString: s.cfg.ControllerID},
	}
	return messaging.SendActivation(ctx, s.cfg.Producer, messaging.InvokerTopic(invoker), m)
}
