package controller

// Web actions (reference §1.6; OpenWhisk's WebActions.scala):
//
//	/api/v1/web/{ns}/{pkg|default}/{action}[.ext][/extra/path]
//
// for GET, POST, PUT, DELETE, PATCH, HEAD and OPTIONS, with or without
// Basic auth. The action must be annotated web-export: true (else 404). It
// runs as a blocking invocation on behalf of the namespace's owner (looked
// up by namespace name, through the identity cache), who is billed and
// whose invoke throttles apply; the request becomes its arguments
// (web_args.go) and its result the response of the extension
// (web_render.go).
//
// Steps, in OpenWhisk's order: path → owner identity (404) → action (404)
// → web-export (404) → entitlement of the owner (403) → CORS (automatic
// unless web-custom-options: true; an automatic OPTIONS is answered 200
// here) → require-whisk-auth (401) → body → reserved/final overrides (400)
// → invoke throttle (429) → blocking invoke (202 "Response not yet ready."
// when the wait ends first) → rendering.

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/gowhisk/gowhisk/entity"
)

// CORS of web actions (OpenWhisk CorsSettings.WebActions).
const (
	webAllowMethods        = "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH"
	webAllowHeadersDefault = "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent"
)

// webRoute is the route pattern of web actions.
const webRoute = "/api/v1/web/*path"

// registerWebRoutes registers the web action route for its methods.
func (s *Server) registerWebRoutes(e *gin.Engine) {
	for _, m := range [...]string{
		http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete,
		http.MethodPatch, http.MethodHead, http.MethodOptions,
	} {
		e.Handle(m, webRoute, s.handleWeb)
	}
}

// setWebCORS sets the automatic CORS headers of a web action response: an
// incoming Access-Control-Request-Headers is echoed as
// Access-Control-Allow-Headers.
func setWebCORS(h http.Header, requestHeaders string, hasRequestHeaders bool) {
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", webAllowMethods)
	if hasRequestHeaders {
		h.Set("Access-Control-Allow-Headers", requestHeaders)
	} else {
		h.Set("Access-Control-Allow-Headers", webAllowHeadersDefault)
	}
}

// handleWeb answers every web action request.
func (s *Server) handleWeb(c *gin.Context) {
	received := s.cfg.Now()
	t, ok := parseWebPath(c.Param("path"))
	if !ok {
		s.abort(c, entity.ErrNotFound)
		return
	}
	cx := ctx(c)
	fqn := t.fqn()
	owner, err := s.identityByNamespace(cx, t.namespace)
	if err != nil {
		if !errors.Is(err, entity.ErrNotFound) {
			s.log.Warn("web action: identity by namespace", "tid", transactionID(c), "namespace", t.namespace, "err", err)
		}
		s.abort(c, entity.ErrNotFound) // leak nothing about the namespace
		return
	}
	ra, err := s.webAction(cx, owner, fqn)
	if err != nil {
		s.abort(c, err)
		return
	}
	a := ra.Action
	method := c.Request.Method
	custom := annotationIsTrue(a.Annotations, annotationCustomOptions)
	if !custom {
		v, has := requestHeader(c.Request.Header, "Access-Control-Request-Headers")
		setWebCORS(c.Writer.Header(), v, has)
		if method == http.MethodOptions {
			c.Status(http.StatusOK)
			c.Writer.WriteHeaderNow()
			return
		}
	}
	if !custom || method != http.MethodOptions { // a custom OPTIONS runs unauthenticated
		secret, has := requestHeader(c.Request.Header, headerRequireWhiskAuth)
		_, authenticated := s.webCaller(c)
		if !webAuthorized(a.Annotations, secret, has, authenticated) {
			s.writeError(c, http.StatusUnauthorized, msgWebUnauthorized)
			return
		}
	}
	raw := annotationIsTrue(a.Annotations, annotationRawHTTP)
	payload, err := s.readBody(c, int64(s.cfg.Limits.Effective(owner.Limits).PayloadMax))
	if err != nil {
		s.abort(c, err)
		return
	}
	body, err := webBody(c.GetHeader("Content-Type"), payload, raw)
	if err != nil {
		s.abort(c, err)
		return
	}
	if !raw && webOverrides(queryParams(c.Request.URL.RawQuery), bodyObject(body), immutableParams(a)) {
		s.abort(c, entity.Invalidf(msgParametersNotAllowed))
		return
	}
	caller, _ := s.webCaller(c)
	req := webRequest{
		method: method, header: webRequestHeaders(c.Request), path: t.path,
		rawQuery: c.Request.URL.RawQuery, user: caller.Namespace.Name, body: body,
	}
	if err := s.throttler.CheckInvoke(owner); err != nil {
		s.log.Info("namespace throttled", "tid", transactionID(c), "namespace", owner.Namespace.Name, "err", err)
		s.abort(c, err)
		return
	}
	inv := invocation{
		caller: owner, name: fqn, body: webArgs(req, raw), blocking: true,
		timeout: maxBlockingWait, tid: transactionID(c), received: received,
	}
	var id string
	var rec *entity.Activation
	if a.Exec.Kind == entity.KindSequence {
		id, rec, err = s.invokeSequence(cx, inv, ra)
	} else {
		id, rec, err = s.activate(cx, inv, ra)
	}
	if err != nil {
		s.abort(c, err)
		return
	}
	c.Header(headerActivationID, id)
	if rec == nil {
		s.writeError(c, http.StatusAccepted, msgWebNotReady)
		return
	}
	writeWebResponse(c, renderActivation(t.ext, rec), s)
}

// webAction resolves the web action fqn for its owner: ErrNotFound if it
// (or its package) does not exist or is not exported, ErrForbidden if the
// owner may not activate it (a binding to a package it cannot read), the
// invoke path's errors otherwise (a deprecated kind is ErrInvalid).
func (s *Server) webAction(cx context.Context, owner entity.Identity, fqn entity.FQN) (resolvedAction, error) {
	ra, err := s.resolveAction(cx, fqn)
	switch {
	case errors.Is(err, entity.ErrNotFound), errors.Is(err, entity.ErrWrongCollection):
		return ra, entity.ErrNotFound
	case err != nil:
		return ra, err
	case !annotationIsTrue(ra.Action.Annotations, annotationWebExport):
		return ra, entity.ErrNotFound
	}
	ra, err = s.resolveInvocation(cx, invocation{caller: owner, name: fqn})
	switch {
	case errors.Is(err, entity.ErrNotFound), errors.Is(err, entity.ErrWrongCollection):
		return ra, entity.ErrNotFound
	case err != nil:
		return ra, err
	case !annotationIsTrue(ra.Action.Annotations, annotationWebExport): // changed in between
		return ra, entity.ErrNotFound
	}
	return ra, nil
}

// requestHeader returns a request header's first value and whether it is
// present.
func requestHeader(h http.Header, name string) (string, bool) {
	vs, ok := h[http.CanonicalHeaderKey(name)]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

// webRequestHeaders are the request's headers with Host (which net/http
// keeps apart) added back.
func webRequestHeaders(r *http.Request) http.Header {
	h := r.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if r.Host != "" {
		h.Set("Host", r.Host)
	}
	return h
}

// webCaller returns the identity of valid Basic credentials on a web
// request, and whether there were any: web actions take missing or
// invalid credentials as an anonymous request (OpenWhisk falls back to
// the unauthenticated route). The result is remembered on the request.
func (s *Server) webCaller(c *gin.Context) (entity.Identity, bool) {
	if v, ok := c.Get(keyIdentity); ok {
		id := v.(entity.Identity)
		return id, id.Namespace.Name != ""
	}
	var id entity.Identity
	if uuid, key, ok := basicCredentials(c.GetHeader("Authorization")); ok {
		if cached, ok := s.ids.get(uuid, key); ok {
			id = cached
		} else if len(key) == entity.KeyLength && uuid != "" && len(uuid) <= 64 {
			if got, err := s.cfg.Subjects.Authenticate(ctx(c), uuid, key); err == nil {
				s.ids.put(uuid, key, got)
				id = got
			}
		}
	}
	c.Set(keyIdentity, id)
	return id, id.Namespace.Name != ""
}

// namespaceCacheUUID is the uuid part under which identityByNamespace
// keeps namespace owners in the identity cache (a real uuid never starts
// with a NUL byte).
const namespaceCacheUUID = "\x00namespace"

// identityByNamespace returns the identity owning namespace ns, through
// the identity cache (InvalidateIdentities drops it too). Errors are the
// store's: ErrNotFound if no unblocked subject owns ns.
func (s *Server) identityByNamespace(cx context.Context, ns string) (entity.Identity, error) {
	if id, ok := s.ids.get(namespaceCacheUUID, ns); ok {
		return id, nil
	}
	id, err := s.cfg.Subjects.IdentityByNamespace(cx, ns)
	if err != nil {
		return entity.Identity{}, err
	}
	s.ids.put(namespaceCacheUUID, ns, id)
	return id, nil
}

// writeWebResponse writes a rendered web response. The action's headers
// replace the automatic CORS headers of the same name; Content-Length and
// Transfer-Encoding from the action are ignored (net/http computes them).
func writeWebResponse(c *gin.Context, r webResponse, s *Server) {
	if r.errMsg != "" {
		s.writeError(c, r.status, r.errMsg)
		return
	}
	h := c.Writer.Header()
	replaced := map[string]bool{}
	for _, kv := range r.header {
		k := http.CanonicalHeaderKey(kv[0])
		switch strings.ToLower(k) {
		case "content-length", "transfer-encoding":
			continue
		}
		if !replaced[k] {
			h.Del(k)
			replaced[k] = true
		}
		h.Add(k, kv[1])
	}
	if r.contentType != "" {
		h.Set("Content-Type", r.contentType)
	}
	c.Status(r.status)
	c.Writer.WriteHeaderNow()
	if len(r.body) > 0 && r.status != http.StatusNoContent && r.status != http.StatusNotModified {
		_, _ = c.Writer.Write(r.body)
	}
}
