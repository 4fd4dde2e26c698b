package controller

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/gowhisk/gowhisk/entity"
)

// Messages of the package routes (OpenWhisk Messages.scala).
const (
	msgBindingDoesNotExist   = "Binding references a package that does not exist."
	msgBindingOfBinding      = "Cannot bind to another package binding."
	msgBindingNotPackage     = "Cannot bind to a resource that is not a package."
	msgPackageCannotBind     = "Resource is a package and cannot be converted into a binding."
	msgBindingCannotBePkg    = "Resource is a binding and cannot be converted into a package."
	reservedPackageName      = "default"
	packageBodyParamSlackMax = 1 << 20
)

func (s *Server) registerPackageRoutes(ns *gin.RouterGroup) {
	ns.GET("/packages", s.handleListPackages)
	ns.GET("/packages/", s.handleListPackages)
	ns.GET("/packages/:name", s.handleGetPackage)
	ns.PUT("/packages/:name", s.handlePutPackage)
	ns.DELETE("/packages/:name", s.handleDeletePackage)
}

// packageTarget resolves the namespace and the package name of a route.
func (s *Server) packageTarget(c *gin.Context) (fqn entity.FQN, own bool, err error) {
	ns, own := s.resolveNamespace(c)
	name := c.Param("name")
	if !entity.ValidName(name) || !entity.ValidName(ns) {
		return fqn, own, entity.Invalidf(entity.MsgIllegalName)
	}
	return entity.NewFQN(ns, "", name), own, nil
}

// handleListPackages answers GET /packages: all packages of the caller's
// own namespace, or the published packages (not bindings) of another.
func (s *Server) handleListPackages(c *gin.Context) {
	ns, own := s.resolveNamespace(c)
	q, count, err := parseListQuery(c, "packages")
	if err != nil {
		s.abort(c, err)
		return
	}
	if !entity.ValidName(ns) {
		s.abort(c, entity.Invalidf(entity.MsgIllegalName))
		return
	}
	path := entity.EntityPath(ns)
	if own {
		respondList(s, c, entity.KindPackage, path, q, count, func(d entity.Document) (entity.PackageSummary, bool) {
			p, ok := d.(*entity.Package)
			if !ok {
				return entity.PackageSummary{}, false
			}
			return p.Summary(), true
		})
		return
	}
	// Foreign namespace: filter all packages to the public ones, then page.
	docs, err := s.cfg.Entities.List(ctx(c), entity.KindPackage, path, entity.ListQuery{})
	if err != nil {
		s.abort(c, err)
		return
	}
	public := publicPackages(docs)
	if count {
		respond(c, http.StatusOK, map[string]int{"packages": len(public)})
		return
	}
	respond(c, http.StatusOK, page(public, q))
}

// publicPackages returns the list rows of the published packages (not
// bindings) among docs: what another namespace may list.
func publicPackages(docs []entity.Document) []entity.PackageSummary {
	out := make([]entity.PackageSummary, 0, len(docs))
	for _, d := range docs {
		p, ok := d.(*entity.Package)
		if !ok || !p.Publish || p.Binding.IsBinding() {
			continue
		}
		out = append(out, p.Summary())
	}
	return out
}

// page applies skip and limit to a list already in memory.
func page[T any](list []T, q entity.ListQuery) []T {
	if q.Skip >= len(list) {
		return list[:0]
	}
	list = list[q.Skip:]
	if q.Limit > 0 && q.Limit < len(list) {
		list = list[:q.Limit]
	}
	return list
}

// handleGetPackage answers GET /packages/{name}: the package with its
// actions and feeds; a binding with parameters merged over the bound
// package's and the bound package's actions.
func (s *Server) handleGetPackage(c *gin.Context) {
	fqn, _, err := s.packageTarget(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	if err := s.packageReadable(ctx(c), callerIdentity(c), fqn); err != nil {
		s.abort(c, err)
		return
	}
	d, err := s.cfg.Entities.Get(ctx(c), entity.KindPackage, fqn)
	if err != nil {
		s.abort(c, err)
		return
	}
	p := *d.(*entity.Package)
	contents := fqn
	if p.Binding.IsBinding() {
		target, err := s.cfg.Entities.Get(ctx(c), entity.KindPackage, p.Binding.FQN())
		if err != nil {
			s.abort(c, err)
			return
		}
		p.Parameters = target.(*entity.Package).Parameters.Merge(p.Parameters)
		contents = p.Binding.FQN()
	}
	p.Actions, p.Feeds, err = s.packageContents(ctx(c), contents)
	if err != nil {
		s.abort(c, err)
		return
	}
	respond(c, http.StatusOK, packageWithContents{Package: &p, Actions: nonNil(p.Actions), Feeds: nonNil(p.Feeds)})
}

// packageWithContents is the GET form of a package: its actions and feeds
// are always present, as empty arrays if there are none.
type packageWithContents struct {
	*entity.Package
	Actions []entity.EntityBrief `json:"actions"`
	Feeds   []entity.EntityBrief `json:"feeds"`
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// packageContents lists the actions of package pkg split into actions and
// feeds (actions with a feed annotation).
func (s *Server) packageContents(ctx context.Context, pkg entity.FQN) (actions, feeds []entity.EntityBrief, err error) {
	docs, err := s.cfg.Entities.List(ctx, entity.KindAction, entity.EntityPath(pkg.DocID()), entity.ListQuery{})
	if err != nil {
		return nil, nil, err
	}
	for _, d := range docs {
		a, ok := d.(*entity.Action)
		if !ok {
			continue
		}
		b := entity.EntityBrief{Name: a.Name, Version: a.Version, Annotations: a.Annotations}
		if a.Annotations.Has(entity.AnnotationFeed) {
			feeds = append(feeds, b)
		} else {
			actions = append(actions, b)
		}
	}
	return actions, feeds, nil
}

// handlePutPackage answers PUT /packages/{name}: create, or update with
// overwrite=true; a body with a binding creates a package binding.
func (s *Server) handlePutPackage(c *gin.Context) {
	fqn, own, err := s.packageTarget(c)
	if err == nil && !own {
		err = entity.ErrForbidden
	}
	if err == nil && fqn.Name == reservedPackageName {
		err = entity.Invalidf("Package name '%s' is reserved.", reservedPackageName)
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	put, r, ok := readPut[entity.PackagePut](s, c, packageBodyMax)
	if !ok {
		return
	}
	p, err := s.savePackage(ctx(c), r.id, fqn, put, r.overwrite, r.sys)
	if err != nil {
		s.abort(c, err)
		return
	}
	respond(c, http.StatusOK, p)
}

// packageBodyMax bounds the body of a package PUT: the parameter and
// annotation limits and slack for the JSON around them.
func packageBodyMax(sys entity.SystemLimits) int64 {
	return 2*int64(sys.ParameterSizeMax) + packageBodyParamSlackMax
}

// savePackage validates put and creates or updates the package fqn.
func (s *Server) savePackage(ctx context.Context, id entity.Identity, fqn entity.FQN, put entity.PackagePut, overwrite bool, sys entity.SystemLimits) (*entity.Package, error) {
	explicitNoBinding := put.Binding != nil && !put.Binding.IsBinding()
	if explicitNoBinding {
		put.Binding = nil
	}
	if put.Binding != nil {
		if put.Binding.Namespace == "" || put.Binding.Namespace == entity.DefaultNamespace {
			put.Binding.Namespace = fqn.Namespace()
		}
		if err := s.checkBinding(ctx, id, put.Binding.FQN()); err != nil {
			return nil, err
		}
	}
	if put.Annotations != nil {
		ann := put.Annotations.Without(entity.AnnotationBinding)
		put.Annotations = &ann
	}
	existing, err := s.cfg.Entities.Get(ctx, entity.KindPackage, fqn)
	var p *entity.Package
	switch {
	case errors.Is(err, entity.ErrNotFound):
		p = entity.NewPackage(fqn, put, s.now())
	case err != nil:
		return nil, err
	case !overwrite:
		return nil, entity.ErrExists
	default:
		old := existing.(*entity.Package)
		if put.Binding != nil && !old.Binding.IsBinding() {
			return nil, entity.Errorf(entity.ErrConflict, msgPackageCannotBind)
		}
		if explicitNoBinding && old.Binding.IsBinding() {
			return nil, entity.Errorf(entity.ErrConflict, msgBindingCannotBePkg)
		}
		if put.Annotations == nil {
			// Annotations are kept; the binding annotation is rewritten.
			ann := old.Annotations.Without(entity.AnnotationBinding)
			put.Annotations = &ann
		}
		p = old.Update(put, s.now())
		p.SetRevision(old.Revision())
	}
	if err := entity.CheckSizes(0, p.Parameters, p.Annotations, sys); err != nil {
		return nil, err
	}
	rev, err := s.cfg.Entities.Put(ctx, p)
	s.Invalidate(entity.KindPackage, fqn)
	if err != nil {
		return nil, err
	}
	p.SetRevision(rev)
	return p, nil
}

// checkBinding validates the target of a binding: an existing package
// (400 otherwise; 409 if the name is another kind of entity) that is not
// itself a binding and that the caller may read.
func (s *Server) checkBinding(ctx context.Context, id entity.Identity, target entity.FQN) error {
	if !target.Valid() {
		return entity.Invalidf(entity.MsgIllegalName)
	}
	d, err := s.cfg.Entities.Get(ctx, entity.KindPackage, target)
	switch {
	case errors.Is(err, entity.ErrNotFound):
		return entity.Invalidf(msgBindingDoesNotExist)
	case errors.Is(err, entity.ErrWrongCollection):
		return entity.Errorf(entity.ErrConflict, msgBindingNotPackage)
	case err != nil:
		return err
	}
	if d.(*entity.Package).Binding.IsBinding() {
		return entity.Invalidf(msgBindingOfBinding)
	}
	return s.packageReadable(ctx, id, target)
}

// handleDeletePackage answers DELETE /packages/{name}: a binding, or a
// package that is empty or (force=true) whose actions are deleted first.
func (s *Server) handleDeletePackage(c *gin.Context) {
	fqn, own, err := s.packageTarget(c)
	if err == nil && !own {
		err = entity.ErrForbidden
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	force, err := boolQuery(c, "force", false)
	if err != nil {
		s.abort(c, err)
		return
	}
	d, err := s.cfg.Entities.Get(ctx(c), entity.KindPackage, fqn)
	if err != nil {
		s.abort(c, err)
		return
	}
	p := d.(*entity.Package)
	if !p.Binding.IsBinding() {
		if err := s.emptyPackage(ctx(c), fqn, force); err != nil {
			s.abort(c, err)
			return
		}
	}
	err = s.cfg.Entities.Delete(ctx(c), entity.KindPackage, fqn, p.Revision())
	s.Invalidate(entity.KindPackage, fqn)
	if err != nil {
		s.abort(c, err)
		return
	}
	respond(c, http.StatusOK, p)
}

// emptyPackage deletes the actions of package pkg when force is set, and
// otherwise fails with 409 if it has any.
func (s *Server) emptyPackage(ctx context.Context, pkg entity.FQN, force bool) error {
	path := entity.EntityPath(pkg.DocID())
	docs, err := s.cfg.Entities.List(ctx, entity.KindAction, path, entity.ListQuery{})
	if err != nil {
		return err
	}
	if len(docs) == 0 {
		return nil
	}
	if !force {
		noun := "entities"
		if len(docs) == 1 {
			noun = "entity"
		}
		return entity.Errorf(entity.ErrConflict, "Package not empty (contains %d %s). Set force param or delete package contents.", len(docs), noun)
	}
	for _, d := range docs {
		name := d.FullName()
		err := s.cfg.Entities.Delete(ctx, entity.KindAction, name, "")
		s.Invalidate(entity.KindAction, name)
		if err != nil && !errors.Is(err, entity.ErrNotFound) {
			return err
		}
	}
	return nil
}
