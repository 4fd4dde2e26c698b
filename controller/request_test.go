package controller

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gowhisk/gowhisk/entity"
)

func TestErrorStatus(t *testing.T) {
	cases := []struct {
		name     string
		err      error
		status   int
		msg      string
		internal bool
	}{
		{"not found", entity.ErrNotFound, 404, "The requested resource does not exist.", false},
		{"exists", entity.ErrExists, 409, "resource already exists", false},
		{"conflict", entity.ErrConflict, 409, "Concurrent modification to resource detected.", false},
		{"wrong collection", fmt.Errorf("get: %w", entity.ErrWrongCollection), 409, "get: Resource by this name exists but is not in this collection.", false},
		{"invalid kinded", entity.Invalidf("bad thing"), 400, "bad thing", false},
		{"too large", entity.Errorf(entity.ErrTooLarge, "big"), 413, "big", false},
		{"forbidden", entity.ErrForbidden, 403, "The supplied authentication is not authorized to access this resource.", false},
		{"unauthenticated", entity.ErrUnauthenticated, 401, "The supplied authentication is invalid.", false},
		{"throttled", entity.Errorf(entity.ErrThrottled, "Too many requests in the last minute (count: 61, allowed: 60)."), 429, "Too many requests in the last minute (count: 61, allowed: 60).", false},
		{"unavailable", entity.ErrUnavailable, 503, "No invokers available", false},
		{"plain error", errors.New("disk on fire"), 500, msgInternal, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, msg, internal := errorStatus(tc.err)
			if status != tc.status || msg != tc.msg || internal != tc.internal {
				t.Errorf("got %d %q %v, want %d %q %v", status, msg, internal, tc.status, tc.msg, tc.internal)
			}
		})
	}
}

func TestParseActionPath(t *testing.T) {
	cases := []struct {
		name, raw string
		want      actionPath
		errKind   error
	}{
		{"namespace listing", "/", actionPath{Listing: true}, nil},
		{"empty", "", actionPath{Listing: true}, nil},
		{"action", "/hello", actionPath{Name: "hello"}, nil},
		{"packaged action", "/pkg/hello", actionPath{Package: "pkg", Name: "hello"}, nil},
		{"package listing", "/pkg/", actionPath{Package: "pkg", Listing: true}, nil},
		{"name with space", "/a b", actionPath{Name: "a b"}, nil},
		{"illegal name", "/-bad", actionPath{}, entity.ErrInvalid},
		{"illegal package", "/p$/a", actionPath{}, entity.ErrInvalid},
		{"illegal package listing", "/$/", actionPath{}, entity.ErrInvalid},
		{"empty package", "//a", actionPath{}, entity.ErrInvalid},
		{"too many segments", "/a/b/c", actionPath{}, entity.ErrNotFound},
		{"too long", "/" + strings.Repeat("a", 257), actionPath{}, entity.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseActionPath(tc.raw)
			if tc.errKind != nil {
				if !errors.Is(err, tc.errKind) {
					t.Fatalf("err %v, want kind %v", err, tc.errKind)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// queryContext returns a gin context for a GET with the raw query.
func queryContext(rawQuery string) *gin.Context {
	return testContext(httptest.NewRequest("GET", "/x?"+rawQuery, nil))
}

// testContext returns a gin context for req (gin in release mode).
func testContext(req *http.Request) *gin.Context {
	gin.SetMode(gin.ReleaseMode)
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = req
	return c
}

func TestParseListQuery(t *testing.T) {
	cases := []struct {
		name, query string
		want        entity.ListQuery
		count       bool
		msg         string // error message, "" if none
	}{
		{"defaults", "", entity.ListQuery{Limit: 30}, false, ""},
		{"limit", "limit=5", entity.ListQuery{Limit: 5}, false, ""},
		{"limit zero means max", "limit=0", entity.ListQuery{Limit: 200}, false, ""},
		{"limit max", "limit=200", entity.ListQuery{Limit: 200}, false, ""},
		{"limit too large", "limit=201", entity.ListQuery{}, false, "The value '201' is not in the range of 0 to 200 for actions."},
		{"limit negative", "limit=-1", entity.ListQuery{}, false, "The value '-1' is not in the range of 0 to 200 for actions."},
		{"limit not a number", "limit=abc", entity.ListQuery{}, false, "The query parameter 'limit' was malformed:\n'abc' is not a valid 32-bit signed integer value"},
		{"limit huge", "limit=99999999999999999999", entity.ListQuery{}, false, "The query parameter 'limit' was malformed:\n'99999999999999999999' is not a valid 32-bit signed integer value"},
		{"skip", "skip=10", entity.ListQuery{Limit: 30, Skip: 10}, false, ""},
		{"skip negative", "skip=-3", entity.ListQuery{}, false, "The value '-3' is not greater than or equal to 0 for actions."},
		{"skip not a number", "skip=x", entity.ListQuery{}, false, "The query parameter 'skip' was malformed:\n'x' is not a valid 32-bit signed integer value"},
		{"count true", "count=true", entity.ListQuery{Limit: 30}, true, ""},
		{"count false", "count=false", entity.ListQuery{Limit: 30}, false, ""},
		{"count bad", "count=yes", entity.ListQuery{}, false, "The query parameter 'count' was malformed:\n'yes' is not a valid Boolean value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q, count, err := parseListQuery(queryContext(tc.query), "actions")
			if tc.msg != "" {
				if !errors.Is(err, entity.ErrInvalid) || err.Error() != tc.msg {
					t.Fatalf("err %v, want %q", err, tc.msg)
				}
				return
			}
			if err != nil || q != tc.want || count != tc.count {
				t.Fatalf("got %+v %v %v, want %+v %v", q, count, err, tc.want, tc.count)
			}
		})
	}
}

func TestBoolQuery(t *testing.T) {
	cases := []struct {
		name, query string
		def, want   bool
		bad         bool
	}{
		{"absent uses default true", "", true, true, false},
		{"absent uses default false", "", false, false, false},
		{"true", "b=true", false, true, false},
		{"TRUE", "b=TRUE", false, true, false},
		{"false", "b=false", true, false, false},
		{"empty", "b=", false, false, true},
		{"one", "b=1", false, false, true},
		{"yes", "b=yes", false, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := boolQuery(queryContext(tc.query), "b", tc.def)
			if tc.bad != (err != nil) || (!tc.bad && got != tc.want) {
				t.Fatalf("got %v, %v", got, err)
			}
			if tc.bad && !errors.Is(err, entity.ErrInvalid) {
				t.Fatalf("err kind %v", err)
			}
		})
	}
}

func TestBasicCredentials(t *testing.T) {
	cases := []struct {
		name, header string
		uuid, key    string
		ok           bool
	}{
		{"valid", "Basic " + b64("u:k"), "u", "k", true},
		{"key with colon", "Basic " + b64("u:k:x"), "u", "k:x", true},
		{"lower-case", "basic " + b64("u:k"), "u", "k", true},
		{"no scheme", b64("u:k"), "", "", false},
		{"bearer", "Bearer " + b64("u:k"), "", "", false},
		{"bad base64", "Basic %%%", "", "", false},
		{"no colon", "Basic " + b64("uk"), "", "", false},
		{"empty", "", "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, k, ok := basicCredentials(tc.header)
			if u != tc.uuid || k != tc.key || ok != tc.ok {
				t.Fatalf("got %q %q %v", u, k, ok)
			}
		})
	}
}

func TestDecodeJSON(t *testing.T) {
	type body struct {
		Publish *bool          `json:"publish"`
		Params  map[string]any `json:"params"`
	}
	cases := []struct {
		name, in string
		ok       bool
	}{
		{"object", `{"publish":true}`, true},
		{"empty", ``, true},
		{"whitespace", " \n\t", true},
		{"unknown fields ignored", `{"name":"x","namespace":"y"}`, true},
		{"malformed", `{"publish":`, false},
		{"wrong type", `{"publish":"yes"}`, false},
		{"array", `[1,2]`, false},
		{"trailing data", `{} {}`, false},
		{"trailing garbage", `{}x`, false},
		{"null", `null`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b body
			err := decodeJSON([]byte(tc.in), &b)
			if tc.ok != (err == nil) {
				t.Fatalf("err %v", err)
			}
			if err != nil && (!errors.Is(err, entity.ErrInvalid) || !strings.HasPrefix(err.Error(), "The request content was malformed:")) {
				t.Fatalf("err %v", err)
			}
		})
	}
}

func TestReadBodyLimit(t *testing.T) {
	s := &Server{}
	cases := []struct {
		name       string
		body       string
		declared   int64 // Content-Length; -1 = unknown (chunked)
		max        int64
		wantStatus int
	}{
		{"within", `{"a":1}`, 7, 10, 0},
		{"declared too large", `{"a":1}`, 7, 5, 413},
		{"unknown length too large", strings.Repeat(" ", 100), -1, 10, 413},
		{"unknown length ok", `{}`, -1, 10, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testContext(httptest.NewRequest("PUT", "/x", strings.NewReader(tc.body)))
			c.Request.ContentLength = tc.declared
			_, err := s.readBody(c, tc.max)
			if tc.wantStatus == 0 {
				if err != nil {
					t.Fatalf("err %v", err)
				}
				return
			}
			if st, _, _ := errorStatus(err); st != tc.wantStatus {
				t.Fatalf("status %d (%v)", st, err)
			}
		})
	}
}

func TestTransactionID(t *testing.T) {
	cases := []struct {
		name, header string
		keep         bool
	}{
		{"kept", "abc-123", true},
		{"sid prefix replaced", "sid_123", false},
		{"absent generated", "", false},
		{"control characters replaced", "a\x01b", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testContext(httptest.NewRequest("GET", "/", nil))
			if tc.header != "" {
				c.Request.Header.Set("X-Request-ID", tc.header)
			}
			tid := transactionID(c)
			if tc.keep && tid != tc.header {
				t.Fatalf("tid %q", tid)
			}
			if !tc.keep && (len(tid) != 32 || tid == tc.header) {
				t.Fatalf("tid %q", tid)
			}
			if again := transactionID(c); again != tid {
				t.Fatalf("tid changed: %q then %q", tid, again)
			}
		})
	}
}

func TestIdentityCache(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	ic := newIdentityCache(2, time.Minute, clock)
	id := entity.Identity{Subject: "s"}
	ic.put("u1", "k1", id)
	if _, ok := ic.get("u1", "k1"); !ok {
		t.Fatal("miss right after put")
	}
	if _, ok := ic.get("u1", "other"); ok {
		t.Fatal("hit with another key")
	}
	now = now.Add(2 * time.Minute)
	if _, ok := ic.get("u1", "k1"); ok {
		t.Fatal("hit after ttl")
	}
	ic.put("u2", "k", id)
	ic.put("u3", "k", id)
	ic.put("u4", "k", id)
	ic.mu.RLock()
	n := len(ic.entries)
	ic.mu.RUnlock()
	if n > 2 {
		t.Fatalf("cache holds %d entries, bound is 2", n)
	}
	if _, ok := ic.get("u4", "k"); !ok {
		t.Fatal("newest entry evicted")
	}
}

func TestEntityCacheInvalidationRace(t *testing.T) {
	now := time.Unix(1000, 0)
	ec := newEntityCache(10, time.Minute, func() time.Time { return now })
	k := cacheKey{kind: entity.KindAction, docID: "ns/a"}
	_, gen, ok := ec.get(k)
	if ok {
		t.Fatal("hit in empty cache")
	}
	ec.invalidate(k) // a write happened while the read was in flight
	ec.put(k, &entity.Action{}, gen)
	if _, _, ok := ec.get(k); ok {
		t.Fatal("stale read was cached after an invalidation")
	}
	_, gen, _ = ec.get(k)
	ec.put(k, &entity.Action{}, gen)
	if _, _, ok := ec.get(k); !ok {
		t.Fatal("fresh read not cached")
	}
	now = now.Add(2 * time.Minute)
	if _, _, ok := ec.get(k); ok {
		t.Fatal("hit after ttl")
	}
}

func TestRecoveryAnswersJSON500(t *testing.T) {
	ts := newTestServer(t)
	ts.Server.engine.GET("/test-panic", func(c *gin.Context) { panic("boom") })
	r := ts.do("GET", "/test-panic", "", noAuth).wantStatus(http.StatusInternalServerError)
	if r.ErrMsg() != msgInternal || r.Obj()["code"] == "" {
		t.Fatalf("body %s", r.Body)
	}
}
