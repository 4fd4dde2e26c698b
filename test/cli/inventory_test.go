package cli

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// kvStore is the small HTTP key-value service outside the sandbox that
// keeps the product counts: GET /kv/{key} reads a count, POST
// /kv/{key}?add=N adds to it atomically and returns the new count.
type kvStore struct {
	mu     sync.Mutex
	counts map[string]int
}

func (s *kvStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutPrefix(r.URL.Path, "/kv/")
	if !ok || key == "" {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		n, err := strconv.Atoi(r.URL.Query().Get("add"))
		if err != nil {
			http.Error(w, "add must be an integer", http.StatusBadRequest)
			return
		}
		s.counts[key] += n
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"key": key, "count": s.counts[key]})
}

// inventoryMain is the updateInventory action: it adds stock_change to the
// count of product_id in the store and returns the new count.
const inventoryMain = `import json
import urllib.request


def main(args):
    product = str(args["product_id"])
    change = int(args["stock_change"])
    url = "%s/kv/product-%s?add=%d" % (args["store_url"], product, change)
    req = urllib.request.Request(url, data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        stored = json.load(resp)
    return {"product_id": product, "stock_change": change, "count": stored["count"]}
`

// TestInventory is the example of issue 4 as a user types it: a python zip
// action keeping stock counts in an external store, two triggers with a
// default stock_change, two rules, three fires, and the counts read back
// with wsk activation result: 10 → 9 → 8.
func TestInventory(t *testing.T) {
	e := setup(t)
	store := &kvStore{counts: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: store, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	storeURL := "http://" + ln.Addr().String()

	if err := os.WriteFile(filepath.Join(e.dir, "inventory.zip"), zipOf(t, map[string]string{"__main__.py": inventoryMain}), 0o644); err != nil {
		t.Fatal(err)
	}
	e.ok(t, "property", "set", "--apihost", e.srv.apihost, "--auth", e.srv.auth)

	want := func(out, text string) {
		t.Helper()
		if strings.TrimSpace(out) != text {
			t.Fatalf("got %q, want %q", out, text)
		}
	}
	want(e.ok(t, "action", "create", "updateInventory", "inventory.zip", "--kind", "python:3", "--param", "store_url", storeURL),
		"ok: created action updateInventory")
	want(e.ok(t, "trigger", "create", "itemSold", "--param", "stock_change", "-1"), "ok: created trigger itemSold")
	want(e.ok(t, "trigger", "create", "itemRestocked", "--param", "stock_change", "1"), "ok: created trigger itemRestocked")
	want(e.ok(t, "rule", "create", "saleRule", "itemSold", "updateInventory"), "ok: created rule saleRule")
	want(e.ok(t, "rule", "create", "restockRule", "itemRestocked", "updateInventory"), "ok: created rule restockRule")

	var counts []int
	seen := map[string]bool{}
	for _, fire := range [][]string{
		{"trigger", "fire", "itemRestocked", "-p", "product_id", "42", "-p", "stock_change", "10"},
		{"trigger", "fire", "itemSold", "-p", "product_id", "42"},
		{"trigger", "fire", "itemSold", "-p", "product_id", "42"},
	} {
		out := e.ok(t, fire...)
		if !regexp.MustCompile(`^ok: triggered /_/` + fire[2] + ` with id [0-9a-f]{32}\n$`).MatchString(out) {
			t.Fatalf("wsk %s printed %q", strings.Join(fire, " "), out)
		}
		// As a user would: wait for the rule's activation of
		// updateInventory to show up, then read its result.
		id := awaitNewActivation(t, e, "updateInventory", seen)
		var res struct {
			ProductID   string `json:"product_id"`
			StockChange int    `json:"stock_change"`
			Count       int    `json:"count"`
		}
		if err := json.Unmarshal([]byte(e.ok(t, "activation", "result", id)), &res); err != nil {
			t.Fatalf("wsk activation result %s: %v", id, err)
		}
		if res.ProductID != "42" {
			t.Errorf("activation %s: product_id %q, want 42", id, res.ProductID)
		}
		counts = append(counts, res.Count)
	}
	if len(counts) != 3 || counts[0] != 10 || counts[1] != 9 || counts[2] != 8 {
		t.Fatalf("counts %v, want 10 → 9 → 8", counts)
	}
	store.mu.Lock()
	final := store.counts["product-42"]
	store.mu.Unlock()
	if final != 8 {
		t.Fatalf("the store holds %d for product 42, want 8", final)
	}
	list := e.ok(t, "activation", "list", "updateInventory")
	if n := strings.Count(list, "guest/updateInventory:0.0.1"); n != 3 {
		t.Errorf("activation list shows %d updateInventory activations, want 3:\n%s", n, list)
	}
}

var tableID = regexp.MustCompile(`(?m)^\S+ \S+ ([0-9a-f]{32}) `)

// awaitNewActivation waits until `wsk activation list NAME` shows an
// activation not in seen, marks it seen and returns its id.
func awaitNewActivation(t *testing.T, e *env, name string, seen map[string]bool) string {
	t.Helper()
	deadline := time.Now().Add(readyWait)
	for {
		for _, m := range tableID.FindAllStringSubmatch(e.ok(t, "activation", "list", name), -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				return m[1]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new activation of %s within %v\nserver log:\n%s", name, readyWait, tail(e.srv.stderr.String()))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(s string) string {
	if len(s) > 4000 {
		return s[len(s)-4000:]
	}
	return s
}
