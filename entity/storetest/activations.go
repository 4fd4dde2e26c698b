package storetest

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/gowhisk/gowhisk/entity"
)

func runActivations(t *testing.T, open func(t *testing.T) Stores) {
	runAll(t, open, []subtest{
		{"PutThenGetAndList", testActPutGet},
		{"Flush", testActFlush},
		{"GetMissing", testActGetMissing},
		{"ListNewestStartFirst", testActListOrder},
		{"FilterByName", testActFilterName},
		{"SinceUpto", testActSinceUpto},
		{"SkipLimitCount", testActPaging},
		{"NamespaceIsolation", testActIsolation},
	})
}

// Activation builds an activation record of namespace ns for the action
// name, started at start (epoch ms). With a path annotation "ns/pkg/name"
// when pkg is not empty. Exported for adapters' own tests and benchmarks.
func Activation(ns, pkg, name string, start int64) *entity.Activation {
	path := ns + "/" + name
	if pkg != "" {
		path = ns + "/" + pkg + "/" + name
	}
	return &entity.Activation{
		Namespace:    ns,
		Name:         name,
		Subject:      ns,
		ActivationID: entity.NewActivationID(),
		Start:        start,
		End:          start + 5,
		Response:     entity.Response{StatusCode: entity.StatusSuccess, Result: json.RawMessage(`{"ok":true}`)},
		Logs:         []string{"2024-01-01T00:00:00.000Z stdout: hi"},
		Version:      entity.SemVer{Patch: 1},
		Annotations: entity.Params{
			{Key: entity.AnnotationPath, Value: json.RawMessage(fmt.Sprintf("%q", path))},
			{Key: entity.AnnotationKind, Value: json.RawMessage(`"nodejs:20"`)},
		},
	}
}

func putAct(t *testing.T, s Stores, a *entity.Activation) {
	t.Helper()
	noErr(t, "Put activation "+a.ActivationID, s.Activations.Put(ctxOf(t), a))
}

func ids(as []*entity.Activation) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ActivationID
	}
	return out
}

func wantIDs(t *testing.T, what string, got []*entity.Activation, want ...*entity.Activation) {
	t.Helper()
	if fmt.Sprint(ids(got)) != fmt.Sprint(ids(want)) {
		t.Fatalf("%s: got ids %v, want %v", what, ids(got), ids(want))
	}
}

func list(t *testing.T, s Stores, ns string, q entity.ActivationQuery) []*entity.Activation {
	t.Helper()
	got, err := s.Activations.List(ctxOf(t), ns, q)
	noErr(t, fmt.Sprintf("List %s %+v", ns, q), err)
	n, err := s.Activations.Count(ctxOf(t), ns, q)
	noErr(t, fmt.Sprintf("Count %s %+v", ns, q), err)
	if q.Skip == 0 && q.Limit == 0 && n != len(got) {
		t.Fatalf("Count %s %+v = %d, List returned %d", ns, q, n, len(got))
	}
	return got
}

func testActPutGet(t *testing.T, s Stores) {
	a := Activation("guest", "pkg", "hello", 1_700_000_000_000)
	a.Cause = entity.NewActivationID()
	d := int64(7)
	a.Duration = &d
	putAct(t, s, a)
	// Visible at once, before any flush.
	got, err := s.Activations.Get(ctxOf(t), "guest", a.ActivationID)
	noErr(t, "Get right after Put", err)
	if got.ActivationID != a.ActivationID || got.Namespace != "guest" || got.Name != "hello" ||
		got.Start != a.Start || got.End != a.End || got.Cause != a.Cause || got.Subject != a.Subject {
		t.Fatalf("Get = %+v, want %+v", got, a)
	}
	if got.Duration == nil || *got.Duration != 7 {
		t.Fatalf("Get duration = %v, want 7", got.Duration)
	}
	if got.Response.StatusCode != entity.StatusSuccess {
		t.Fatalf("Get status = %d", got.Response.StatusCode)
	}
	jsonEqual(t, "response result", got.Response.Result, a.Response.Result)
	if fmt.Sprint(got.Logs) != fmt.Sprint(a.Logs) {
		t.Fatalf("Get logs = %q, want %q", got.Logs, a.Logs)
	}
	if got.EntityPath() != "pkg/hello" {
		t.Fatalf("Get lost the path annotation: entity path %q", got.EntityPath())
	}
	wantIDs(t, "List right after Put", list(t, s, "guest", entity.ActivationQuery{}), a)
	noErr(t, "Flush", s.Activations.Flush(ctxOf(t)))
	got, err = s.Activations.Get(ctxOf(t), "guest", a.ActivationID)
	noErr(t, "Get after Flush", err)
	if got.ActivationID != a.ActivationID || got.Start != a.Start {
		t.Fatalf("Get after Flush = %+v", got)
	}
	wantIDs(t, "List after Flush", list(t, s, "guest", entity.ActivationQuery{}), a)
}

func testActFlush(t *testing.T, s Stores) {
	noErr(t, "Flush of nothing", s.Activations.Flush(ctxOf(t)))
	var all []*entity.Activation
	for i := range 50 {
		a := Activation("guest", "", "f", int64(1000+i))
		putAct(t, s, a)
		all = append([]*entity.Activation{a}, all...)
	}
	noErr(t, "Flush", s.Activations.Flush(ctxOf(t)))
	wantIDs(t, "List after Flush", list(t, s, "guest", entity.ActivationQuery{}), all...)
	for _, a := range all {
		if _, err := s.Activations.Get(ctxOf(t), "guest", a.ActivationID); err != nil {
			t.Fatalf("Get %s after Flush: %v", a.ActivationID, err)
		}
	}
}

func testActGetMissing(t *testing.T, s Stores) {
	_, err := s.Activations.Get(ctxOf(t), "guest", entity.NewActivationID())
	wantErr(t, "Get missing activation", err, entity.ErrNotFound)
	putAct(t, s, Activation("guest", "", "x", 1))
	noErr(t, "Flush", s.Activations.Flush(ctxOf(t)))
	_, err = s.Activations.Get(ctxOf(t), "guest", entity.NewActivationID())
	wantErr(t, "Get missing activation after a flush", err, entity.ErrNotFound)
	wantIDs(t, "List of empty namespace", list(t, s, "empty", entity.ActivationQuery{}))
}

func testActListOrder(t *testing.T, s Stores) {
	a := Activation("guest", "", "x", 3000)
	b := Activation("guest", "", "x", 1000)
	c := Activation("guest", "", "y", 2000)
	putAct(t, s, a)
	putAct(t, s, b)
	noErr(t, "Flush", s.Activations.Flush(ctxOf(t)))
	putAct(t, s, c) // one pending, two durable: the merge keeps the order
	d := Activation("guest", "", "y", 4000)
	putAct(t, s, d)
	wantIDs(t, "List", list(t, s, "guest", entity.ActivationQuery{}), d, a, c, b)
	noErr(t, "Flush", s.Activations.Flush(ctxOf(t)))
	wantIDs(t, "List after Flush", list(t, s, "guest", entity.ActivationQuery{}), d, a, c, b)
}

func testActFilterName(t *testing.T, s Stores) {
	top := Activation("guest", "", "hello", 1000)
	inPkg := Activation("guest", "pkg", "hello", 2000)
	other := Activation("guest", "", "bye", 3000)
	viaBinding := Activation("guest", "", "hello", 4000)
	viaBinding.Annotations = viaBinding.Annotations.Set(entity.AnnotationBinding, json.RawMessage(`"guest/bound"`))
	for _, a := range []*entity.Activation{top, inPkg, other, viaBinding} {
		putAct(t, s, a)
	}
	check := func(stage string) {
		wantIDs(t, stage+" name=hello", list(t, s, "guest", entity.ActivationQuery{Name: "hello"}), top)
		wantIDs(t, stage+" name=pkg/hello", list(t, s, "guest", entity.ActivationQuery{Name: "pkg/hello"}), inPkg)
		wantIDs(t, stage+" name=bound/hello", list(t, s, "guest", entity.ActivationQuery{Name: "bound/hello"}), viaBinding)
		wantIDs(t, stage+" name=bye", list(t, s, "guest", entity.ActivationQuery{Name: "bye"}), other)
		wantIDs(t, stage+" name=nope", list(t, s, "guest", entity.ActivationQuery{Name: "nope"}))
		wantIDs(t, stage+" name=hell", list(t, s, "guest", entity.ActivationQuery{Name: "hell"}))
		wantIDs(t, stage+" all", list(t, s, "guest", entity.ActivationQuery{}), viaBinding, other, inPkg, top)
	}
	check("pending")
	noErr(t, "Flush", s.Activations.Flush(ctxOf(t)))
	check("flushed")
}

func testActSinceUpto(t *testing.T, s Stores) {
	var as []*entity.Activation // as[i] started at 1000*(i+1)
	for i := range 5 {
		name := "a"
		if i%2 == 1 {
			name = "b"
		}
		a := Activation("guest", "", name, int64(1000*(i+1)))
		as = append(as, a)
		putAct(t, s, a)
	}
	check := func(stage string) {
		q := func(since, upto int64, want ...*entity.Activation) {
			t.Helper()
			wantIDs(t, fmt.Sprintf("%s since=%d upto=%d", stage, since, upto),
				list(t, s, "guest", entity.ActivationQuery{Since: since, Upto: upto}), want...)
		}
		q(2000, 4000, as[3], as[2], as[1]) // inclusive at both ends
		q(2001, 3999, as[2])
		q(4000, 0, as[4], as[3])
		q(0, 2000, as[1], as[0])
		q(6000, 0)
		q(0, 999)
		got := list(t, s, "guest", entity.ActivationQuery{Name: "a", Since: 1000, Upto: 4000})
		wantIDs(t, stage+" name=a since=1000 upto=4000", got, as[2], as[0])
		if n, err := s.Activations.Count(ctxOf(t), "guest", entity.ActivationQuery{Name: "b", Since: 2000}); err != nil || n != 2 {
			t.Fatalf("%s Count name=b since=2000 = %d, %v; want 2", stage, n, err)
		}
	}
	check("pending")
	noErr(t, "Flush", s.Activations.Flush(ctxOf(t)))
	check("flushed")
}

func testActPaging(t *testing.T, s Stores) {
	var desc []*entity.Activation
	for i := range 9 {
		a := Activation("guest", "", "p", int64(100+i))
		putAct(t, s, a)
		desc = append([]*entity.Activation{a}, desc...)
		if i == 4 {
			noErr(t, "Flush", s.Activations.Flush(ctxOf(t)))
		}
	}
	page := func(skip, limit int, want ...*entity.Activation) {
		t.Helper()
		wantIDs(t, fmt.Sprintf("skip=%d limit=%d", skip, limit),
			list(t, s, "guest", entity.ActivationQuery{Skip: skip, Limit: limit}), want...)
	}
	page(0, 4, desc[0:4]...)
	page(4, 4, desc[4:8]...)
	page(8, 4, desc[8])
	page(9, 4)
	page(3, 0, desc[3:]...)
	for _, q := range []entity.ActivationQuery{{}, {Skip: 5, Limit: 2}, {Limit: 1}} {
		if n, err := s.Activations.Count(ctxOf(t), "guest", q); err != nil || n != 9 {
			t.Fatalf("Count %+v = %d, %v; want 9 (paging ignored)", q, n, err)
		}
	}
	if n, err := s.Activations.Count(ctxOf(t), "guest", entity.ActivationQuery{Since: 105}); err != nil || n != 4 {
		t.Fatalf("Count since=105 = %d, %v; want 4", n, err)
	}
}

func testActIsolation(t *testing.T, s Stores) {
	g := Activation("guest", "", "x", 1000)
	g2 := Activation("guest2", "", "x", 2000)
	gu := Activation("gues", "", "x", 3000)
	for _, a := range []*entity.Activation{g, g2, gu} {
		putAct(t, s, a)
	}
	check := func(stage string) {
		wantIDs(t, stage+" guest", list(t, s, "guest", entity.ActivationQuery{}), g)
		wantIDs(t, stage+" guest2", list(t, s, "guest2", entity.ActivationQuery{}), g2)
		wantIDs(t, stage+" gues", list(t, s, "gues", entity.ActivationQuery{}), gu)
		_, err := s.Activations.Get(ctxOf(t), "guest2", g.ActivationID)
		wantErr(t, stage+" Get guest record from guest2", err, entity.ErrNotFound)
		_, err = s.Activations.Get(ctxOf(t), "gues", g.ActivationID)
		wantErr(t, stage+" Get guest record from gues", err, entity.ErrNotFound)
		if _, err := s.Activations.Get(ctxOf(t), "guest", g.ActivationID); err != nil {
			t.Fatalf("%s Get own record: %v", stage, err)
		}
	}
	check("pending")
	noErr(t, "Flush", s.Activations.Flush(ctxOf(t)))
	check("flushed")
}
