package controller

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
)

// Invoker states as GET /invokers shows them (OpenWhisk's
// InvokerState.asString).
const (
	InvokerUp           = "up"
	InvokerDown         = "down"
	InvokerUnhealthy    = "unhealthy"
	InvokerUnresponsive = "unresponsive"
)

// InvokerStatus is one invoker as the load balancer sees it.
type InvokerStatus struct {
	Name   string // "invoker0"
	Status string // InvokerUp, InvokerDown, InvokerUnhealthy or InvokerUnresponsive
}

// invokerReadiness is the fraction of healthy invokers GET /invokers/ready
// requires (OpenWhisk's whisk.controller.readiness-fraction, 100%).
const invokerReadiness = 1.0

// registerInvokerRoutes adds the unauthenticated invoker health routes of
// reference §1.2.
func (s *Server) registerInvokerRoutes(e *gin.Engine) {
	e.GET("/invokers", s.handleInvokers)
	e.GET("/invokers/healthy/count", s.handleHealthyCount)
	e.GET("/invokers/ready", s.handleInvokersReady)
}

// invokers is Config.Invokers(), or none (a deployment without invoker
// health, like OpenWhisk's lean balancer).
func (s *Server) invokers() []InvokerStatus {
	if s.cfg.Invokers == nil {
		return nil
	}
	return s.cfg.Invokers()
}

// handleInvokers answers GET /invokers: {"invoker0":"up",...}.
func (s *Server) handleInvokers(c *gin.Context) {
	all := s.invokers()
	out := make(map[string]string, len(all))
	for _, inv := range all {
		out[inv.Name] = inv.Status
	}
	respond(c, http.StatusOK, out)
}

// handleHealthyCount answers GET /invokers/healthy/count: the number of
// invokers that are up.
func (s *Server) handleHealthyCount(c *gin.Context) {
	healthy, _ := countHealthy(s.invokers())
	respond(c, http.StatusOK, healthy)
}

// handleInvokersReady answers GET /invokers/ready: 200 {"healthy":"n/m"}
// when the healthy fraction reaches the readiness fraction, else 500
// {"unhealthy":"k/m"} (k = m - n). Without invokers it is not ready.
func (s *Server) handleInvokersReady(c *gin.Context) {
	healthy, all := countHealthy(s.invokers())
	status, body := invokersReady(healthy, all, invokerReadiness)
	respond(c, status, body)
}

// countHealthy returns how many of invs are up, and how many there are.
func countHealthy(invs []InvokerStatus) (healthy, all int) {
	for _, inv := range invs {
		if inv.Status == InvokerUp {
			healthy++
		}
	}
	return healthy, len(invs)
}

// invokersReady decides the answer of GET /invokers/ready (OpenWhisk's
// Controller.readyState): ready when there is an invoker and at least
// fraction of them are healthy.
func invokersReady(healthy, all int, fraction float64) (int, map[string]string) {
	if all > 0 && float64(healthy)/float64(all) >= fraction {
		return http.StatusOK, map[string]string{"healthy": strconv.Itoa(healthy) + "/" + strconv.Itoa(all)}
	}
	return http.StatusInternalServerError, map[string]string{"unhealthy": strconv.Itoa(all-healthy) + "/" + strconv.Itoa(all)}
}
