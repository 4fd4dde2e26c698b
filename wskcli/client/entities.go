package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Collections of the API.
const (
	Actions     = "actions"
	Triggers    = "triggers"
	Rules       = "rules"
	Packages    = "packages"
	Activations = "activations"
)

// EscapePath escapes each "/"-separated segment of a (pkg/)name.
func EscapePath(name string) string {
	segs := strings.Split(name, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

func entityPath(ns, collection, name string) string {
	p := "namespaces/" + url.PathEscape(ns) + "/" + collection
	if name != "" {
		p += "/" + EscapePath(name)
	}
	return p
}

// Info is the body of GET /api/v1.
type Info struct {
	Description string `json:"description"`
	APIVersion  string `json:"api_version"`
	Build       string `json:"build"`
	BuildNo     string `json:"buildno"`
}

// Info reads GET /api/v1 (no auth).
func (c *Client) Info(ctx context.Context) (Info, error) {
	var info Info
	_, b, err := c.Do(ctx, Request{Method: http.MethodGet, NoAuth: true})
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, &Error{Kind: KindNetwork, Err: err}
	}
	return info, nil
}

// Namespaces lists the caller's namespaces (GET /namespaces).
func (c *Client) Namespaces(ctx context.Context) ([]string, error) {
	_, b, err := c.Do(ctx, Request{Method: http.MethodGet, Path: "namespaces"})
	if err != nil {
		return nil, err
	}
	var ns []string
	if err := json.Unmarshal(b, &ns); err != nil {
		return nil, &Error{Kind: KindNetwork, Err: err}
	}
	return ns, nil
}

// ListOptions are the paging options of a list.
type ListOptions struct {
	Limit int
	Skip  int
}

// List lists a collection of namespace ns; with pkg set (actions only),
// the actions of that package.
func (c *Client) List(ctx context.Context, ns, collection, pkg string, o ListOptions) ([]byte, error) {
	path := entityPath(ns, collection, "")
	if pkg != "" {
		path += "/" + EscapePath(pkg) + "/"
	}
	q := url.Values{"limit": {strconv.Itoa(o.Limit)}, "skip": {strconv.Itoa(o.Skip)}}
	_, b, err := c.Do(ctx, Request{Method: http.MethodGet, Path: path, Query: q})
	return b, err
}

// Get reads an entity; q holds extra query parameters (e.g. code=false).
func (c *Client) Get(ctx context.Context, ns, collection, name string, q url.Values) ([]byte, error) {
	_, b, err := c.Do(ctx, Request{Method: http.MethodGet, Path: entityPath(ns, collection, name), Query: q})
	return b, err
}

// Put creates (overwrite false) or updates an entity.
func (c *Client) Put(ctx context.Context, ns, collection, name string, overwrite bool, body any) ([]byte, error) {
	q := url.Values{"overwrite": {strconv.FormatBool(overwrite)}}
	_, b, err := c.Do(ctx, Request{Method: http.MethodPut, Path: entityPath(ns, collection, name), Query: q, Body: body})
	return b, err
}

// Delete deletes an entity.
func (c *Client) Delete(ctx context.Context, ns, collection, name string) ([]byte, error) {
	_, b, err := c.Do(ctx, Request{Method: http.MethodDelete, Path: entityPath(ns, collection, name)})
	return b, err
}

// Invoke invokes an action with a JSON body. A blocking invoke that has not
// finished in time is a KindTimeout error whose Body holds the id.
func (c *Client) Invoke(ctx context.Context, ns, name string, params any, blocking, result bool) (int, []byte, error) {
	q := url.Values{"blocking": {strconv.FormatBool(blocking)}, "result": {strconv.FormatBool(result)}}
	return c.Do(ctx, Request{Method: http.MethodPost, Path: entityPath(ns, Actions, name), Query: q,
		Body: params, Blocking: blocking})
}

// Fire fires a trigger: 202 with {"activationId"} when a rule is active,
// 204 without a body otherwise.
func (c *Client) Fire(ctx context.Context, ns, name string, params any) (int, []byte, error) {
	return c.Do(ctx, Request{Method: http.MethodPost, Path: entityPath(ns, Triggers, name), Body: params})
}

// SetRuleState enables ("active") or disables ("inactive") a rule.
func (c *Client) SetRuleState(ctx context.Context, ns, name, state string) ([]byte, error) {
	_, b, err := c.Do(ctx, Request{Method: http.MethodPost, Path: entityPath(ns, Rules, name),
		Body: map[string]string{"status": state}})
	return b, err
}

// ActivationListOptions filter an activation list.
type ActivationListOptions struct {
	Name  string
	Limit int
	Skip  int
	Since int64 // epoch ms, 0 = unset
	Upto  int64 // epoch ms, 0 = unset
	Docs  bool
}

// ListActivations lists activations of namespace ns.
func (c *Client) ListActivations(ctx context.Context, ns string, o ActivationListOptions) ([]byte, error) {
	q := url.Values{"limit": {strconv.Itoa(o.Limit)}, "skip": {strconv.Itoa(o.Skip)}}
	if o.Name != "" {
		q.Set("name", o.Name)
	}
	if o.Since != 0 {
		q.Set("since", strconv.FormatInt(o.Since, 10))
	}
	if o.Upto != 0 {
		q.Set("upto", strconv.FormatInt(o.Upto, 10))
	}
	if o.Docs {
		q.Set("docs", "true")
	}
	_, b, err := c.Do(ctx, Request{Method: http.MethodGet, Path: entityPath(ns, Activations, ""), Query: q})
	return b, err
}

// Activation reads an activation (sub ""), its "logs" or its "result".
func (c *Client) Activation(ctx context.Context, ns, id, sub string) ([]byte, error) {
	p := entityPath(ns, Activations, "") + "/" + url.PathEscape(id)
	if sub != "" {
		p += "/" + sub
	}
	_, b, err := c.Do(ctx, Request{Method: http.MethodGet, Path: p})
	return b, err
}
