package entity

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// readGolden reads entity/testdata/name.
func readGolden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// assertSameJSON fails unless got and want are equal as parsed JSON
// (objects compared field by field, numbers by value).
func assertSameJSON(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	dec := func(b []byte, v *any) {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if err := d.Decode(v); err != nil {
			t.Fatalf("invalid JSON %s: %v", b, err)
		}
	}
	dec(got, &g)
	dec(want, &w)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("JSON differs\n got: %s\nwant: %s\n%s", compact(got), compact(want), diffJSON("", g, w))
	}
}

func compact(b []byte) string {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return string(b)
	}
	return buf.String()
}

// diffJSON names the first paths where g and w differ.
func diffJSON(path string, g, w any) string {
	gm, gok := g.(map[string]any)
	wm, wok := w.(map[string]any)
	if gok && wok {
		var out []string
		for k, wv := range wm {
			gv, ok := gm[k]
			if !ok {
				out = append(out, path+"."+k+": missing")
				continue
			}
			if d := diffJSON(path+"."+k, gv, wv); d != "" {
				out = append(out, d)
			}
		}
		for k := range gm {
			if _, ok := wm[k]; !ok {
				out = append(out, path+"."+k+": unexpected")
			}
		}
		return strings.Join(out, "\n")
	}
	if !reflect.DeepEqual(g, w) {
		gb, _ := json.Marshal(g)
		wb, _ := json.Marshal(w)
		return path + ": got " + string(gb) + ", want " + string(wb)
	}
	return ""
}

func TestGoldenEntityRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		file string
		want string // expected re-encoding; "" = same as file
		doc  Document
	}{
		{"action with code", "action_code.json", "", &Action{}},
		{"action with binary code", "action_zip.json", "", &Action{}},
		{"blackbox action", "action_blackbox.json", "", &Action{}},
		{"blackbox action with code", "action_blackbox_code.json", "", &Action{}},
		{"sequence action", "action_sequence.json", "", &Action{}},
		{"package", "package.json", "", &Package{}},
		{"package GET with actions and feeds", "package_get.json", "", &Package{}},
		{"package binding", "binding.json", "", &Package{}},
		{"trigger with rules", "trigger.json", "", &Trigger{}},
		{"trigger without rules", "trigger_norules.json", "", &Trigger{}},
		{"rule object form", "rule.json", "", &Rule{}},
		{"rule legacy string form", "rule_legacy.json", "rule_legacy.want.json", &Rule{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := readGolden(t, tc.file)
			if err := json.Unmarshal(in, tc.doc); err != nil {
				t.Fatalf("decode %s: %v", tc.file, err)
			}
			out, err := json.Marshal(tc.doc)
			if err != nil {
				t.Fatal(err)
			}
			want := in
			if tc.want != "" {
				want = readGolden(t, tc.want)
			}
			assertSameJSON(t, out, want)
		})
	}
}

func TestGoldenDecodedFields(t *testing.T) {
	var a Action
	if err := json.Unmarshal(readGolden(t, "action_sequence.json"), &a); err != nil {
		t.Fatal(err)
	}
	if a.Exec.Kind != KindSequence || !reflect.DeepEqual(a.Exec.Components, []string{"/guest/utils/split", "/whisk.system/utils/sort"}) {
		t.Errorf("sequence exec = %+v", a.Exec)
	}
	if got := a.FullName(); got != NewFQN("guest", "", "seq") {
		t.Errorf("FullName = %v", got)
	}

	var z Action
	if err := json.Unmarshal(readGolden(t, "action_zip.json"), &z); err != nil {
		t.Fatal(err)
	}
	if !z.Exec.Binary || z.Namespace != "guest/utils" || z.FullName().Package() != "utils" || z.Version != (SemVer{1, 2, 3}) {
		t.Errorf("zip action = %+v", z)
	}
	if !z.Parameters[0].Init {
		t.Error("init flag of the parameter was lost")
	}

	var r Rule
	if err := json.Unmarshal(readGolden(t, "rule_legacy.json"), &r); err != nil {
		t.Fatal(err)
	}
	if r.Trigger != NewFQN("guest", "", "events") || r.Action != NewFQN("guest", "pkg", "hello") {
		t.Errorf("legacy rule refs = %v, %v", r.Trigger, r.Action)
	}

	var tr Trigger
	if err := json.Unmarshal(readGolden(t, "trigger.json"), &tr); err != nil {
		t.Fatal(err)
	}
	active := tr.ActiveRules()
	if len(active) != 1 || active["guest/t2a"].Action != NewFQN("guest", "", "hello") {
		t.Errorf("ActiveRules = %+v", active)
	}

	var b Package
	if err := json.Unmarshal(readGolden(t, "binding.json"), &b); err != nil {
		t.Fatal(err)
	}
	if !b.Binding.IsBinding() || b.Binding.FQN() != NewFQN("whisk.system", "", "alarms") {
		t.Errorf("binding = %+v", b.Binding)
	}
}

func TestGoldenActivationForms(t *testing.T) {
	tests := []struct {
		name, stored, api, summary string
	}{
		{"success", "activation_stored.json", "activation_api.json", "activation_summary.json"},
		{"developer error with cause and stored duration", "activation_error_stored.json", "activation_error_api.json", ""},
		{"trigger activation with end 0", "activation_trigger_stored.json", "activation_trigger_api.json", "activation_trigger_summary.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := readGolden(t, tc.stored)
			var a Activation
			if err := json.Unmarshal(in, &a); err != nil {
				t.Fatal(err)
			}
			stored, err := json.Marshal(&a)
			if err != nil {
				t.Fatal(err)
			}
			assertSameJSON(t, stored, in)

			api, err := json.Marshal(a.API())
			if err != nil {
				t.Fatal(err)
			}
			assertSameJSON(t, api, readGolden(t, tc.api))
			var probe struct {
				Response map[string]json.RawMessage `json:"response"`
			}
			if err := json.Unmarshal(api, &probe); err != nil {
				t.Fatal(err)
			}
			if _, ok := probe.Response["statusCode"]; ok {
				t.Error("API response carries statusCode")
			}

			res, err := json.Marshal(a.Response.APIResponse())
			if err != nil {
				t.Fatal(err)
			}
			var apiDoc struct {
				Response json.RawMessage `json:"response"`
			}
			_ = json.Unmarshal(readGolden(t, tc.api), &apiDoc)
			assertSameJSON(t, res, apiDoc.Response)

			if tc.summary != "" {
				sum, err := json.Marshal(a.Summary())
				if err != nil {
					t.Fatal(err)
				}
				assertSameJSON(t, sum, readGolden(t, tc.summary))
			}
		})
	}
}

func TestGoldenSummaries(t *testing.T) {
	load := func(file string, d Document) {
		t.Helper()
		if err := json.Unmarshal(readGolden(t, file), d); err != nil {
			t.Fatal(err)
		}
	}
	var a Action
	load("action_code.json", &a)
	var p, b Package
	load("package.json", &p)
	load("binding.json", &b)
	var tr Trigger
	load("trigger.json", &tr)
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"action", a.Summary(), "action_summary.json"},
		{"package binding false", p.Summary(), "package_summary.json"},
		{"binding object", b.Summary(), "binding_summary.json"},
		{"trigger", tr.Summary(), "trigger_summary.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			assertSameJSON(t, got, readGolden(t, tc.want))
		})
	}
}

func TestGoldenStoredForm(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		doc   Document
		id    string
		etype string
	}{
		{"action", "action_code.json", &Action{}, "guest/hello", "action"},
		{"packaged action", "action_zip.json", &Action{}, "guest/utils/zipped", "action"},
		{"sequence", "action_sequence.json", &Action{}, "guest/seq", "action"},
		{"package", "package.json", &Package{}, "guest/iot", "package"},
		{"binding", "binding.json", &Package{}, "guest/myalarms", "package"},
		{"trigger", "trigger.json", &Trigger{}, "guest/events", "trigger"},
		{"rule", "rule.json", &Rule{}, "guest/t2a", "rule"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := readGolden(t, tc.file)
			if err := json.Unmarshal(in, tc.doc); err != nil {
				t.Fatal(err)
			}
			for _, rev := range []string{"", "3-abc"} {
				tc.doc.SetRevision(rev)
				b, err := MarshalStored(tc.doc)
				if err != nil {
					t.Fatal(err)
				}
				var fields map[string]json.RawMessage
				if err := json.Unmarshal(b, &fields); err != nil {
					t.Fatalf("stored form is not JSON: %s", b)
				}
				if string(fields["_id"]) != `"`+tc.id+`"` || string(fields["entityType"]) != `"`+tc.etype+`"` {
					t.Errorf("_id/entityType = %s/%s, want %s/%s", fields["_id"], fields["entityType"], tc.id, tc.etype)
				}
				if rev == "" {
					if _, ok := fields["_rev"]; ok {
						t.Error("_rev written for a document without revision")
					}
				} else if string(fields["_rev"]) != `"`+rev+`"` {
					t.Errorf("_rev = %s, want %q", fields["_rev"], rev)
				}
				// The stored form is the API JSON plus the three fields.
				var api map[string]json.RawMessage
				_ = json.Unmarshal(in, &api)
				delete(fields, "_id")
				delete(fields, "_rev")
				delete(fields, "entityType")
				rest, _ := json.Marshal(fields)
				apiJSON, _ := json.Marshal(api)
				assertSameJSON(t, rest, apiJSON)

				back, err := UnmarshalStored(b, "")
				if err != nil {
					t.Fatal(err)
				}
				if back.Revision() != rev {
					t.Errorf("revision = %q, want %q", back.Revision(), rev)
				}
				if !reflect.DeepEqual(back, tc.doc) {
					t.Errorf("round trip differs\n got %+v\nwant %+v", back, tc.doc)
				}
				if over, err := UnmarshalStored(b, "9-x"); err != nil || over.Revision() != "9-x" {
					t.Errorf("UnmarshalStored with rev = %v, %v", over, err)
				}
			}
		})
	}
}

func TestStoredKindByShape(t *testing.T) {
	tests := []struct {
		name, doc string
		want      Kind
		ok        bool
	}{
		{"entityType wins", `{"entityType":"rule","exec":{}}`, KindRule, true},
		{"exec is an action", `{"exec":{"kind":"nodejs:20","code":"x"}}`, KindAction, true},
		{"binding is a package", `{"binding":{}}`, KindPackage, true},
		{"trigger field is a rule", `{"trigger":"/guest/t"}`, KindRule, true},
		{"else a trigger", `{"name":"t"}`, KindTrigger, true},
		{"not JSON", `{`, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := StoredKind([]byte(tc.doc))
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("StoredKind(%s) = %q, %v; want %q ok=%v", tc.doc, got, err, tc.want, tc.ok)
			}
		})
	}
	if _, err := UnmarshalStored([]byte(`{"entityType":"activation"}`), ""); err == nil {
		t.Error("UnmarshalStored of an activation document succeeded")
	}
}
