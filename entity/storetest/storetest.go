// Package storetest is the conformance suite every entity store adapter
// (boltstore, couchdb, ...) runs: one set of subtests that pins down the
// error contracts and ordering rules documented on the seams of
// entity/store.go.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/gowhisk/gowhisk/entity"
)

// Stores is one store adapter's three seams, opened empty.
type Stores struct {
	Entities    entity.Store
	Activations entity.Activations
	Subjects    entity.SubjectAdmin
}

// Run runs the conformance suite. open is called once per subtest and must
// return fresh, empty stores; it should register their cleanup with
// t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) Stores) {
	t.Run("Entities", func(t *testing.T) { runEntities(t, open) })
	t.Run("Activations", func(t *testing.T) { runActivations(t, open) })
	t.Run("Subjects", func(t *testing.T) { runSubjects(t, open) })
}

// subtest is one named case of the suite.
type subtest struct {
	name string
	fn   func(t *testing.T, s Stores)
}

func runAll(t *testing.T, open func(t *testing.T) Stores, cases []subtest) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			if s.Entities == nil || s.Activations == nil || s.Subjects == nil {
				t.Fatal("open returned a Stores with a nil seam")
			}
			c.fn(t, s)
		})
	}
}

// wantErr fails the test unless err wraps kind.
func wantErr(t *testing.T, what string, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("%s: got error %v, want one wrapping %q", what, err, kind)
	}
}

// noErr fails the test if err is not nil.
func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", what, err)
	}
}

func ctxOf(t *testing.T) context.Context { return t.Context() }

func jsonEqual(t *testing.T, what string, got, want json.RawMessage) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: got invalid JSON %q: %v", what, got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: want invalid JSON %q: %v", what, want, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Fatalf("%s: got %s, want %s", what, gb, wb)
	}
}
