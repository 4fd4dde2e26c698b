package entity

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func ps(kv ...string) Params {
	out := Params{}
	for i := 0; i < len(kv); i += 2 {
		out = append(out, Param{Key: kv[i], Value: json.RawMessage(kv[i+1])})
	}
	return out
}

func TestParamsMergeSetWithout(t *testing.T) {
	tests := []struct {
		name string
		got  Params
		want Params
	}{
		{"merge replaces in place and appends", ps("a", "1", "b", "2").Merge(ps("b", "3", "c", "4")), ps("a", "1", "b", "3", "c", "4")},
		{"merge into nil", Params(nil).Merge(ps("a", "1")), ps("a", "1")},
		{"merge nothing", ps("a", "1").Merge(nil), ps("a", "1")},
		{"set new key", ps("a", "1").Set("b", json.RawMessage(`"x"`)), ps("a", "1", "b", `"x"`)},
		{"set existing key", ps("a", "1", "b", "2").Set("a", json.RawMessage(`true`)), ps("a", "true", "b", "2")},
		{"without keys", ps("a", "1", "b", "2", "c", "3").Without("a", "c", "zz"), ps("b", "2")},
		{"without nothing", ps("a", "1").Without(), ps("a", "1")},
		{"without all", ps("a", "1").Without("a"), ps()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !reflect.DeepEqual(tc.got, tc.want) {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
	orig := ps("a", "1", "b", "2")
	_ = orig.Merge(ps("a", "9"))
	_ = orig.Without("a")
	if !reflect.DeepEqual(orig, ps("a", "1", "b", "2")) {
		t.Errorf("inputs modified: %v", orig)
	}
}

func TestParamsIsTruthy(t *testing.T) {
	tests := []struct {
		name, value string
		want        bool
	}{
		{"true", `true`, true},
		{"false", `false`, false},
		{"null", `null`, false},
		{"zero", `0`, false},
		{"zero float", `0.0`, false},
		{"negative zero exp", `-0e5`, false},
		{"one", `1`, true},
		{"negative", `-2.5`, true},
		{"empty string", `""`, false},
		{"string", `"no"`, true},
		{"string false", `"false"`, true},
		{"empty object", `{}`, true},
		{"empty array", `[]`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ps("k", tc.value).IsTruthy("k"); got != tc.want {
				t.Errorf("IsTruthy(%s) = %v, want %v", tc.value, got, tc.want)
			}
		})
	}
	if ps("k", "true").IsTruthy("other") {
		t.Error("missing key is truthy")
	}
	if (Params{{Key: "k"}}).IsTruthy("k") {
		t.Error("empty value is truthy")
	}
}

func TestParamsAppendObject(t *testing.T) {
	tests := []struct {
		name string
		in   Params
		want string
	}{
		{"empty", nil, `{}`},
		{"in order", ps("b", "1", "a", `"x"`), `{"b":1,"a":"x"}`},
		{"later duplicate wins", ps("a", "1", "b", "2", "a", "3"), `{"b":2,"a":3}`},
		{"empty value is null", Params{{Key: "a"}}, `{"a":null}`},
		{"key escaped", ps("a\"b\n", "1"), `{"a\"b\n":1}`},
		{"nested", ps("o", `{"x":[1,{"y":null}]}`), `{"o":{"x":[1,{"y":null}]}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in.AppendObject([]byte("prefix:"))
			if string(got) != "prefix:"+tc.want {
				t.Errorf("AppendObject = %s, want prefix:%s", got, tc.want)
			}
			if !json.Valid(got[len("prefix:"):]) {
				t.Errorf("not JSON: %s", got)
			}
		})
	}
}

func TestParamsFromObject(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Params
		ok   bool
	}{
		{"object keeps order", `{"b":1, "a":"x"}`, ps("b", "1", "a", `"x"`), true},
		{"nested compacted", `{"o": { "x" : [1, 2] }}`, ps("o", `{"x":[1,2]}`), true},
		{"big number kept exactly", `{"n":12345678901234567890}`, ps("n", "12345678901234567890"), true},
		{"duplicate key last wins in place", `{"a":1,"b":2,"a":3}`, ps("a", "3", "b", "2"), true},
		{"empty object", `{}`, ps(), true},
		{"html escaped", `{"h":"<b>&</b>"}`, ps("h", `"\u003cb\u003e\u0026\u003c/b\u003e"`), true},
		{"array", `[1]`, nil, false},
		{"string", `"x"`, nil, false},
		{"null", `null`, nil, false},
		{"empty", ``, nil, false},
		{"truncated", `{"a":`, nil, false},
		{"bad value", `{"a":tru}`, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParamsFromObject([]byte(tc.in))
			if !tc.ok {
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("ParamsFromObject(%s) = %v, %v; want ErrInvalid", tc.in, got, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParamsFromObject(%s) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestParamsJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Params
		out  string // re-encoding; "" = error expected
	}{
		{"list", `[{"key":"a","value":1},{"key":"b","value":{ "x" : null }}]`, ps("a", "1", "b", `{"x":null}`), `[{"key":"a","value":1},{"key":"b","value":{"x":null}}]`},
		{"null list", `null`, ps(), `[]`},
		{"empty list", `[]`, ps(), `[]`},
		{"null value kept", `[{"key":"a","value":null}]`, ps("a", "null"), `[{"key":"a","value":null}]`},
		{"init and encryption", `[{"key":"a","value":"s","init":true,"encryption":"aes-256"}]`,
			Params{{Key: "a", Value: json.RawMessage(`"s"`), Init: true, Encryption: "aes-256"}},
			`[{"key":"a","value":"s","init":true,"encryption":"aes-256"}]`},
		{"repeated key last wins in place", `[{"key":"a","value":1},{"key":"b","value":2},{"key":"a","value":3}]`, ps("a", "3", "b", "2"), `[{"key":"a","value":3},{"key":"b","value":2}]`},
		{"html characters in the form encoding/json writes", `[{"key":"a","value":{"s":"a&b<c>\u2028"}}]`, ps("a", `{"s":"a\u0026b\u003cc\u003e\u2028"}`),
			`[{"key":"a","value":{"s":"a\u0026b\u003cc\u003e\u2028"}}]`},
		{"empty key allowed", `[{"key":"","value":1}]`, ps("", "1"), `[{"key":"","value":1}]`},
		{"missing key", `[{"value":1}]`, nil, ""},
		{"missing value", `[{"key":"a"}]`, nil, ""},
		{"key not a string", `[{"key":1,"value":1}]`, nil, ""},
		{"not a list", `{"key":"a","value":1}`, nil, ""},
		{"element not an object", `[1]`, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got Params
			err := json.Unmarshal([]byte(tc.in), &got)
			if tc.out == "" {
				if err == nil {
					t.Errorf("Unmarshal(%s) = %v, want an error", tc.in, got)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Unmarshal(%s) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
			b, err := json.Marshal(got)
			if err != nil || string(b) != tc.out {
				t.Errorf("Marshal = %s, %v; want %s", b, err, tc.out)
			}
		})
	}
	b, _ := json.Marshal(Params(nil))
	if string(b) != "[]" {
		t.Errorf("nil Params marshal to %s", b)
	}
}

func TestParamsSize(t *testing.T) {
	if got := ps("ab", `"xyz"`, "c", "1").Size(); got != 2+5+1+1 {
		t.Errorf("Size = %d", got)
	}
	v, ok := ps("a", "1").Get("a")
	if !ok || string(v) != "1" || ps().Has("a") {
		t.Error("Get/Has")
	}
}

// mergeLinear is Merge's definition, key by key.
func mergeLinear(base, over Params) Params {
	out := append(Params{}, base...)
	for _, p := range over {
		i := slices.IndexFunc(out, func(q Param) bool { return q.Key == p.Key })
		if i < 0 {
			out = append(out, p)
		} else {
			out[i] = p
		}
	}
	return out
}

// Merge, AppendObject and ParamsFromObject index the keys of large inputs
// instead of scanning them per key: the results are the same either way.
func TestParamsManyKeys(t *testing.T) {
	gen := func(n, mod int, tag string) Params {
		ps := make(Params, n)
		for i := range ps {
			ps[i] = Param{Key: "k" + strconv.Itoa(i%mod), Value: json.RawMessage(strconv.Quote(tag + strconv.Itoa(i)))}
		}
		return ps
	}
	for _, tc := range []struct {
		name             string
		n, m, modN, modM int
	}{
		{"small", 5, 4, 3, 6},
		{"large with duplicates", 300, 200, 250, 120},
		{"large disjoint", 1000, 1000, 1000, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, over := gen(tc.n, tc.modN, "a"), gen(tc.m, tc.modM, "b")
			if got, want := base.Merge(over), mergeLinear(base, over); !reflect.DeepEqual(got, want) {
				t.Fatalf("Merge differs from the key-by-key merge")
			}
			obj := base.AppendObject(nil)
			var m map[string]string
			if err := json.Unmarshal(obj, &m); err != nil {
				t.Fatal(err)
			}
			back, err := ParamsFromObject(obj)
			if err != nil {
				t.Fatal(err)
			}
			if len(back) != len(m) {
				t.Fatalf("%d keys back, %d in the object", len(back), len(m))
			}
			for _, p := range back {
				var s string
				_ = json.Unmarshal(p.Value, &s)
				if m[p.Key] != s {
					t.Fatalf("key %s: %q, want the last occurrence %q", p.Key, s, m[p.Key])
				}
			}
		})
	}
	// A repeated key in an object keeps its first position and its last value.
	got, err := ParamsFromObject([]byte(`{"a":1,"b":2,"a":3}`))
	if err != nil || len(got) != 2 || got[0].Key != "a" || string(got[0].Value) != "3" || got[1].Key != "b" {
		t.Fatalf("ParamsFromObject = %v, %v", got, err)
	}
}

func BenchmarkParamsFromObjectManyKeys(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("{")
	for i := range 50000 {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `"k%d":%d`, i, i)
	}
	sb.WriteString("}")
	body := []byte(sb.String())
	for b.Loop() {
		ps, err := ParamsFromObject(body)
		if err != nil {
			b.Fatal(err)
		}
		_ = Params{{Key: "x", Value: json.RawMessage("1")}}.Merge(ps).AppendObject(nil)
	}
}
