package controller

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/gowhisk/gowhisk/entity"
)

func (s *Server) registerLimitRoutes(ns *gin.RouterGroup) {
	ns.GET("/limits", s.handleGetLimits)
}

// handleGetLimits answers GET /namespaces/{ns}/limits: the caller's
// namespace limits with the system defaults filled in.
func (s *Server) handleGetLimits(c *gin.Context) {
	if _, own := s.resolveNamespace(c); !own {
		s.abort(c, entity.ErrForbidden)
		return
	}
	respond(c, http.StatusOK, effectiveUserLimits(s.cfg.Limits, callerIdentity(c).Limits))
}

// effectiveUserLimits fills the unset fields of a namespace's limits with
// the system's: throttles, action limit ranges and size limits. The
// namespace-only settings (allowedKinds, storeActivations, instances and
// warm-container settings) stay as set.
func effectiveUserLimits(sys entity.SystemLimits, u entity.UserLimits) entity.UserLimits {
	eff := sys.Effective(u)
	out := u
	ptr := func(v int) *int { return &v }
	out.InvocationsPerMinute = ptr(eff.InvocationsPerMinute)
	out.ConcurrentInvocations = ptr(eff.ConcurrentInvocations)
	out.FiresPerMinute = ptr(eff.FiresPerMinute)
	out.MinActionMemory = ptr(eff.Memory.Min)
	out.MaxActionMemory = ptr(eff.Memory.Max)
	out.MinActionLogs = ptr(eff.Logs.Min)
	out.MaxActionLogs = ptr(eff.Logs.Max)
	out.MinActionTimeout = ptr(eff.Timeout.Min)
	out.MaxActionTimeout = ptr(eff.Timeout.Max)
	out.MinActionConcurrency = ptr(eff.Concurrency.Min)
	out.MaxActionConcurrency = ptr(eff.Concurrency.Max)
	out.MaxParameterSize = ptr(eff.ParameterSizeMax)
	out.MaxPayloadSize = ptr(eff.PayloadMax)
	out.TruncationSize = ptr(eff.TruncationSize)
	return out
}
