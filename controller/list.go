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
