package controller

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/gowhisk/gowhisk/entity"
)

// respondList answers a collection GET over the store: with count, the
// number of documents of kind k under path as {"<collection>": N}; else the
// page q of them, each turned into its list row by row (documents it
// rejects are left out).
func respondList[T any](s *Server, c *gin.Context, k entity.Kind, path entity.EntityPath, q entity.ListQuery, count bool,
	row func(entity.Document) (T, bool)) {
	if count {
		n, err := s.cfg.Entities.Count(ctx(c), k, path)
		if err != nil {
			s.abort(c, err)
			return
		}
		respond(c, http.StatusOK, map[string]int{k.Collection(): n})
		return
	}
	docs, err := s.cfg.Entities.List(ctx(c), k, path, q)
	if err != nil {
		s.abort(c, err)
		return
	}
	out := make([]T, 0, len(docs))
	for _, d := range docs {
		if r, ok := row(d); ok {
			out = append(out, r)
		}
	}
	respond(c, http.StatusOK, out)
}

// listOwn answers GET on a collection that only its namespace's owner may
// list (403 for another namespace): the count or a page of rows.
func listOwn[T any](s *Server, c *gin.Context, k entity.Kind, row func(entity.Document) (T, bool)) {
	ns, own := s.resolveNamespace(c)
	if !own {
		s.abort(c, entity.ErrForbidden)
		return
	}
	q, count, err := parseListQuery(c, k.Collection())
	if err != nil {
		s.abort(c, err)
		return
	}
	respondList(s, c, k, entity.EntityPath(ns), q, count, row)
}

// putRequest is what every entity PUT reads before its own checks: the
// overwrite query, the caller and the caller's effective limits.
type putRequest struct {
	overwrite bool
	id        entity.Identity
	sys       entity.SystemLimits
}

// readPut reads the overwrite query, the caller and its limits, and decodes
// the body (at most maxBody(limits) bytes) into a T. ok is false when the
// request was answered with an error.
func readPut[T any](s *Server, c *gin.Context, maxBody func(entity.SystemLimits) int64) (put T, r putRequest, ok bool) {
	overwrite, err := boolQuery(c, "overwrite", false)
	if err != nil {
		s.abort(c, err)
		return put, r, false
	}
	r = putRequest{overwrite: overwrite, id: callerIdentity(c)}
	r.sys = s.cfg.Limits.Effective(r.id.Limits)
	if err := s.readJSON(c, maxBody(r.sys), &put); err != nil {
		s.abort(c, err)
		return put, r, false
	}
	return put, r, true
}
