package storetest

import (
	"fmt"
	"testing"

	"github.com/gowhisk/gowhisk/entity"
)

func runSubjects(t *testing.T, open func(t *testing.T) Stores) {
	runAll(t, open, []subtest{
		{"CreateGetUpdate", testSubjectCRUD},
		{"CreateExisting", testSubjectExists},
		{"UpdateStale", testSubjectStale},
		{"KeysUniqueAcrossSubjects", testSubjectKeysUnique},
		{"Authenticate", testAuthenticate},
		{"AuthenticateBlocked", testAuthenticateBlocked},
		{"AuthenticateAfterKeyChange", testAuthenticateKeyChange},
		{"IdentityByNamespace", testIdentityByNamespace},
		{"Delete", testSubjectDelete},
		{"List", testSubjectList},
		{"Limits", testLimits},
		{"AuthenticateCarriesLimits", testAuthLimits},
	})
}

// Subject builds a subject owning one namespace of the same name with fresh
// credentials. Exported for adapters' own tests and benchmarks.
func Subject(name string) entity.Subject {
	return entity.Subject{Subject: name, Namespaces: []entity.NamespaceKey{{Name: name, UUID: entity.NewUUID(), Key: entity.NewKey()}}}
}

func putSubject(t *testing.T, s Stores, sub entity.Subject) string {
	t.Helper()
	rev, err := s.Subjects.PutSubject(ctxOf(t), sub)
	noErr(t, "PutSubject "+sub.Subject, err)
	if rev == "" {
		t.Fatalf("PutSubject %s returned an empty revision", sub.Subject)
	}
	return rev
}

func testSubjectCRUD(t *testing.T, s Stores) {
	ctx := ctxOf(t)
	sub := Subject("alice")
	sub.Namespaces = append(sub.Namespaces, entity.NamespaceKey{Name: "alice_dev", UUID: entity.NewUUID(), Key: entity.NewKey()})
	rev1 := putSubject(t, s, sub)
	got, err := s.Subjects.GetSubject(ctx, "alice")
	noErr(t, "GetSubject", err)
	if got.Rev != rev1 || got.Subject != "alice" || fmt.Sprint(got.Namespaces) != fmt.Sprint(sub.Namespaces) || got.Blocked {
		t.Fatalf("GetSubject = %+v, want %+v at rev %q", got, sub, rev1)
	}
	got.Namespaces = got.Namespaces[:1]
	rev2, err := s.Subjects.PutSubject(ctx, got)
	noErr(t, "PutSubject update", err)
	if rev2 == "" || rev2 == rev1 {
		t.Fatalf("update revision %q (was %q)", rev2, rev1)
	}
	again, err := s.Subjects.GetSubject(ctx, "alice")
	noErr(t, "GetSubject after update", err)
	if again.Rev != rev2 || len(again.Namespaces) != 1 {
		t.Fatalf("GetSubject after update = %+v", again)
	}
	_, err = s.Subjects.GetSubject(ctx, "bob")
	wantErr(t, "GetSubject missing", err, entity.ErrNotFound)
	// The namespace dropped from alice no longer authenticates.
	dev := sub.Namespaces[1]
	_, err = s.Subjects.Authenticate(ctx, dev.UUID, dev.Key)
	wantErr(t, "Authenticate removed namespace", err, entity.ErrUnauthenticated)
}

func testSubjectExists(t *testing.T, s Stores) {
	putSubject(t, s, Subject("alice"))
	_, err := s.Subjects.PutSubject(ctxOf(t), Subject("alice"))
	wantErr(t, "create existing subject", err, entity.ErrExists)
}

func testSubjectStale(t *testing.T, s Stores) {
	ctx := ctxOf(t)
	sub := Subject("alice")
	rev1 := putSubject(t, s, sub)
	sub.Rev = rev1
	sub.Blocked = true
	rev2 := putSubject(t, s, sub)
	sub.Rev = rev1
	sub.Blocked = false
	_, err := s.Subjects.PutSubject(ctx, sub)
	wantErr(t, "update at stale revision", err, entity.ErrConflict)
	got, err := s.Subjects.GetSubject(ctx, "alice")
	noErr(t, "GetSubject", err)
	if got.Rev != rev2 || !got.Blocked {
		t.Fatalf("stale update changed the subject: %+v", got)
	}
	ghost := Subject("ghost")
	ghost.Rev = rev1
	_, err = s.Subjects.PutSubject(ctx, ghost)
	wantErr(t, "update of a missing subject", err, entity.ErrConflict)
}

func testSubjectKeysUnique(t *testing.T, s Stores) {
	ctx := ctxOf(t)
	alice := Subject("alice")
	putSubject(t, s, alice)
	bob := Subject("bob")
	bob.Namespaces[0].UUID, bob.Namespaces[0].Key = alice.Namespaces[0].UUID, alice.Namespaces[0].Key
	_, err := s.Subjects.PutSubject(ctx, bob)
	wantErr(t, "create subject reusing another's uuid:key", err, entity.ErrExists)
	if _, err := s.Subjects.GetSubject(ctx, "bob"); err == nil {
		t.Fatal("a rejected subject was stored")
	}
	// Updating bob later to take alice's key is rejected too.
	bob = Subject("bob")
	bob.Rev = putSubject(t, s, bob)
	bob.Namespaces = append(bob.Namespaces, alice.Namespaces[0])
	_, err = s.Subjects.PutSubject(ctx, bob)
	wantErr(t, "update subject to reuse another's uuid:key", err, entity.ErrExists)
	// A subject may rewrite its own keys unchanged.
	a, err := s.Subjects.GetSubject(ctx, "alice")
	noErr(t, "GetSubject alice", err)
	putSubject(t, s, a)
	id, err := s.Subjects.Authenticate(ctx, alice.Namespaces[0].UUID, alice.Namespaces[0].Key)
	noErr(t, "Authenticate alice", err)
	if id.Subject != "alice" {
		t.Fatalf("Authenticate = subject %q, want alice", id.Subject)
	}
}

func testAuthenticate(t *testing.T, s Stores) {
	ctx := ctxOf(t)
	sub := Subject("alice")
	second := entity.NamespaceKey{Name: "alice_dev", UUID: entity.NewUUID(), Key: entity.NewKey()}
	sub.Namespaces = append(sub.Namespaces, second)
	putSubject(t, s, sub)
	putSubject(t, s, Subject("bob"))
	for _, ns := range sub.Namespaces {
		id, err := s.Subjects.Authenticate(ctx, ns.UUID, ns.Key)
		noErr(t, "Authenticate "+ns.Name, err)
		want := entity.NewIdentity("alice", ns, entity.UserLimits{})
		if id.Subject != want.Subject || id.Namespace != want.Namespace || id.AuthKey != want.AuthKey ||
			fmt.Sprint(id.Rights) != fmt.Sprint(want.Rights) {
			t.Fatalf("Authenticate %s = %+v, want %+v", ns.Name, id, want)
		}
	}
	first := sub.Namespaces[0]
	_, err := s.Subjects.Authenticate(ctx, first.UUID, entity.NewKey())
	wantErr(t, "Authenticate wrong key", err, entity.ErrUnauthenticated)
	_, err = s.Subjects.Authenticate(ctx, entity.NewUUID(), first.Key)
	wantErr(t, "Authenticate unknown uuid", err, entity.ErrUnauthenticated)
	_, err = s.Subjects.Authenticate(ctx, first.UUID, second.Key)
	wantErr(t, "Authenticate uuid with another namespace's key", err, entity.ErrUnauthenticated)
	_, err = s.Subjects.Authenticate(ctx, "", "")
	wantErr(t, "Authenticate empty", err, entity.ErrUnauthenticated)
}

func testAuthenticateBlocked(t *testing.T, s Stores) {
	ctx := ctxOf(t)
	sub := Subject("alice")
	sub.Blocked = true
	putSubject(t, s, sub)
	ns := sub.Namespaces[0]
	_, err := s.Subjects.Authenticate(ctx, ns.UUID, ns.Key)
	wantErr(t, "Authenticate blocked subject", err, entity.ErrUnauthenticated)
	_, err = s.Subjects.IdentityByNamespace(ctx, "alice")
	wantErr(t, "IdentityByNamespace blocked subject", err, entity.ErrNotFound)
	got, err := s.Subjects.GetSubject(ctx, "alice")
	noErr(t, "GetSubject", err)
	got.Blocked = false
	putSubject(t, s, got)
	if _, err := s.Subjects.Authenticate(ctx, ns.UUID, ns.Key); err != nil {
		t.Fatalf("Authenticate after unblocking: %v", err)
	}
}

func testAuthenticateKeyChange(t *testing.T, s Stores) {
	ctx := ctxOf(t)
	sub := Subject("alice")
	sub.Rev = putSubject(t, s, sub)
	old := sub.Namespaces[0]
	sub.Namespaces = []entity.NamespaceKey{{Name: old.Name, UUID: old.UUID, Key: entity.NewKey()}}
	putSubject(t, s, sub)
	_, err := s.Subjects.Authenticate(ctx, old.UUID, old.Key)
	wantErr(t, "Authenticate with the replaced key", err, entity.ErrUnauthenticated)
	id, err := s.Subjects.Authenticate(ctx, old.UUID, sub.Namespaces[0].Key)
	noErr(t, "Authenticate with the new key", err)
	if id.Namespace.Name != "alice" {
		t.Fatalf("Authenticate = %+v", id)
	}
}

func testIdentityByNamespace(t *testing.T, s Stores) {
	ctx := ctxOf(t)
	sub := Subject("alice")
	sub.Namespaces = append(sub.Namespaces, entity.NamespaceKey{Name: "shared", UUID: entity.NewUUID(), Key: entity.NewKey()})
	putSubject(t, s, sub)
	putSubject(t, s, Subject("bob"))
	id, err := s.Subjects.IdentityByNamespace(ctx, "shared")
	noErr(t, "IdentityByNamespace", err)
	want := entity.NewIdentity("alice", sub.Namespaces[1], entity.UserLimits{})
	if id.Subject != "alice" || id.Namespace != want.Namespace || id.AuthKey != want.AuthKey {
		t.Fatalf("IdentityByNamespace = %+v, want %+v", id, want)
	}
	_, err = s.Subjects.IdentityByNamespace(ctx, "nobody")
	wantErr(t, "IdentityByNamespace missing", err, entity.ErrNotFound)
	_, err = s.Subjects.IdentityByNamespace(ctx, "alic")
	wantErr(t, "IdentityByNamespace prefix", err, entity.ErrNotFound)
}

func testSubjectDelete(t *testing.T, s Stores) {
	ctx := ctxOf(t)
	sub := Subject("alice")
	putSubject(t, s, sub)
	noErr(t, "DeleteSubject", s.Subjects.DeleteSubject(ctx, "alice"))
	_, err := s.Subjects.GetSubject(ctx, "alice")
	wantErr(t, "GetSubject after delete", err, entity.ErrNotFound)
	ns := sub.Namespaces[0]
	_, err = s.Subjects.Authenticate(ctx, ns.UUID, ns.Key)
	wantErr(t, "Authenticate after delete", err, entity.ErrUnauthenticated)
	_, err = s.Subjects.IdentityByNamespace(ctx, "alice")
	wantErr(t, "IdentityByNamespace after delete", err, entity.ErrNotFound)
	wantErr(t, "DeleteSubject again", s.Subjects.DeleteSubject(ctx, "alice"), entity.ErrNotFound)
	// The name and the keys are free again.
	putSubject(t, s, sub)
	if _, err := s.Subjects.Authenticate(ctx, ns.UUID, ns.Key); err != nil {
		t.Fatalf("Authenticate after re-create: %v", err)
	}
}

func testSubjectList(t *testing.T, s Stores) {
	ctx := ctxOf(t)
	got, err := s.Subjects.ListSubjects(ctx)
	noErr(t, "ListSubjects empty", err)
	if len(got) != 0 {
		t.Fatalf("ListSubjects of an empty store = %+v", got)
	}
	for _, n := range []string{"carol", "alice", "bob"} {
		putSubject(t, s, Subject(n))
	}
	got, err = s.Subjects.ListSubjects(ctx)
	noErr(t, "ListSubjects", err)
	var names []string
	for _, sub := range got {
		names = append(names, sub.Subject)
		if sub.Rev == "" || len(sub.Namespaces) != 1 {
			t.Fatalf("ListSubjects entry %+v lacks its revision or namespaces", sub)
		}
	}
	if fmt.Sprint(names) != "[alice bob carol]" {
		t.Fatalf("ListSubjects = %v, want [alice bob carol]", names)
	}
	// Limits documents are not subjects.
	n := 5
	noErr(t, "PutLimits", s.Subjects.PutLimits(ctx, "alice", entity.UserLimits{InvocationsPerMinute: &n}))
	got, err = s.Subjects.ListSubjects(ctx)
	noErr(t, "ListSubjects with limits", err)
	if len(got) != 3 {
		t.Fatalf("ListSubjects with a limits doc returned %d subjects, want 3", len(got))
	}
}

func testLimits(t *testing.T, s Stores) {
	ctx := ctxOf(t)
	l, err := s.Subjects.GetLimits(ctx, "guest")
	noErr(t, "GetLimits unset", err)
	if fmt.Sprintf("%+v", l) != fmt.Sprintf("%+v", entity.UserLimits{}) {
		t.Fatalf("GetLimits unset = %+v, want zero", l)
	}
	wantErr(t, "DeleteLimits unset", s.Subjects.DeleteLimits(ctx, "guest"), entity.ErrNotFound)
	inv, conc, store := 7, 3, false
	set := entity.UserLimits{InvocationsPerMinute: &inv, ConcurrentInvocations: &conc, StoreActivations: &store, AllowedKinds: []string{"nodejs:20"}}
	noErr(t, "PutLimits", s.Subjects.PutLimits(ctx, "guest", set))
	l, err = s.Subjects.GetLimits(ctx, "guest")
	noErr(t, "GetLimits", err)
	if l.InvocationsPerMinute == nil || *l.InvocationsPerMinute != 7 || l.ConcurrentInvocations == nil || *l.ConcurrentInvocations != 3 ||
		l.StoreActivations == nil || *l.StoreActivations || fmt.Sprint(l.AllowedKinds) != "[nodejs:20]" || l.FiresPerMinute != nil {
		t.Fatalf("GetLimits = %+v, want %+v", l, set)
	}
	// PutLimits replaces: fields not given are gone.
	fires := 9
	noErr(t, "PutLimits replace", s.Subjects.PutLimits(ctx, "guest", entity.UserLimits{FiresPerMinute: &fires}))
	l, err = s.Subjects.GetLimits(ctx, "guest")
	noErr(t, "GetLimits after replace", err)
	if l.InvocationsPerMinute != nil || l.FiresPerMinute == nil || *l.FiresPerMinute != 9 || l.AllowedKinds != nil {
		t.Fatalf("GetLimits after replace = %+v", l)
	}
	if other, err := s.Subjects.GetLimits(ctx, "guest2"); err != nil || other.FiresPerMinute != nil {
		t.Fatalf("GetLimits of another namespace = %+v, %v", other, err)
	}
	noErr(t, "DeleteLimits", s.Subjects.DeleteLimits(ctx, "guest"))
	l, err = s.Subjects.GetLimits(ctx, "guest")
	noErr(t, "GetLimits after delete", err)
	if l.FiresPerMinute != nil {
		t.Fatalf("GetLimits after delete = %+v, want zero", l)
	}
	wantErr(t, "DeleteLimits again", s.Subjects.DeleteLimits(ctx, "guest"), entity.ErrNotFound)
}

func testAuthLimits(t *testing.T, s Stores) {
	ctx := ctxOf(t)
	sub := Subject("alice")
	putSubject(t, s, sub)
	ns := sub.Namespaces[0]
	id, err := s.Subjects.Authenticate(ctx, ns.UUID, ns.Key)
	noErr(t, "Authenticate without limits", err)
	if id.Limits.InvocationsPerMinute != nil {
		t.Fatalf("Authenticate without limits carries %+v", id.Limits)
	}
	inv := 42
	noErr(t, "PutLimits", s.Subjects.PutLimits(ctx, "alice", entity.UserLimits{InvocationsPerMinute: &inv}))
	id, err = s.Subjects.Authenticate(ctx, ns.UUID, ns.Key)
	noErr(t, "Authenticate with limits", err)
	if id.Limits.InvocationsPerMinute == nil || *id.Limits.InvocationsPerMinute != 42 {
		t.Fatalf("Authenticate limits = %+v, want invocationsPerMinute 42", id.Limits)
	}
	id, err = s.Subjects.IdentityByNamespace(ctx, "alice")
	noErr(t, "IdentityByNamespace with limits", err)
	if id.Limits.InvocationsPerMinute == nil || *id.Limits.InvocationsPerMinute != 42 {
		t.Fatalf("IdentityByNamespace limits = %+v, want invocationsPerMinute 42", id.Limits)
	}
}
