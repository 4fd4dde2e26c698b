package controller

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/gowhisk/gowhisk/entity"
)

// Messages of the activation routes (OpenWhisk Messages.scala).
const (
	msgActivationIDIllegal = "The activation id is not valid."
	msgDocsWithCount       = "The parameter 'docs' is not permitted with 'count'."
)

func (s *Server) registerActivationRoutes(ns *gin.RouterGroup) {
	ns.GET("/activations", s.handleListActivations)
	ns.GET("/activations/", s.handleListActivations)
	ns.GET("/activations/:id", s.handleGetActivation)
	ns.GET("/activations/:id/result", s.handleActivationResult)
	ns.GET("/activations/:id/logs", s.handleActivationLogs)
}

// checkActivationID validates an activation id of a URL: 32 lowercase hex
// characters, with OpenWhisk's messages.
func checkActivationID(id string) error {
	if len(id) != 32 {
		return entity.Invalidf("Activation id length is %d but must be 32.", len(id))
	}
	if !entity.ValidActivationID(id) {
		return entity.Invalidf(msgActivationIDIllegal)
	}
	return nil
}

// activationListQuery is the parsed query of GET /activations.
type activationListQuery struct {
	q     entity.ActivationQuery
	docs  bool
	count bool
}

// parseNameFilter validates the name query value: "action" or
// "pkg/action"; blank means no filter.
func parseNameFilter(v string) (string, error) {
	if strings.TrimSpace(v) == "" {
		return "", nil
	}
	if !entity.EntityPath(v).Valid() {
		return "", entity.Invalidf("The query parameter 'name' was malformed:\nParameter may be a 'simple' name or 'package-name/simple' name: %s", v)
	}
	return v, nil
}

// parseEpoch reads an epoch-milliseconds query value.
func parseEpoch(name, v string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0, entity.Invalidf("The query parameter '%s' was malformed:\nParameter is not a valid value for epoch seconds: %s", name, v)
	}
	return n, nil
}

func parseActivationList(c *gin.Context) (activationListQuery, error) {
	var out activationListQuery
	lq, count, err := parseListQuery(c, "activations")
	if err != nil {
		return out, err
	}
	out.count = count
	out.q.Skip, out.q.Limit = lq.Skip, lq.Limit
	if out.docs, err = boolQuery(c, "docs", false); err != nil {
		return out, err
	}
	if out.q.Name, err = parseNameFilter(c.Query("name")); err != nil {
		return out, err
	}
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"since", &out.q.Since}, {"upto", &out.q.Upto}} {
		if v, ok := c.GetQuery(p.name); ok {
			if *p.dst, err = parseEpoch(p.name, v); err != nil {
				return out, err
			}
		}
	}
	if out.docs && out.count {
		return out, entity.Invalidf(msgDocsWithCount)
	}
	return out, nil
}

// handleListActivations answers GET /activations: summaries, full records
// with docs=true, or {"activations": N} with count=true.
func (s *Server) handleListActivations(c *gin.Context) {
	ns, own := s.resolveNamespace(c)
	if !own {
		s.abort(c, entity.ErrForbidden)
		return
	}
	lq, err := parseActivationList(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	if lq.count {
		n, err := s.cfg.Activations.Count(ctx(c), ns, lq.q)
		if err != nil {
			s.abort(c, err)
			return
		}
		respond(c, http.StatusOK, map[string]int{"activations": n})
		return
	}
	recs, err := s.cfg.Activations.List(ctx(c), ns, lq.q)
	if err != nil {
		s.abort(c, err)
		return
	}
	out := make([]any, 0, len(recs))
	for _, a := range recs {
		if lq.docs {
			out = append(out, a.API())
		} else {
			out = append(out, a.Summary())
		}
	}
	respond(c, http.StatusOK, out)
}

// activationByID reads the activation of the :id of the URL in the
// caller's namespace.
func (s *Server) activationByID(c *gin.Context) (*entity.Activation, error) {
	ns, own := s.resolveNamespace(c)
	if !own {
		return nil, entity.ErrForbidden
	}
	id := c.Param("id")
	if err := checkActivationID(id); err != nil {
		return nil, err
	}
	a, err := s.cfg.Activations.Get(ctx(c), ns, id)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, fmt.Errorf("activation store returned no record for %s", id)
	}
	return a, nil
}

func (s *Server) handleGetActivation(c *gin.Context) {
	a, err := s.activationByID(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	respond(c, http.StatusOK, a.API())
}

func (s *Server) handleActivationResult(c *gin.Context) {
	a, err := s.activationByID(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	respond(c, http.StatusOK, a.Response.APIResponse())
}

func (s *Server) handleActivationLogs(c *gin.Context) {
	a, err := s.activationByID(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	logs := a.Logs
	if logs == nil {
		logs = []string{}
	}
	respond(c, http.StatusOK, map[string][]string{"logs": logs})
}
