//go:build integration

package couchdb_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/entity/couchdb"
	"github.com/gowhisk/gowhisk/entity/storetest"
	"github.com/gowhisk/gowhisk/test/integration/pouchdb"
)

// open opens a client on the server with a fresh database prefix and
// closes it when t ends.
func open(t *testing.T, srv *pouchdb.Server, prefix string) *couchdb.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := couchdb.Open(ctx, couchdb.Config{URL: srv.URL, Username: srv.Username, Password: srv.Password, Prefix: prefix})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

func TestConformance(t *testing.T) {
	srv := pouchdb.Start(t)
	storetest.Run(t, func(t *testing.T) storetest.Stores {
		c := open(t, srv, srv.NewPrefix())
		return storetest.Stores{Entities: c.Entities(), Activations: c.Activations(), Subjects: c.Subjects()}
	})
}

// raw talks to the server directly, to see what the adapter stored.
type raw struct {
	t   *testing.T
	srv *pouchdb.Server
}

func (r raw) get(path string, out any) int {
	r.t.Helper()
	req, err := http.NewRequestWithContext(r.t.Context(), http.MethodGet, r.srv.URL+path, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	req.SetBasicAuth(r.srv.Username, r.srv.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, out); err != nil {
			r.t.Fatalf("GET %s: decode %s: %v", path, b, err)
		}
	}
	return resp.StatusCode
}

func TestLayout(t *testing.T) {
	srv := pouchdb.Start(t)
	prefix := srv.NewPrefix()
	c := open(t, srv, prefix)
	r := raw{t, srv}

	t.Run("DesignDocuments", func(t *testing.T) {
		want := map[string][]string{
			"whisks/_design/whisks.v2.1.0":              {"actions", "packages", "packages-public", "rules", "triggers"},
			"activations/_design/whisks.v2.1.0":         {"activations"},
			"activations/_design/whisks-filters.v2.1.1": {"activations"},
			"subjects/_design/subjects.v2.0.0":          {"identities"},
			"subjects/_design/namespaceThrottlings":     {"blockedNamespaces"},
		}
		for path, views := range want {
			var dd struct {
				Language string                       `json:"language"`
				Views    map[string]map[string]string `json:"views"`
			}
			if code := r.get("/"+prefix+path, &dd); code != http.StatusOK {
				t.Fatalf("GET %s%s: %d", prefix, path, code)
			}
			var got []string
			for v, fns := range dd.Views {
				got = append(got, v)
				if !strings.HasPrefix(fns["map"], "function") {
					t.Errorf("%s view %s has no map function: %q", path, v, fns["map"])
				}
			}
			sort.Strings(got)
			if fmt.Sprint(got) != fmt.Sprint(views) || dd.Language != "javascript" {
				t.Errorf("%s: views %v language %q, want %v javascript", path, got, dd.Language, views)
			}
		}
	})

	t.Run("EntityDocuments", func(t *testing.T) {
		a := storetest.Action("guest", "pkg", "hello", 1234)
		if _, err := c.Entities().Put(t.Context(), a); err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if code := r.get("/"+prefix+"whisks/"+url.PathEscape("guest/pkg/hello"), &doc); code != http.StatusOK {
			t.Fatalf("GET guest/pkg/hello: %d", code)
		}
		if doc["_id"] != "guest/pkg/hello" || doc["entityType"] != "action" || doc["namespace"] != "guest/pkg" ||
			doc["name"] != "hello" || doc["updated"] != float64(1234) || doc["_rev"] == nil {
			t.Fatalf("stored action = %v", doc)
		}
		// The view keys of OpenWhisk: [namespace, updated] and [root, updated].
		var rows struct {
			Rows []struct {
				Key   []any          `json:"key"`
				Value map[string]any `json:"value"`
			} `json:"rows"`
		}
		r.get("/"+prefix+"whisks/_design/whisks.v2.1.0/_view/actions?reduce=false", &rows)
		var keys []string
		for _, row := range rows.Rows {
			keys = append(keys, fmt.Sprint(row.Key))
			if row.Value["name"] != "hello" || row.Value["exec"] == nil {
				t.Errorf("actions view value = %v", row.Value)
			}
		}
		sort.Strings(keys)
		if fmt.Sprint(keys) != "[[guest 1234] [guest/pkg 1234]]" {
			t.Errorf("actions view keys = %v", keys)
		}
	})

	t.Run("ActivationDocuments", func(t *testing.T) {
		a := storetest.Activation("guest", "pkg", "hello", 5000)
		if err := c.Activations().Put(t.Context(), a); err != nil {
			t.Fatal(err)
		}
		if err := c.Activations().Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if code := r.get("/"+prefix+"activations/"+url.PathEscape("guest/"+a.ActivationID), &doc); code != http.StatusOK {
			t.Fatalf("GET activation: %d", code)
		}
		if doc["entityType"] != "activation" || doc["activationId"] != a.ActivationID {
			t.Fatalf("stored activation = %v", doc)
		}
		var rows struct {
			Rows []struct {
				Key   []any          `json:"key"`
				Value map[string]any `json:"value"`
			} `json:"rows"`
		}
		r.get("/"+prefix+"activations/_design/whisks-filters.v2.1.1/_view/activations?reduce=false", &rows)
		if len(rows.Rows) != 1 || fmt.Sprint(rows.Rows[0].Key) != "[guest/pkg/hello 5000]" ||
			rows.Rows[0].Value["statusCode"] != float64(0) || rows.Rows[0].Value["duration"] != float64(5) {
			t.Fatalf("filters view rows = %+v", rows.Rows)
		}
	})

	t.Run("SubjectDocuments", func(t *testing.T) {
		sub := storetest.Subject("alice")
		if _, err := c.Subjects().PutSubject(t.Context(), sub); err != nil {
			t.Fatal(err)
		}
		zero := 0
		if err := c.Subjects().PutLimits(t.Context(), "alice", entity.UserLimits{InvocationsPerMinute: &zero}); err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		r.get("/"+prefix+"subjects/alice", &doc)
		if doc["subject"] != "alice" || doc["namespaces"] == nil {
			t.Fatalf("stored subject = %v", doc)
		}
		var lim map[string]any
		if code := r.get("/"+prefix+"subjects/"+url.PathEscape("alice/limits"), &lim); code != http.StatusOK ||
			lim["invocationsPerMinute"] != float64(0) {
			t.Fatalf("stored limits (%d) = %v", code, lim)
		}
		var blocked struct {
			Rows []struct {
				Key   string `json:"key"`
				Value int    `json:"value"`
			} `json:"rows"`
		}
		r.get("/"+prefix+"subjects/_design/namespaceThrottlings/_view/blockedNamespaces?reduce=false", &blocked)
		if len(blocked.Rows) != 1 || blocked.Rows[0].Key != "alice" {
			t.Fatalf("blockedNamespaces rows = %+v", blocked.Rows)
		}
	})

	t.Run("ReopenExisting", func(t *testing.T) {
		again := open(t, srv, prefix)
		d, err := again.Entities().Get(t.Context(), entity.KindAction, entity.NewFQN("guest", "pkg", "hello"))
		if err != nil || d.UpdatedAt() != 1234 {
			t.Fatalf("Get through a second client = %v, %v", d, err)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	srv := pouchdb.Start(t)
	ctx := t.Context()
	_, err := couchdb.Open(ctx, couchdb.Config{URL: srv.URL, Username: srv.Username, Password: srv.Password, Prefix: "Upper_"})
	if !errors.Is(err, entity.ErrInvalid) {
		t.Errorf("Open with an upper-case prefix: %v, want ErrInvalid", err)
	}
	if _, err := couchdb.Open(ctx, couchdb.Config{URL: srv.URL, Username: srv.Username, Password: "wrong", Prefix: "x_"}); err == nil {
		t.Error("Open with a wrong password succeeded")
	}
}

func TestBatchedWrites(t *testing.T) {
	srv := pouchdb.Start(t)
	c := open(t, srv, srv.NewPrefix())
	acts := c.Activations()
	const n = 1234 // more than two batches of 500
	for i := range n {
		if err := acts.Put(t.Context(), storetest.Activation("bulk", "", "a", int64(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	if err := acts.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, err := acts.Count(t.Context(), "bulk", entity.ActivationQuery{}); err != nil || got != n {
		t.Fatalf("Count = %d, %v; want %d", got, err, n)
	}
	page, err := acts.List(t.Context(), "bulk", entity.ActivationQuery{Skip: 10, Limit: 3})
	if err != nil || len(page) != 3 || page[0].Start != n-10 {
		t.Fatalf("List skip 10 limit 3 = %d records, %v", len(page), err)
	}
}

func TestPutAfterClose(t *testing.T) {
	srv := pouchdb.Start(t)
	prefix := srv.NewPrefix()
	c, err := couchdb.Open(t.Context(), couchdb.Config{URL: srv.URL, Username: srv.Username, Password: srv.Password, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	a := storetest.Activation("guest", "", "x", 1)
	if err := c.Activations().Put(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Activations().Put(t.Context(), storetest.Activation("guest", "", "y", 2)); err == nil {
		t.Fatal("Put after Close succeeded")
	}
	// Close wrote the queued record.
	got, err := open(t, srv, prefix).Activations().Get(t.Context(), "guest", a.ActivationID)
	if err != nil || got.ActivationID != a.ActivationID {
		t.Fatalf("Get after Close = %v, %v", got, err)
	}
}

func TestOpenRewritesChangedDesignDocument(t *testing.T) {
	srv := pouchdb.Start(t)
	prefix := srv.NewPrefix()
	open(t, srv, prefix)
	// Someone replaced the activations view with another function.
	var dd map[string]any
	r := raw{t, srv}
	path := "/" + prefix + "activations/_design/whisks.v2.1.0"
	r.get(path, &dd)
	dd["views"] = map[string]any{"activations": map[string]string{"map": "function (doc) {}"}}
	body, _ := json.Marshal(dd)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, srv.URL+path, strings.NewReader(string(body)))
	req.SetBasicAuth(srv.Username, srv.Password)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("replace design document: %v %v", resp, err)
	}
	resp.Body.Close()

	c := open(t, srv, prefix)
	a := storetest.Activation("guest", "", "x", 1)
	if err := c.Activations().Put(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	if err := c.Activations().Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Activations().Count(t.Context(), "guest", entity.ActivationQuery{}); err != nil || n != 1 {
		t.Fatalf("Count after reopening = %d, %v; want 1 (view restored)", n, err)
	}
}

// faultyProxy forwards to the server but answers 503 to the first fail
// _bulk_docs requests.
func faultyProxy(t *testing.T, srv *pouchdb.Server, fail int) string {
	t.Helper()
	target, _ := url.Parse(srv.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var failed atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasSuffix(req.URL.Path, "/_bulk_docs") && strings.Contains(req.URL.Path, "activations") &&
			failed.Add(1) <= int64(fail) {
			http.Error(w, `{"error":"unavailable","reason":"injected"}`, http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

func TestActivationWriteRetries(t *testing.T) {
	srv := pouchdb.Start(t)
	for _, tc := range []struct {
		name    string
		fail    int
		written bool
	}{
		{"two failures then success", 2, true},
		{"three failures lose the batch", 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := couchdb.Open(t.Context(), couchdb.Config{URL: faultyProxy(t, srv, tc.fail),
				Username: srv.Username, Password: srv.Password, Prefix: srv.NewPrefix()})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			a := storetest.Activation("guest", "", "x", 1)
			if err := c.Activations().Put(t.Context(), a); err != nil {
				t.Fatal(err)
			}
			err = c.Activations().Flush(t.Context())
			_, getErr := c.Activations().Get(t.Context(), "guest", a.ActivationID)
			if tc.written {
				if err != nil || getErr != nil {
					t.Fatalf("Flush = %v, Get = %v; want the record written", err, getErr)
				}
				return
			}
			if err == nil {
				t.Fatal("Flush reported no error for a lost batch")
			}
			if !errors.Is(getErr, entity.ErrNotFound) {
				t.Fatalf("Get of a lost record = %v, want ErrNotFound", getErr)
			}
		})
	}
}

// TestPendingRecordsWhileWriteBlocked holds the writer's _bulk_docs
// request: queued records are served from memory, and a Put facing a full
// queue gives up when its context ends.
func TestPendingRecordsWhileWriteBlocked(t *testing.T) {
	srv := pouchdb.Start(t)
	target, _ := url.Parse(srv.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	release := make(chan struct{})
	entered := make(chan struct{}, 16)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasSuffix(req.URL.Path, "/_bulk_docs") && strings.Contains(req.URL.Path, "activations") {
			entered <- struct{}{}
			<-release
		}
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(ts.Close)
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }

	c, err := couchdb.Open(t.Context(), couchdb.Config{URL: ts.URL, Username: srv.Username, Password: srv.Password,
		Prefix: srv.NewPrefix(), MaxBatch: 1, QueueSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	t.Cleanup(unblock) // runs before Close if the test stops early
	acts := c.Activations()
	first := storetest.Activation("guest", "", "x", 100)
	second := storetest.Activation("guest", "", "x", 200)
	if err := acts.Put(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	<-entered // the writer holds first in a blocked request
	if err := acts.Put(t.Context(), second); err != nil {
		t.Fatal(err) // fills the queue
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := acts.Put(ctx, storetest.Activation("guest", "", "x", 300)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put on a full queue with an ended context = %v, want context.Canceled", err)
	}
	for _, a := range []*entity.Activation{first, second} {
		if got, err := acts.Get(t.Context(), "guest", a.ActivationID); err != nil || got.Start != a.Start {
			t.Fatalf("Get of a record not yet written = %v, %v", got, err)
		}
	}
	got, err := acts.List(t.Context(), "guest", entity.ActivationQuery{})
	if err != nil || len(got) != 2 || got[0].ActivationID != second.ActivationID || got[1].ActivationID != first.ActivationID {
		t.Fatalf("List of records not yet written = %d records, %v", len(got), err)
	}
	unblock()
	if err := acts.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n, err := acts.Count(t.Context(), "guest", entity.ActivationQuery{}); err != nil || n != 2 {
		t.Fatalf("Count after Flush = %d, %v; want 2 (the cancelled Put left nothing)", n, err)
	}
}
