package standalone_test

import (
	"testing"
)

// TestConductor runs conductor actions (reference §7.5) on a real
// `gowhisk standalone --sandbox process`: the controller activates the
// conductor, then the component it names with the params it returns, then
// the conductor again with the component's result plus the state it
// returned, until the conductor returns no action; it writes the
// composition's own activation record.
func TestConductor(t *testing.T) {
	tmp := t.TempDir()
	c := api{t: t, srv: startProcessServer(t, tmp)}

	putConductor := func(t *testing.T, name, code string) {
		t.Helper()
		doc := map[string]any{
			"exec":        source("nodejs:20", code),
			"annotations": []map[string]any{{"key": "conductor", "value": true}},
			"limits":      map[string]any{"memory": 128},
		}
		if st, _, b := c.request(t, "PUT", "/actions/"+name+"?overwrite=true", doc); st != 200 {
			t.Fatalf("PUT %s = %d %s", name, st, b)
		}
	}
	c.putAction(t, "twice", source("nodejs:20", `function main(p) { return {value: p.value * 2} }`), map[string]any{"memory": 256})
	c.putAction(t, "plus", source("nodejs:20", `function main(p) { return {value: p.value + 1} }`), map[string]any{"memory": 128})
	// steps calls twice, then plus, carrying in its state the step and the
	// names of the components run so far.
	putConductor(t, "steps", `function main(p) {
  const step = p.$step || 0, seen = p.seen || [];
  if (p.error) return {error: "component failed: " + p.error};
  switch (step) {
    case 0: return {action: "twice", params: {value: p.value}, state: {$step: 1, seen: seen.concat("twice")}};
    case 1: return {action: "/guest/plus", params: {value: p.value}, state: {$step: 2, seen: seen.concat("plus")}};
    default: return {params: {value: p.value, seen: seen}};
  }
}`)
	putConductor(t, "refuses", `function main(p) { return {error: "refused " + p.value} }`)
	putConductor(t, "lost", `function main(p) { return p.error ? {error: p.error} : {action: "nosuch", params: p} }`)
	c.putAction(t, "seqwithsteps", sequence("/_/plus", "/_/steps"), nil)

	t.Run("two components in turn, state carried", func(t *testing.T) {
		comp := c.invokeOK(t, "steps", map[string]any{"value": 3})
		wantField(t, comp, "value", 7)
		wantField(t, comp, "seen", []string{"twice", "plus"})
		if comp.Name != "steps" || len(comp.Logs) != 5 {
			t.Fatalf("composition record %s: want name steps and 5 activation ids as logs", comp.raw)
		}
		var sum int64
		for i, name := range []string{"steps", "twice", "steps", "plus", "steps"} {
			a := c.activation(t, comp.Logs[i])
			f := recordFields(t, a)
			if a.Name != name || f.Cause != comp.ActivationID || !a.Response.Success {
				t.Errorf("activation %d record %s: want %s, cause %s, success", i, a.raw, name, comp.ActivationID)
			}
			if v, ok := a.annotation("causedBy"); !ok || string(v) != `"sequence"` {
				t.Errorf("activation %d (%s) causedBy = %s", i, name, v)
			}
			sum += f.Duration
		}
		f := recordFields(t, comp)
		if f.Duration != sum || f.Cause != "" || f.End < f.Start {
			t.Errorf("composition duration %d cause %q start %d end %d: want duration = %d (the sum), no cause", f.Duration, f.Cause, f.Start, f.End, sum)
		}
		checkTopmostRecord(t, c, comp, map[string]string{"topmost": "true", "kind": `"sequence"`, "conductor": "true", "path": `"guest/steps"`})
	})

	t.Run("conductor returns an error", func(t *testing.T) {
		st, comp := c.invoke(t, "refuses", map[string]any{"value": 1})
		if st != 502 || comp.Response.Status != "application error" || comp.errorText() != "refused 1" {
			t.Fatalf("invoke = %d %s, want 502 with the conductor's error", st, comp.raw)
		}
		if len(comp.Logs) != 1 {
			t.Errorf("logs %q, want the conductor's id only", comp.Logs)
		}
	})

	t.Run("missing component", func(t *testing.T) {
		st, comp := c.invoke(t, "lost", map[string]any{"value": 1})
		want := "Failed to resolve action with name 'guest/nosuch' during composition."
		if st != 502 || comp.Response.Status != "application error" || comp.errorText() != want {
			t.Fatalf("invoke = %d %s, want 502 %s", st, comp.raw, want)
		}
		if len(comp.Logs) != 2 {
			t.Errorf("logs %q, want the conductor's two ids", comp.Logs)
		}
	})

	t.Run("non-blocking", func(t *testing.T) {
		id := c.invokeAsync(t, "steps", map[string]any{"value": 10})
		comp := c.activation(t, id)
		if comp.Name != "steps" || !comp.Response.Success || len(comp.Logs) != 5 {
			t.Fatalf("record %s: want steps' successful record with 5 activations", comp.raw)
		}
		wantField(t, comp, "value", 21)
	})

	t.Run("conductor in a sequence", func(t *testing.T) {
		seq := c.invokeOK(t, "seqwithsteps", map[string]any{"value": 1})
		wantField(t, seq, "value", 5)
		if len(seq.Logs) != 2 {
			t.Fatalf("sequence logs %q, want plus's and the composition's ids", seq.Logs)
		}
		comp := c.activation(t, seq.Logs[1])
		if v, _ := comp.annotation("conductor"); comp.Name != "steps" || string(v) != "true" || recordFields(t, comp).Cause != seq.ActivationID || len(comp.Logs) != 5 {
			t.Errorf("composition record %s: want steps, conductor, caused by %s, 5 activations", comp.raw, seq.ActivationID)
		}
	})

	c.srv.stop(t)
	processSandbox().checkStopped(t, tmp)
}
