//go:build integration

package main

import (
	"strings"
	"testing"

	"github.com/gowhisk/gowhisk/test/integration/pouchdb"
)

// TestAdminCouchDB runs the admin commands against a CouchDB-API server,
// configured through the environment as an operator would.
func TestAdminCouchDB(t *testing.T) {
	srv := pouchdb.Start(t)
	vars := map[string]string{
		"GOWHISK_COUCHDB_URL":      srv.URL,
		"GOWHISK_COUCHDB_USER":     srv.Username,
		"GOWHISK_COUCHDB_PASSWORD": srv.Password,
		"GOWHISK_DB_PREFIX":        srv.NewPrefix(),
	}
	admin := func(args ...string) string {
		t.Helper()
		code, out, errOut := gowhisk(t, vars, append([]string{"admin"}, args...)...)
		if code != 0 {
			t.Fatalf("admin %v = %d, stderr %q", args, code, errOut)
		}
		return out
	}

	key := admin("user", "create", "carol", "-n", "team7")
	if !authRE.MatchString(key) {
		t.Fatalf("user create printed %q", key)
	}
	if got := admin("user", "get", "carol", "-n", "team7"); got != key {
		t.Fatalf("user get = %q, want %q", got, key)
	}
	if got := admin("user", "list", "team7"); got != strings.TrimSpace(key)+"\tcarol\n" {
		t.Fatalf("user list = %q", got)
	}
	admin("user", "block", "carol")
	if got := admin("user", "list", "team7"); !strings.HasSuffix(got, "\tcarol\tblocked\n") {
		t.Fatalf("user list after block = %q", got)
	}
	admin("user", "unblock", "carol")

	admin("limits", "set", "team7", "--invocationsPerMinute", "11", "--storeActivations", "true")
	if got := admin("limits", "get", "team7"); got != "invocationsPerMinute = 11\nstoreActivations = true\n" {
		t.Fatalf("limits get = %q", got)
	}
	admin("limits", "delete", "team7")
	if got := admin("limits", "get", "team7"); got != "No limits found, default system limits apply\n" {
		t.Fatalf("limits get after delete = %q", got)
	}

	if got := admin("user", "delete", "carol"); got != "Subject deleted\n" {
		t.Fatalf("user delete printed %q", got)
	}
	if code, _, errOut := gowhisk(t, vars, "admin", "user", "get", "carol"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Fatalf("user get after delete = %d %q", code, errOut)
	}

	// A wrong password is reported, not a crash.
	bad := map[string]string{}
	for k, v := range vars {
		bad[k] = v
	}
	bad["GOWHISK_COUCHDB_PASSWORD"] = "wrong"
	if code, _, errOut := gowhisk(t, bad, "admin", "user", "get", "carol"); code != 1 || !strings.Contains(errOut, "CouchDB") {
		t.Fatalf("wrong password = %d %q, want an error naming CouchDB", code, errOut)
	}
}
