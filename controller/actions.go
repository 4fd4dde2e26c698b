package controller

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/gowhisk/gowhisk/entity"
)

// actionPath is the action catch-all of /actions/*name split into its
// package and name. Listing is true for "/" (the namespace's actions) and
// "/pkg/" (a package's actions; Package set, Name empty).
type actionPath struct {
	Package string
	Name    string
	Listing bool
}

// Messages of the action routes.
const (
	msgNotOnBinding        = "Operation not permitted on package binding."
	msgSequenceNoComponent = "Sequence component does not exist."
	msgSequenceSelf        = "Sequence may not refer to itself."
	msgSequenceTooLong     = "Too many actions in the sequence."
)

// parseActionPath parses the value of the *name catch-all ("/a",
// "/pkg/a", "/pkg/" or "/"). Illegal names give ErrInvalid with
// OpenWhisk's message; more segments give ErrNotFound (no such route).
func parseActionPath(raw string) (actionPath, error) {
	s := strings.TrimPrefix(raw, "/")
	if s == "" {
		return actionPath{Listing: true}, nil
	}
	parts := strings.Split(s, "/")
	switch {
	case len(parts) == 1:
		if !entity.ValidName(parts[0]) {
			return actionPath{}, entity.Invalidf(entity.MsgIllegalName)
		}
		return actionPath{Name: parts[0]}, nil
	case len(parts) == 2 && parts[1] == "":
		if !entity.ValidName(parts[0]) {
			return actionPath{}, entity.Invalidf(entity.MsgIllegalName)
		}
		return actionPath{Package: parts[0], Listing: true}, nil
	case len(parts) == 2:
		if !entity.ValidName(parts[0]) || !entity.ValidName(parts[1]) {
			return actionPath{}, entity.Invalidf(entity.MsgIllegalName)
		}
		return actionPath{Package: parts[0], Name: parts[1]}, nil
	}
	return actionPath{}, entity.ErrNotFound
}

// actionTarget resolves the namespace and the action path of an action
// route. For an entity route (not a listing) fqn is the action's name.
func (s *Server) actionTarget(c *gin.Context) (ns string, own bool, p actionPath, fqn entity.FQN, err error) {
	ns, own = s.resolveNamespace(c)
	p, err = parseActionPath(c.Param("name"))
	if err != nil {
		return ns, own, p, fqn, err
	}
	if !entity.ValidName(ns) {
		return ns, own, p, fqn, entity.Invalidf(entity.MsgIllegalName)
	}
	return ns, own, p, entity.NewFQN(ns, p.Package, p.Name), nil
}

func (s *Server) registerActionRoutes(ns *gin.RouterGroup) {
	ns.GET("/actions", s.handleListActions)
	ns.GET("/actions/*name", s.handleGetAction)
	ns.PUT("/actions/*name", s.handlePutAction)
	ns.DELETE("/actions/*name", s.handleDeleteAction)
}

// packageReadable reports whether id may read (and activate) the contents
// of the package named pkg: the owner may, and others may if the package is
// published; for a binding, the bound package must be readable too (a
// binding of a package that has since been unpublished gives no access).
// A missing package is the store's error (ErrNotFound, ErrWrongCollection)
// for its owner and ErrForbidden for others.
func (s *Server) packageReadable(ctx context.Context, id entity.Identity, pkg entity.FQN) error {
	for range 3 {
		own := pkg.Namespace() == id.Namespace.Name && id.Namespace.Name != ""
		p, err := s.getPackage(ctx, pkg)
		switch {
		case err != nil && own:
			return err
		case errors.Is(err, entity.ErrNotFound) || errors.Is(err, entity.ErrWrongCollection):
			return entity.ErrForbidden
		case err != nil:
			return err
		case !own && !p.Publish:
			return entity.ErrForbidden
		case !p.Binding.IsBinding():
			return nil
		}
		pkg = p.Binding.FQN()
	}
	return entity.ErrForbidden
}

// checkActionAccess decides whether id may read or activate the action
// named name: its own namespace's actions, or actions in packages readable
// by packageReadable. It returns ErrForbidden otherwise.
func (s *Server) checkActionAccess(ctx context.Context, id entity.Identity, name entity.FQN) error {
	if name.Package() == "" {
		if name.Namespace() == id.Namespace.Name && id.Namespace.Name != "" {
			return nil
		}
		return entity.ErrForbidden
	}
	return s.packageReadable(ctx, id, entity.FQN{Path: entity.EntityPath(name.Namespace()), Name: name.Package()})
}

// resolvedAction is an action as it is invoked: through a package binding
// resolved to the real action, with package (and binding) parameters
// merged under the action's own.
type resolvedAction struct {
	// Action is a private copy with merged Parameters (safe to modify).
	Action *entity.Action
	// Binding is the binding path it was reached through, or "".
	Binding entity.EntityPath
}

// resolveAction resolves the action named name (through the entity
// cache): if it is in a package binding, the action of the bound package;
// parameters merged package < binding < action. Errors: ErrNotFound (the
// action, its package or the bound package is missing),
// ErrWrongCollection, store errors.
func (s *Server) resolveAction(ctx context.Context, name entity.FQN) (resolvedAction, error) {
	var out resolvedAction
	params := entity.Params{}
	if pkgName := name.Package(); pkgName != "" {
		pfqn := entity.FQN{Path: entity.EntityPath(name.Namespace()), Name: pkgName}
		p, err := s.getPackage(ctx, pfqn)
		if err != nil {
			return out, err
		}
		if p.Binding.IsBinding() {
			target, err := s.getPackage(ctx, p.Binding.FQN())
			if err != nil {
				return out, err
			}
			params = params.Merge(target.Parameters).Merge(p.Parameters)
			out.Binding = entity.EntityPath(pfqn.DocID())
			name = entity.NewFQN(p.Binding.Namespace, p.Binding.Name, name.Name)
		} else {
			params = params.Merge(p.Parameters)
		}
	}
	a, err := s.getAction(ctx, name)
	if err != nil {
		return out, err
	}
	cp := *a
	cp.Parameters = params.Merge(a.Parameters)
	cp.Annotations = append(entity.Params(nil), a.Annotations...)
	out.Action = &cp
	return out, nil
}

// handleGetAction answers GET /actions/[pkg/]name (and the package
// listing /actions/pkg/).
func (s *Server) handleGetAction(c *gin.Context) {
	ns, own, p, fqn, err := s.actionTarget(c)
	if err != nil {
		s.abort(c, err)
		return
	}
	if p.Listing {
		s.listActionsIn(c, ns, own, p.Package)
		return
	}
	code, err := boolQuery(c, "code", true)
	if err != nil {
		s.abort(c, err)
		return
	}
	id := callerIdentity(c)
	if err := s.checkActionAccess(ctx(c), id, fqn); err != nil {
		s.abort(c, err)
		return
	}
	ra, err := s.resolveAction(ctx(c), fqn)
	if err != nil {
		s.abort(c, err)
		return
	}
	a := ra.Action
	if !code {
		a = a.WithoutCode()
	}
	respond(c, http.StatusOK, a)
}

// handleListActions answers GET /actions: the caller's actions.
func (s *Server) handleListActions(c *gin.Context) {
	ns, own := s.resolveNamespace(c)
	s.listActionsIn(c, ns, own, "")
}

// listActionsIn lists the actions of namespace ns or of its package pkg
// (resolving a binding to the bound package).
func (s *Server) listActionsIn(c *gin.Context, ns string, own bool, pkg string) {
	q, count, err := parseListQuery(c, "actions")
	if err != nil {
		s.abort(c, err)
		return
	}
	path := entity.EntityPath(ns)
	if pkg == "" {
		if !own {
			s.abort(c, entity.ErrForbidden)
			return
		}
	} else {
		pfqn := entity.FQN{Path: entity.EntityPath(ns), Name: pkg}
		if err := s.packageReadable(ctx(c), callerIdentity(c), pfqn); err != nil {
			s.abort(c, err)
			return
		}
		pk, err := s.getPackage(ctx(c), pfqn)
		if err != nil {
			s.abort(c, err)
			return
		}
		if pk.Binding.IsBinding() {
			pfqn = pk.Binding.FQN()
		}
		path = entity.EntityPath(pfqn.DocID())
	}
	respondList(s, c, entity.KindAction, path, q, count, func(d entity.Document) (entity.ActionSummary, bool) {
		a, ok := d.(*entity.Action)
		if !ok {
			return entity.ActionSummary{}, false
		}
		return a.Summary(), true
	})
}

// actionBodyMax bounds the body of an action PUT: the exec limit, the
// parameter and annotation limits and slack for the JSON around them.
func actionBodyMax(sys entity.SystemLimits) int64 {
	return int64(sys.ExecSizeMax) + 2*int64(sys.ParameterSizeMax) + 1<<20
}

// handlePutAction answers PUT /actions/[pkg/]name: create, or update with
// overwrite=true.
func (s *Server) handlePutAction(c *gin.Context) {
	ns, own, p, fqn, err := s.actionTarget(c)
	if err == nil && p.Listing {
		err = entity.Invalidf(entity.MsgIllegalName)
	}
	if err == nil && !own {
		err = entity.ErrForbidden
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	put, r, ok := readPut[entity.ActionPut](s, c, actionBodyMax)
	if !ok {
		return
	}
	a, err := s.saveAction(ctx(c), r.id, ns, fqn, put, r.overwrite, r.sys)
	if err != nil {
		s.abort(c, err)
		return
	}
	respond(c, http.StatusOK, a)
}

// saveAction validates put and creates or updates the action fqn.
func (s *Server) saveAction(ctx context.Context, id entity.Identity, ns string, fqn entity.FQN, put entity.ActionPut, overwrite bool, sys entity.SystemLimits) (*entity.Action, error) {
	if err := put.CheckSizes(sys); err != nil {
		return nil, err
	}
	if pkg := fqn.Package(); pkg != "" {
		p, err := s.cfg.Entities.Get(ctx, entity.KindPackage, entity.NewFQN(ns, "", pkg))
		if err != nil {
			return nil, err
		}
		if p.(*entity.Package).Binding.IsBinding() {
			return nil, entity.Invalidf(msgNotOnBinding)
		}
	}
	if put.Exec != nil {
		if err := s.checkExec(ctx, id, fqn, put.Exec, sys); err != nil {
			return nil, err
		}
	}
	existing, err := s.cfg.Entities.Get(ctx, entity.KindAction, fqn)
	var a *entity.Action
	switch {
	case errors.Is(err, entity.ErrNotFound):
		a, err = entity.NewAction(fqn, put, s.now(), sys)
		if err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	case !overwrite:
		return nil, entity.ErrExists
	default:
		old := existing.(*entity.Action)
		a = old.Update(put, s.now())
		a.SetRevision(old.Revision())
	}
	if err := entity.CheckAction(a, s.cfg.Manifest, sys); err != nil {
		return nil, err
	}
	rev, err := s.cfg.Entities.Put(ctx, a)
	s.Invalidate(entity.KindAction, fqn)
	if err != nil {
		return nil, err
	}
	a.SetRevision(rev)
	return a, nil
}

// checkExec validates and canonicalizes an exec of a PUT body: kind known
// and allowed for the namespace (403 otherwise), sizes, and for a sequence
// its components (resolved to "/ns/[pkg/]name", existing, not the action
// itself, at most SequenceMaxLength atomic actions).
func (s *Server) checkExec(ctx context.Context, id entity.Identity, self entity.FQN, e *entity.Exec, sys entity.SystemLimits) error {
	if e.Kind == entity.KindSequence {
		comps := make([]string, 0, len(e.Components))
		for _, raw := range e.Components {
			f, err := entity.ParseComponent(raw)
			if err != nil {
				return err
			}
			comps = append(comps, resolveDefaultNS(f, id.Namespace.Name).String())
		}
		e.Components = comps
	}
	if err := entity.CheckSizes(e.Size(), nil, nil, sys); err != nil {
		return err
	}
	if err := e.Validate(s.cfg.Manifest); err != nil {
		return err
	}
	if e.Kind != entity.KindSequence && !id.Limits.KindAllowed(e.Kind) {
		return entity.Errorf(entity.ErrForbidden, "The supplied authentication is not authorized to access actions of kind '%s'.", e.Kind)
	}
	if e.Kind == entity.KindSequence {
		return s.checkSequence(ctx, id, self, e.Components, sys.SequenceMaxLength)
	}
	return nil
}

// checkSequence counts the atomic actions of a sequence's components,
// expanding nested sequences, and rejects missing components, references
// back to self and sequences longer than max.
func (s *Server) checkSequence(ctx context.Context, id entity.Identity, self entity.FQN, comps []string, max int) error {
	count, steps := 0, 0
	// Nested sequences are expanded depth first. The number of steps is
	// bounded so that a cycle among existing sequences cannot loop forever.
	stack := append([]string(nil), comps...)
	for len(stack) > 0 {
		steps++
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		f, err := entity.ParseComponent(c)
		if err != nil {
			return entity.Invalidf(msgSequenceNoComponent)
		}
		f = resolveDefaultNS(f, id.Namespace.Name)
		if f == self {
			return entity.Invalidf(msgSequenceSelf)
		}
		if err := s.checkActionAccess(ctx, id, f); err != nil {
			if errors.Is(err, entity.ErrNotFound) || errors.Is(err, entity.ErrWrongCollection) {
				return entity.Invalidf(msgSequenceNoComponent)
			}
			return err
		}
		ra, err := s.resolveAction(ctx, f)
		if errors.Is(err, entity.ErrNotFound) || errors.Is(err, entity.ErrWrongCollection) {
			return entity.Invalidf(msgSequenceNoComponent)
		}
		if err != nil {
			return err
		}
		if ra.Action.FullName() == self {
			return entity.Invalidf(msgSequenceSelf)
		}
		if ra.Action.Exec.Kind == entity.KindSequence {
			stack = append(stack, ra.Action.Exec.Components...)
		} else {
			count++
		}
		if count > max || steps > 20*max+20 {
			return entity.Invalidf(msgSequenceTooLong)
		}
	}
	return nil
}

// handleDeleteAction answers DELETE /actions/[pkg/]name with the deleted
// action.
func (s *Server) handleDeleteAction(c *gin.Context) {
	_, own, p, fqn, err := s.actionTarget(c)
	if err == nil && p.Listing {
		err = entity.ErrNotFound
	}
	if err == nil && !own {
		err = entity.ErrForbidden
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	d, err := s.cfg.Entities.Get(ctx(c), entity.KindAction, fqn)
	if err != nil {
		s.abort(c, err)
		return
	}
	err = s.cfg.Entities.Delete(ctx(c), entity.KindAction, fqn, d.Revision())
	s.Invalidate(entity.KindAction, fqn)
	if err != nil {
		s.abort(c, err)
		return
	}
	respond(c, http.StatusOK, d)
}

// resolveDefaultNS replaces the namespace "_" of f with ns.
func resolveDefaultNS(f entity.FQN, ns string) entity.FQN {
	if f.Namespace() != entity.DefaultNamespace {
		return f
	}
	return entity.NewFQN(ns, f.Package(), f.Name)
}
