package storetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/gowhisk/gowhisk/entity"
)

func runEntities(t *testing.T, open func(t *testing.T) Stores) {
	runAll(t, open, []subtest{
		{"CreateAndGet", testCreateAndGet},
		{"RoundTripEveryKind", testRoundTripEveryKind},
		{"GetMissing", testGetMissing},
		{"GetWrongKind", testGetWrongKind},
		{"CreateExisting", testCreateExisting},
		{"UpdateCurrentRevision", testUpdateCurrent},
		{"UpdateStaleRevision", testUpdateStale},
		{"UpdateDeleted", testUpdateDeleted},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"Delete", testDelete},
		{"PackagedActions", testPackagedActions},
		{"ListOrderNewestFirst", testListOrder},
		{"ListPagingAndCount", testListPaging},
		{"ListKindsSeparate", testListKinds},
		{"NamespaceIsolation", testNamespaceIsolation},
	})
}

// Action builds an action document named ns[/pkg]/name, updated at updated
// (epoch ms). Exported for adapters' own tests and benchmarks.
func Action(ns, pkg, name string, updated int64) *entity.Action {
	a := &entity.Action{}
	n := entity.NewFQN(ns, pkg, name)
	a.Namespace, a.Name = n.Path, n.Name
	a.Version = entity.SemVer{Major: 0, Minor: 0, Patch: 1}
	a.Updated = updated
	a.Exec = entity.Exec{Kind: "nodejs:20", Code: "function main(p) { return p }"}
	a.Parameters = entity.Params{{Key: "greeting", Value: json.RawMessage(`"hello"`)}}
	a.Annotations = entity.Params{{Key: "exec", Value: json.RawMessage(`"nodejs:20"`)}}
	a.Limits = entity.ActionLimits{Timeout: 60000, Memory: 256, Logs: 10, Concurrency: 1}
	return a
}

func trigger(ns, name string, updated int64) *entity.Trigger {
	tr := &entity.Trigger{}
	tr.Namespace, tr.Name, tr.Updated = entity.EntityPath(ns), name, updated
	tr.Version = entity.SemVer{Patch: 1}
	tr.Parameters = entity.Params{}
	tr.Annotations = entity.Params{}
	return tr
}

func rule(ns, name string, updated int64) *entity.Rule {
	r := &entity.Rule{}
	r.Namespace, r.Name, r.Updated = entity.EntityPath(ns), name, updated
	r.Version = entity.SemVer{Patch: 1}
	r.Annotations = entity.Params{}
	r.Trigger = entity.NewFQN(ns, "", "t")
	r.Action = entity.NewFQN(ns, "", "a")
	return r
}

func pkg(ns, name string, updated int64) *entity.Package {
	p := &entity.Package{}
	p.Namespace, p.Name, p.Updated = entity.EntityPath(ns), name, updated
	p.Version = entity.SemVer{Patch: 1}
	p.Parameters = entity.Params{}
	p.Annotations = entity.Params{}
	return p
}

func put(t *testing.T, s Stores, d entity.Document) string {
	t.Helper()
	rev, err := s.Entities.Put(ctxOf(t), d)
	noErr(t, "Put "+d.FullName().DocID(), err)
	if rev == "" {
		t.Fatalf("Put %s returned an empty revision", d.FullName().DocID())
	}
	return rev
}

func names(docs []entity.Document) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.FullName().DocID()
	}
	return out
}

func wantNames(t *testing.T, what string, docs []entity.Document, want ...string) {
	t.Helper()
	got := names(docs)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
}

func testCreateAndGet(t *testing.T, s Stores) {
	a := Action("guest", "", "hello", 1000)
	rev := put(t, s, a)
	d, err := s.Entities.Get(ctxOf(t), entity.KindAction, a.FullName())
	noErr(t, "Get", err)
	got, ok := d.(*entity.Action)
	if !ok {
		t.Fatalf("Get returned %T, want *entity.Action", d)
	}
	if got.Revision() != rev {
		t.Fatalf("Get revision = %q, want the one Put returned %q", got.Revision(), rev)
	}
	if got.FullName() != a.FullName() || got.Updated != 1000 || got.Version != a.Version {
		t.Fatalf("Get = %+v, want name, updated and version of %+v", got, a)
	}
	if got.Exec.Kind != "nodejs:20" || got.Exec.Code != a.Exec.Code {
		t.Fatalf("Get exec = %+v, want %+v", got.Exec, a.Exec)
	}
	if got.Limits != a.Limits {
		t.Fatalf("Get limits = %+v, want %+v", got.Limits, a.Limits)
	}
	if v, ok := got.Parameters.Get("greeting"); !ok {
		t.Fatal("Get lost the parameter greeting")
	} else {
		jsonEqual(t, "parameter greeting", v, json.RawMessage(`"hello"`))
	}
}

func testRoundTripEveryKind(t *testing.T, s Stores) {
	tr := trigger("guest", "t", 1)
	tr.Rules = map[string]entity.ReducedRule{"guest/r": {Action: entity.NewFQN("guest", "", "a"), Status: entity.StatusActive}}
	r := rule("guest", "r", 2)
	p := pkg("guest", "p", 3)
	p.Binding = entity.Binding{Namespace: "other", Name: "shared"}
	p.Publish = true
	seq := Action("guest", "", "seq", 4)
	seq.Exec = entity.Exec{Kind: entity.KindSequence, Components: []string{"/guest/a", "/guest/p/b"}}
	for _, d := range []entity.Document{tr, r, p, seq} {
		rev := put(t, s, d)
		got, err := s.Entities.Get(ctxOf(t), d.EntityKind(), d.FullName())
		noErr(t, "Get "+string(d.EntityKind()), err)
		if got.EntityKind() != d.EntityKind() || got.FullName() != d.FullName() || got.Revision() != rev {
			t.Fatalf("Get %s = %s %s rev %q, want %s %s rev %q", d.EntityKind(),
				got.EntityKind(), got.FullName(), got.Revision(), d.EntityKind(), d.FullName(), rev)
		}
	}
	gt, _ := s.Entities.Get(ctxOf(t), entity.KindTrigger, tr.FullName())
	if rr := gt.(*entity.Trigger).Rules["guest/r"]; rr.Status != entity.StatusActive || rr.Action != entity.NewFQN("guest", "", "a") {
		t.Fatalf("trigger rules not kept: %+v", gt.(*entity.Trigger).Rules)
	}
	gr, _ := s.Entities.Get(ctxOf(t), entity.KindRule, r.FullName())
	if got := gr.(*entity.Rule); got.Trigger != r.Trigger || got.Action != r.Action {
		t.Fatalf("rule refs not kept: %+v", got)
	}
	gp, _ := s.Entities.Get(ctxOf(t), entity.KindPackage, p.FullName())
	if got := gp.(*entity.Package); got.Binding != p.Binding || !got.Publish {
		t.Fatalf("package binding/publish not kept: %+v", got)
	}
	ga, _ := s.Entities.Get(ctxOf(t), entity.KindAction, seq.FullName())
	if got := ga.(*entity.Action); got.Exec.Kind != entity.KindSequence || fmt.Sprint(got.Exec.Components) != fmt.Sprint(seq.Exec.Components) {
		t.Fatalf("sequence exec not kept: %+v", got.Exec)
	}
}

func testGetMissing(t *testing.T, s Stores) {
	_, err := s.Entities.Get(ctxOf(t), entity.KindAction, entity.NewFQN("guest", "", "nope"))
	wantErr(t, "Get missing action", err, entity.ErrNotFound)
	_, err = s.Entities.Get(ctxOf(t), entity.KindAction, entity.NewFQN("guest", "pkg", "nope"))
	wantErr(t, "Get missing packaged action", err, entity.ErrNotFound)
}

func testGetWrongKind(t *testing.T, s Stores) {
	put(t, s, trigger("guest", "thing", 1))
	for _, k := range []entity.Kind{entity.KindAction, entity.KindRule, entity.KindPackage} {
		_, err := s.Entities.Get(ctxOf(t), k, entity.NewFQN("guest", "", "thing"))
		wantErr(t, "Get trigger as "+string(k), err, entity.ErrWrongCollection)
	}
	if _, err := s.Entities.Get(ctxOf(t), entity.KindTrigger, entity.NewFQN("guest", "", "thing")); err != nil {
		t.Fatalf("Get trigger as trigger: %v", err)
	}
}

func testCreateExisting(t *testing.T, s Stores) {
	put(t, s, Action("guest", "", "x", 1))
	_, err := s.Entities.Put(ctxOf(t), Action("guest", "", "x", 2))
	wantErr(t, "create existing action", err, entity.ErrExists)
	_, err = s.Entities.Put(ctxOf(t), trigger("guest", "x", 2))
	wantErr(t, "create trigger over an action", err, entity.ErrExists)
	_, err = s.Entities.Put(ctxOf(t), pkg("guest", "x", 2))
	wantErr(t, "create package over an action", err, entity.ErrExists)
	d, err := s.Entities.Get(ctxOf(t), entity.KindAction, entity.NewFQN("guest", "", "x"))
	noErr(t, "Get after failed creates", err)
	if d.UpdatedAt() != 1 {
		t.Fatalf("a failed create changed the document: updated = %d", d.UpdatedAt())
	}
}

func testUpdateCurrent(t *testing.T, s Stores) {
	a := Action("guest", "", "u", 1)
	rev1 := put(t, s, a)
	b := Action("guest", "", "u", 2)
	b.Exec.Code = "function main() { return {v: 2} }"
	b.SetRevision(rev1)
	rev2 := put(t, s, b)
	if rev2 == rev1 {
		t.Fatalf("update kept the revision %q", rev1)
	}
	d, err := s.Entities.Get(ctxOf(t), entity.KindAction, a.FullName())
	noErr(t, "Get after update", err)
	if d.Revision() != rev2 || d.(*entity.Action).Exec.Code != b.Exec.Code || d.UpdatedAt() != 2 {
		t.Fatalf("Get after update = rev %q code %q updated %d, want rev %q code %q updated 2",
			d.Revision(), d.(*entity.Action).Exec.Code, d.UpdatedAt(), rev2, b.Exec.Code)
	}
	c := Action("guest", "", "u", 3)
	c.SetRevision(rev2)
	rev3 := put(t, s, c)
	if rev3 == rev2 || rev3 == rev1 {
		t.Fatalf("third revision %q repeats an earlier one (%q, %q)", rev3, rev1, rev2)
	}
}

func testUpdateStale(t *testing.T, s Stores) {
	rev1 := put(t, s, Action("guest", "", "u", 1))
	b := Action("guest", "", "u", 2)
	b.SetRevision(rev1)
	rev2 := put(t, s, b)
	c := Action("guest", "", "u", 3)
	c.SetRevision(rev1)
	_, err := s.Entities.Put(ctxOf(t), c)
	wantErr(t, "update at a stale revision", err, entity.ErrConflict)
	c.SetRevision("99-0123456789abcdef0123456789abcdef")
	_, err = s.Entities.Put(ctxOf(t), c)
	wantErr(t, "update at an unknown revision", err, entity.ErrConflict)
	d, err := s.Entities.Get(ctxOf(t), entity.KindAction, c.FullName())
	noErr(t, "Get after conflicts", err)
	if d.Revision() != rev2 || d.UpdatedAt() != 2 {
		t.Fatalf("a conflicting update changed the document: rev %q updated %d", d.Revision(), d.UpdatedAt())
	}
}

func testUpdateDeleted(t *testing.T, s Stores) {
	a := Action("guest", "", "gone", 1)
	rev := put(t, s, a)
	noErr(t, "Delete", s.Entities.Delete(ctxOf(t), entity.KindAction, a.FullName(), rev))
	b := Action("guest", "", "gone", 2)
	b.SetRevision(rev)
	_, err := s.Entities.Put(ctxOf(t), b)
	wantErr(t, "update of a deleted document", err, entity.ErrConflict)
	_, err = s.Entities.Get(ctxOf(t), entity.KindAction, a.FullName())
	wantErr(t, "Get after update of deleted", err, entity.ErrNotFound)
}

func testConcurrentUpdates(t *testing.T, s Stores) {
	rev := put(t, s, Action("guest", "", "race", 1))
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	revs := make([]string, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := Action("guest", "", "race", int64(10+i))
			d.SetRevision(rev)
			<-start
			revs[i], errs[i] = s.Entities.Put(ctxOf(t), d)
		}()
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("two updates of the same revision succeeded: %d and %d", winner, i)
			}
			winner = i
		default:
			wantErr(t, fmt.Sprintf("losing update %d", i), err, entity.ErrConflict)
		}
	}
	if winner < 0 {
		t.Fatal("no concurrent update succeeded")
	}
	d, err := s.Entities.Get(ctxOf(t), entity.KindAction, entity.NewFQN("guest", "", "race"))
	noErr(t, "Get after race", err)
	if d.Revision() != revs[winner] || d.UpdatedAt() != int64(10+winner) {
		t.Fatalf("stored doc rev %q updated %d, want the winner's rev %q updated %d",
			d.Revision(), d.UpdatedAt(), revs[winner], 10+winner)
	}
}

func testDelete(t *testing.T, s Stores) {
	ctx := ctxOf(t)
	a := Action("guest", "", "d", 1)
	rev1 := put(t, s, a)
	b := Action("guest", "", "d", 2)
	b.SetRevision(rev1)
	rev2 := put(t, s, b)

	wantErr(t, "Delete at stale rev", s.Entities.Delete(ctx, entity.KindAction, a.FullName(), rev1), entity.ErrConflict)
	wantErr(t, "Delete as wrong kind", s.Entities.Delete(ctx, entity.KindTrigger, a.FullName(), ""), entity.ErrWrongCollection)
	if _, err := s.Entities.Get(ctx, entity.KindAction, a.FullName()); err != nil {
		t.Fatalf("failed deletes removed the document: %v", err)
	}
	noErr(t, "Delete at current rev", s.Entities.Delete(ctx, entity.KindAction, a.FullName(), rev2))
	_, err := s.Entities.Get(ctx, entity.KindAction, a.FullName())
	wantErr(t, "Get after delete", err, entity.ErrNotFound)
	wantErr(t, "Delete again", s.Entities.Delete(ctx, entity.KindAction, a.FullName(), ""), entity.ErrNotFound)
	wantErr(t, "Delete missing with rev", s.Entities.Delete(ctx, entity.KindAction, a.FullName(), rev2), entity.ErrNotFound)

	tr := trigger("guest", "t", 1)
	put(t, s, tr)
	noErr(t, "Delete without rev", s.Entities.Delete(ctx, entity.KindTrigger, tr.FullName(), ""))
	_, err = s.Entities.Get(ctx, entity.KindTrigger, tr.FullName())
	wantErr(t, "Get trigger after delete", err, entity.ErrNotFound)

	// The name is free again for any kind.
	put(t, s, pkg("guest", "d", 3))
	if n, err := s.Entities.Count(ctx, entity.KindAction, "guest"); err != nil || n != 0 {
		t.Fatalf("Count actions after delete = %d, %v; want 0", n, err)
	}
}

func testPackagedActions(t *testing.T, s Stores) {
	ctx := ctxOf(t)
	put(t, s, pkg("guest", "pkg", 1))
	put(t, s, Action("guest", "", "top", 10))
	put(t, s, Action("guest", "pkg", "inner", 20))
	put(t, s, Action("guest", "pkg", "inner2", 30))
	put(t, s, Action("guest", "pkg2", "other", 40))
	put(t, s, Action("guest", "pk", "short", 50))

	d, err := s.Entities.Get(ctx, entity.KindAction, entity.NewFQN("guest", "pkg", "inner"))
	noErr(t, "Get packaged action", err)
	if d.FullName() != entity.NewFQN("guest", "pkg", "inner") {
		t.Fatalf("Get packaged action name = %v", d.FullName())
	}
	_, err = s.Entities.Get(ctx, entity.KindAction, entity.NewFQN("guest", "", "inner"))
	wantErr(t, "Get packaged action without its package", err, entity.ErrNotFound)

	all, err := s.Entities.List(ctx, entity.KindAction, "guest", entity.ListQuery{})
	noErr(t, "List namespace", err)
	wantNames(t, "List namespace", all, "guest/pk/short", "guest/pkg2/other", "guest/pkg/inner2", "guest/pkg/inner", "guest/top")
	in, err := s.Entities.List(ctx, entity.KindAction, "guest/pkg", entity.ListQuery{})
	noErr(t, "List package", err)
	wantNames(t, "List package", in, "guest/pkg/inner2", "guest/pkg/inner")
	if n, err := s.Entities.Count(ctx, entity.KindAction, "guest/pkg"); err != nil || n != 2 {
		t.Fatalf("Count package = %d, %v; want 2", n, err)
	}
	if n, err := s.Entities.Count(ctx, entity.KindAction, "guest"); err != nil || n != 5 {
		t.Fatalf("Count namespace = %d, %v; want 5", n, err)
	}
	none, err := s.Entities.List(ctx, entity.KindAction, "guest/empty", entity.ListQuery{})
	noErr(t, "List empty package", err)
	wantNames(t, "List empty package", none)
	pkgs, err := s.Entities.List(ctx, entity.KindPackage, "guest", entity.ListQuery{})
	noErr(t, "List packages", err)
	wantNames(t, "List packages", pkgs, "guest/pkg")
}

func testListOrder(t *testing.T, s Stores) {
	ctx := ctxOf(t)
	// Created in an order unrelated to their update times.
	put(t, s, Action("guest", "", "b", 200))
	put(t, s, Action("guest", "", "c", 100))
	put(t, s, Action("guest", "", "a", 300))
	put(t, s, Action("guest", "", "d", 150))
	got, err := s.Entities.List(ctx, entity.KindAction, "guest", entity.ListQuery{})
	noErr(t, "List", err)
	wantNames(t, "List", got, "guest/a", "guest/b", "guest/d", "guest/c")
	for _, d := range got {
		if _, ok := d.(*entity.Action); !ok {
			t.Fatalf("List returned %T, want *entity.Action", d)
		}
		if d.Revision() == "" {
			t.Fatalf("List returned %s without a revision", d.FullName())
		}
	}
	// An update moves the document to its new place.
	c, err := s.Entities.Get(ctx, entity.KindAction, entity.NewFQN("guest", "", "c"))
	noErr(t, "Get c", err)
	up := Action("guest", "", "c", 400)
	up.SetRevision(c.Revision())
	put(t, s, up)
	got, err = s.Entities.List(ctx, entity.KindAction, "guest", entity.ListQuery{})
	noErr(t, "List after update", err)
	wantNames(t, "List after update", got, "guest/c", "guest/a", "guest/b", "guest/d")
}

func testListPaging(t *testing.T, s Stores) {
	ctx := ctxOf(t)
	for i := range 7 {
		put(t, s, trigger("guest", fmt.Sprintf("t%d", i), int64(1000+i)))
	}
	page := func(skip, limit int, want ...string) {
		t.Helper()
		got, err := s.Entities.List(ctx, entity.KindTrigger, "guest", entity.ListQuery{Skip: skip, Limit: limit})
		noErr(t, fmt.Sprintf("List skip=%d limit=%d", skip, limit), err)
		wantNames(t, fmt.Sprintf("List skip=%d limit=%d", skip, limit), got, want...)
	}
	page(0, 3, "guest/t6", "guest/t5", "guest/t4")
	page(3, 3, "guest/t3", "guest/t2", "guest/t1")
	page(6, 3, "guest/t0")
	page(7, 3)
	page(100, 0)
	page(5, 0, "guest/t1", "guest/t0")
	page(0, 0, "guest/t6", "guest/t5", "guest/t4", "guest/t3", "guest/t2", "guest/t1", "guest/t0")
	n, err := s.Entities.Count(ctx, entity.KindTrigger, "guest")
	if err != nil || n != 7 {
		t.Fatalf("Count = %d, %v; want 7", n, err)
	}
}

func testListKinds(t *testing.T, s Stores) {
	ctx := ctxOf(t)
	put(t, s, Action("guest", "", "a", 1))
	put(t, s, trigger("guest", "t", 2))
	put(t, s, rule("guest", "r", 3))
	put(t, s, pkg("guest", "p", 4))
	want := map[entity.Kind]string{entity.KindAction: "guest/a", entity.KindTrigger: "guest/t", entity.KindRule: "guest/r", entity.KindPackage: "guest/p"}
	for k, name := range want {
		got, err := s.Entities.List(ctx, k, "guest", entity.ListQuery{})
		noErr(t, "List "+string(k), err)
		wantNames(t, "List "+string(k), got, name)
		if got[0].EntityKind() != k {
			t.Fatalf("List %s returned a %s", k, got[0].EntityKind())
		}
		if n, err := s.Entities.Count(ctx, k, "guest"); err != nil || n != 1 {
			t.Fatalf("Count %s = %d, %v; want 1", k, n, err)
		}
	}
}

func testNamespaceIsolation(t *testing.T, s Stores) {
	ctx := ctxOf(t)
	put(t, s, Action("guest", "", "a", 1))
	put(t, s, Action("guest", "p", "b", 2))
	put(t, s, Action("guest2", "", "a", 3))
	put(t, s, Action("gues", "", "a", 4))
	put(t, s, Action("other", "p", "b", 5))
	// Same names in other namespaces are distinct documents.
	_, err := s.Entities.Get(ctx, entity.KindAction, entity.NewFQN("nobody", "", "a"))
	wantErr(t, "Get in another namespace", err, entity.ErrNotFound)
	for ns, want := range map[entity.EntityPath][]string{
		"guest":   {"guest/p/b", "guest/a"},
		"guest2":  {"guest2/a"},
		"gues":    {"gues/a"},
		"other":   {"other/p/b"},
		"other/p": {"other/p/b"},
		"nobody":  nil,
	} {
		got, err := s.Entities.List(ctx, entity.KindAction, ns, entity.ListQuery{})
		noErr(t, "List "+string(ns), err)
		wantNames(t, "List "+string(ns), got, want...)
		if n, err := s.Entities.Count(ctx, entity.KindAction, ns); err != nil || n != len(want) {
			t.Fatalf("Count %s = %d, %v; want %d", ns, n, err, len(want))
		}
	}
}
