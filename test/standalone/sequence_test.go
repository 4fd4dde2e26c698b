package standalone_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSequence runs sequence actions (reference §7.4) on a real
// `gowhisk standalone --sandbox process`: the controller invokes the
// components one after another, each getting the previous one's result,
// and writes the sequence's own activation record.
func TestSequence(t *testing.T) {
	tmp := t.TempDir()
	c := api{t: t, srv: startProcessServer(t, tmp)}

	// step appends its name to the trail it got and counts.
	step := func(name string) string {
		return `function main(p) { return {trail: (p.trail || []).concat("` + name + `"), n: (p.n || 0) + 1} }`
	}
	c.putAction(t, "a", source("nodejs:20", step("a")), map[string]any{"memory": 128})
	c.putAction(t, "b", source("nodejs:20", step("b")), map[string]any{"memory": 256})
	c.putAction(t, "fail", source("nodejs:20", `function main(p) { return {error: "stopped at " + p.trail.join(",")} }`), nil)
	c.putAction(t, "gone", source("nodejs:20", step("gone")), nil)
	c.putAction(t, "ab", sequence("/_/a", "/_/b"), nil)
	c.putAction(t, "nested", sequence("/_/a", "/_/ab"), nil)
	c.putAction(t, "failing", sequence("/_/a", "/_/fail", "/_/b"), nil)
	c.putAction(t, "missing", sequence("/_/a", "/_/gone"), nil)
	if st, _, b := c.request(t, "DELETE", "/actions/gone", nil); st != 200 {
		t.Fatalf("DELETE gone = %d %s", st, b)
	}

	t.Run("results flow from component to component", func(t *testing.T) {
		seq := c.invokeOK(t, "ab", map[string]any{"n": 10, "trail": []string{"start"}})
		wantField(t, seq, "trail", []string{"start", "a", "b"})
		wantField(t, seq, "n", 12)
		if seq.Name != "ab" || len(seq.Logs) != 2 {
			t.Fatalf("sequence record %s: want name ab and the 2 component ids as logs", seq.raw)
		}
		var sum int64
		for i, name := range []string{"a", "b"} {
			comp := c.activation(t, seq.Logs[i])
			f := recordFields(t, comp)
			if comp.Name != name || f.Cause != seq.ActivationID || !comp.Response.Success {
				t.Errorf("component %d record %s: want %s, cause %s, success", i, comp.raw, name, seq.ActivationID)
			}
			if v, ok := comp.annotation("causedBy"); !ok || string(v) != `"sequence"` {
				t.Errorf("component %s causedBy = %s", name, v)
			}
			sum += f.Duration
		}
		f := recordFields(t, seq)
		if f.Duration != sum || f.Cause != "" || f.End < f.Start {
			t.Errorf("sequence duration %d cause %q start %d end %d: want duration = %d (the components' sum), no cause", f.Duration, f.Cause, f.Start, f.End, sum)
		}
		checkTopmostRecord(t, c, seq, map[string]string{"topmost": "true", "kind": `"sequence"`, "path": `"guest/ab"`})
	})

	t.Run("nested sequence", func(t *testing.T) {
		outer := c.invokeOK(t, "nested", map[string]any{})
		wantField(t, outer, "trail", []string{"a", "a", "b"})
		if len(outer.Logs) != 2 {
			t.Fatalf("outer logs %q, want a's and the inner sequence's ids", outer.Logs)
		}
		inner := c.activation(t, outer.Logs[1])
		f := recordFields(t, inner)
		if inner.Name != "ab" || f.Cause != outer.ActivationID || len(inner.Logs) != 2 {
			t.Errorf("inner record %s: want ab caused by %s with 2 components", inner.raw, outer.ActivationID)
		}
		for key, want := range map[string]string{"topmost": "false", "causedBy": `"sequence"`, "kind": `"sequence"`} {
			if v, ok := inner.annotation(key); !ok || string(v) != want {
				t.Errorf("inner annotation %s = %s, want %s", key, v, want)
			}
		}
		if comp := c.activation(t, inner.Logs[0]); recordFields(t, comp).Cause != inner.ActivationID {
			t.Errorf("inner component record %s: want cause %s", comp.raw, inner.ActivationID)
		}
		a := recordFields(t, c.activation(t, outer.Logs[0]))
		if of := recordFields(t, outer); of.Duration != a.Duration+f.Duration {
			t.Errorf("outer duration %d, want %d + %d", of.Duration, a.Duration, f.Duration)
		}
	})

	t.Run("short-circuit on an error result", func(t *testing.T) {
		st, seq := c.invoke(t, "failing", map[string]any{})
		if st != 502 || seq.Response.Status != "application error" || seq.errorText() != "stopped at a" {
			t.Fatalf("invoke = %d %s, want 502 with fail's error", st, seq.raw)
		}
		if len(seq.Logs) != 2 {
			t.Errorf("logs %q, want a's and fail's ids only (b not run)", seq.Logs)
		}
	})

	t.Run("missing component", func(t *testing.T) {
		st, seq := c.invoke(t, "missing", map[string]any{})
		if st != 502 || seq.Response.Status != "application error" || seq.errorText() != "Sequence component does not exist." {
			t.Fatalf("invoke = %d %s, want 502 Sequence component does not exist.", st, seq.raw)
		}
		if len(seq.Logs) != 1 {
			t.Errorf("logs %q, want a's id only", seq.Logs)
		}
	})

	t.Run("non-blocking", func(t *testing.T) {
		id := c.invokeAsync(t, "ab", map[string]any{"n": 1})
		seq := c.activation(t, id)
		if seq.Name != "ab" || !seq.Response.Success || len(seq.Logs) != 2 {
			t.Fatalf("record %s: want ab's successful record with 2 components", seq.raw)
		}
		wantField(t, seq, "n", 3)
	})

	c.srv.stop(t)
	processSandbox().checkStopped(t, tmp)
}

// sequence is the exec of a sequence action.
func sequence(components ...string) map[string]any {
	return map[string]any{"kind": "sequence", "components": components}
}

// timing are the record fields the activation helper does not decode.
type timing struct {
	Start    int64  `json:"start"`
	End      int64  `json:"end"`
	Duration int64  `json:"duration"`
	Cause    string `json:"cause"`
}

func recordFields(t *testing.T, a *activation) timing {
	t.Helper()
	var f timing
	if err := json.Unmarshal([]byte(a.raw), &f); err != nil {
		t.Fatalf("record %s: %v", a.raw, err)
	}
	return f
}

// checkTopmostRecord checks the record of a topmost sequence or
// composition returned by a blocking invoke: the annotations want, a
// waitTime, limits with memory 256 (its components' largest), and that GET
// returns the same stored record.
func checkTopmostRecord(t *testing.T, c api, rec *activation, want map[string]string) {
	t.Helper()
	for key, w := range want {
		if v, ok := rec.annotation(key); !ok || string(v) != w {
			t.Errorf("annotation %s = %s, want %s", key, v, w)
		}
	}
	if _, ok := rec.annotation("waitTime"); !ok {
		t.Error("no waitTime annotation")
	}
	if v, _ := rec.annotation("limits"); !strings.Contains(string(v), `"memory":256`) {
		t.Errorf("limits annotation %s, want memory 256 (the components' max)", v)
	}
	stored := c.activation(t, rec.ActivationID)
	if strings.Join(stored.Logs, ",") != strings.Join(rec.Logs, ",") || string(stored.Response.Result) != string(rec.Response.Result) {
		t.Errorf("stored record %s differs from the blocking response %s", stored.raw, rec.raw)
	}
}
