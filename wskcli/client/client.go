// Package client is a REST client of the OpenWhisk API (/api/v1) as the
// wsk CLI uses it: Basic auth, JSON bodies, and the error classification of
// apache/openwhisk-client-go (network failure, HTTP error with the server's
// {"error","code"} body, application error, blocking invoke not finished).
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// traceBodyLimit is how many bytes of a body the verbose trace shows.
const traceBodyLimit = 1000

// Config configures a Client.
type Config struct {
	// APIHost is the configured host; without a scheme it means https://.
	APIHost string
	// Auth is "uuid:key"; empty means requests that need auth fail.
	Auth string
	// APIVersion is the path segment after /api (default "v1").
	APIVersion string
	// Insecure skips TLS certificate verification.
	Insecure bool
	// CertFile and KeyFile are a client certificate for TLS (both or none).
	CertFile, KeyFile string
	// UserAgent is sent on every request.
	UserAgent string
	// Trace, when set, receives the request and response of every call
	// (the CLI's --verbose); bodies over 1000 bytes are truncated unless
	// FullTrace is set (--debug).
	Trace     io.Writer
	FullTrace bool
	// HTTP is the client used for requests (default: a new one).
	HTTP *http.Client
}

// Client calls the OpenWhisk REST API.
type Client struct {
	cfg  Config
	base *url.URL // https://host/api
	http *http.Client
}

// ErrNoAPIHost is returned by BaseURL for an empty host.
var ErrNoAPIHost = fmt.Errorf("An API host must be provided.")

// BaseURL is the URL of the API root ("<scheme>://host/api") for a
// configured API host, as client-go's GetURLBase computes it: a host
// without a scheme is https.
func BaseURL(apiHost string) (*url.URL, error) {
	if apiHost == "" {
		return nil, ErrNoAPIHost
	}
	h := apiHost
	if !strings.HasPrefix(h, "http://") && !strings.HasPrefix(h, "https://") {
		h = "https://" + h
	}
	u, err := url.Parse(strings.TrimRight(h, "/") + "/api")
	if err != nil {
		return nil, err
	}
	if u.Host == "" {
		return nil, fmt.Errorf("no host in %q", apiHost)
	}
	return u, nil
}

// New returns a client for cfg. Errors: the BaseURL error, or a client
// certificate that cannot be loaded.
func New(cfg Config) (*Client, error) {
	base, err := BaseURL(cfg.APIHost)
	if err != nil {
		return nil, err
	}
	if cfg.APIVersion == "" {
		cfg.APIVersion = "v1"
	}
	hc := cfg.HTTP
	if hc == nil {
		hc = &http.Client{}
	}
	if cfg.Insecure || cfg.CertFile != "" || cfg.KeyFile != "" {
		tlsCfg := &tls.Config{InsecureSkipVerify: cfg.Insecure} //nolint:gosec // --insecure asks for it
		if cfg.CertFile != "" || cfg.KeyFile != "" {
			if cfg.CertFile == "" || cfg.KeyFile == "" {
				return nil, fmt.Errorf("both a client cert and a client key are needed")
			}
			cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("Unable to load the X509 key pair due to the following reason: %w", err)
			}
			tlsCfg.Certificates = []tls.Certificate{cert}
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tlsCfg
		c := *hc
		c.Transport = tr
		hc = &c
	}
	return &Client{cfg: cfg, base: base, http: hc}, nil
}

// Base is the API root URL ("<scheme>://host/api").
func (c *Client) Base() *url.URL { u := *c.base; return &u }

// APIVersion is the configured API version.
func (c *Client) APIVersion() string { return c.cfg.APIVersion }

// Kind classifies an Error.
type Kind int

const (
	// KindNetwork: no HTTP response (connection refused, DNS, TLS, ...).
	KindNetwork Kind = iota + 1
	// KindAuth: no auth is configured for a call that needs it.
	KindAuth
	// KindHTTP: a non-2xx response.
	KindHTTP
	// KindApplication: a 502 whose body has no "code": the action failed;
	// Body holds the activation record or {"error":..}.
	KindApplication
	// KindTimeout: a blocking invoke answered 202 (not finished yet);
	// Body holds {"activationId":..}.
	KindTimeout
)

// Error is a failed call.
type Error struct {
	Kind   Kind
	Status int    // HTTP status; 0 for KindNetwork and KindAuth
	Msg    string // the server's "error" text, if it sent one
	Code   string // the server's "code" (transaction id), "" if absent
	Body   []byte // the response body
	Err    error  // the transport error for KindNetwork
}

func (e *Error) Error() string {
	switch e.Kind {
	case KindNetwork:
		return e.Err.Error()
	case KindAuth:
		return "Unable to add the HTTP authentication header: Authorization key is not configured (--auth is required)"
	case KindTimeout:
		return "Request accepted, but processing not completed yet."
	case KindApplication:
		return "The following application error was received: " + string(e.Body)
	}
	if e.Code != "" {
		return e.Msg + " (code " + e.Code + ")"
	}
	return fmt.Sprintf("The connection failed, or timed out. (HTTP status code %d)", e.Status)
}

func (e *Error) Unwrap() error { return e.Err }

// Request is one API call. Path is relative to /api/<version>/ (e.g.
// "namespaces/_/actions/hello"); segments must already be escaped.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Body   any  // JSON-encoded when non-nil
	NoAuth bool // the route needs no auth (GET /api/v1)
	// Blocking marks a blocking invoke: a 202 is then a KindTimeout error.
	Blocking bool
}

// Do sends r and returns the status and body of a 2xx response, or an
// *Error. It blocks until the response is read or ctx ends.
func (c *Client) Do(ctx context.Context, r Request) (int, []byte, error) {
	urlStr := c.base.String() + "/" + url.PathEscape(c.cfg.APIVersion)
	if r.Path != "" {
		urlStr += "/" + r.Path
	}
	if len(r.Query) > 0 {
		urlStr += "?" + encodeQuery(r.Query)
	}
	u, err := url.Parse(urlStr)
	if err != nil {
		return 0, nil, &Error{Kind: KindNetwork, Err: fmt.Errorf("Invalid request URL '%s': %w", urlStr, err)}
	}
	var body io.Reader
	var reqBody []byte
	if r.Body != nil {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(r.Body); err != nil {
			return 0, nil, &Error{Kind: KindNetwork, Err: fmt.Errorf("Error encoding request body: %w", err)}
		}
		reqBody = buf.Bytes()
		body = bytes.NewReader(reqBody)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u.String(), body)
	if err != nil {
		return 0, nil, &Error{Kind: KindNetwork, Err: err}
	}
	if r.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if !r.NoAuth {
		if c.cfg.Auth == "" {
			return 0, nil, &Error{Kind: KindAuth}
		}
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.cfg.Auth)))
	}
	if c.cfg.UserAgent != "" {
		req.Header.Set("User-Agent", c.cfg.UserAgent)
	}
	c.traceRequest(req, reqBody)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, &Error{Kind: KindNetwork, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, &Error{Kind: KindNetwork, Err: err}
	}
	c.traceResponse(resp, data)
	return classify(resp.StatusCode, data, r.Blocking)
}

// classify turns a response into the result of Do, following client-go's
// rules: a non-2xx with {"error","code"} is an HTTP error; a 502 without a
// code is an application error; a 202 to a blocking invoke is a timeout.
func classify(status int, data []byte, blocking bool) (int, []byte, error) {
	if status >= 200 && status <= 299 {
		if blocking && status == http.StatusAccepted {
			return status, data, &Error{Kind: KindTimeout, Status: status, Body: data}
		}
		return status, data, nil
	}
	var eb struct {
		Error any `json:"error"`
		Code  any `json:"code"`
	}
	e := &Error{Kind: KindHTTP, Status: status, Body: data}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if dec.Decode(&eb) == nil {
		if eb.Code == nil && status == http.StatusBadGateway {
			e.Kind = KindApplication
			return status, data, e
		}
		if eb.Code != nil && eb.Error != nil {
			e.Msg = fmt.Sprint(eb.Error)
			e.Code = fmt.Sprint(eb.Code)
		}
	}
	return status, data, e
}

// encodeQuery encodes q with sorted keys, keeping the order of values.
func encodeQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range q[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(v))
		}
	}
	return b.String()
}

func (c *Client) traceRequest(req *http.Request, body []byte) {
	w := c.cfg.Trace
	if w == nil {
		return
	}
	fmt.Fprintln(w, "REQUEST:")
	fmt.Fprintf(w, "[%s]\t%s\n", req.Method, req.URL)
	if len(req.Header) > 0 {
		fmt.Fprintln(w, "Req Headers")
		fmt.Fprintln(w, indentJSON(req.Header))
	}
	if body != nil {
		fmt.Fprintln(w, "Req Body")
		fmt.Fprintln(w, c.truncate(strings.TrimRight(string(body), "\n")))
	}
}

func (c *Client) traceResponse(resp *http.Response, data []byte) {
	w := c.cfg.Trace
	if w == nil {
		return
	}
	fmt.Fprint(w, "RESPONSE:")
	fmt.Fprintf(w, "Got response with code %d\n", resp.StatusCode)
	if len(resp.Header) > 0 {
		fmt.Fprintln(w, "Resp Headers")
		fmt.Fprintln(w, indentJSON(resp.Header))
	}
	fmt.Fprintf(w, "Response body size is %d bytes\n", len(data))
	fmt.Fprintf(w, "Response body received:\n%s\n", c.truncate(string(data)))
}

// truncate shortens a traced body to traceBodyLimit bytes plus "...".
func (c *Client) truncate(s string) string {
	if c.cfg.FullTrace || len(s) <= traceBodyLimit {
		return s
	}
	return s[:traceBodyLimit] + "..."
}

func indentJSON(v any) string {
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
