package wskcli

import (
	"errors"
	"io/fs"
	"reflect"
	"testing"
)

func TestKeyValueJSON(t *testing.T) {
	tests := []struct {
		name, key, value, want string
	}{
		{"number", "n", "42", `{"n": 42}`},
		{"negative number", "change", "-1", `{"change": -1}`},
		{"bool", "b", "true", `{"b": true}`},
		{"object", "o", `{"a":[1,2]}`, `{"o": {"a":[1,2]}}`},
		{"quoted string stays a string", "s", `"42"`, `{"s": "42"}`},
		{"plain text becomes a string", "name", "hello world", `{"name": "hello world"}`},
		{"empty value is an empty string", "e", "", `{"e": ""}`},
		{"text with quotes is escaped", "q", `say "hi"`, `{"q": "say \"hi\""}`},
		{"key with quotes is escaped", `k"`, "1", `{"k\"": 1}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := keyValueJSON(tc.key, tc.value); got != tc.want {
				t.Fatalf("keyValueJSON(%q, %q) = %s, want %s", tc.key, tc.value, got, tc.want)
			}
		})
	}
}

func TestKeyValues(t *testing.T) {
	tests := []struct {
		name    string
		objs    []string
		want    []keyValue
		wantErr bool
	}{
		{"none", nil, nil, false},
		{"in order of appearance", []string{`{"b": 1}`, `{"a": "x"}`},
			[]keyValue{{"b", []byte("1")}, {"a", []byte(`"x"`)}}, false},
		{"a later value wins in place", []string{`{"a": 1, "b": 2}`, `{"a": 3}`},
			[]keyValue{{"a", []byte("3")}, {"b", []byte("2")}}, false},
		{"values are compacted, numbers kept as written", []string{`{"f": 1.50, "o": { "x" : [ 1 ] }}`},
			[]keyValue{{"f", []byte("1.50")}, {"o", []byte(`{"x":[1]}`)}}, false},
		{"a file that is not an object", []string{`[1,2]`}, nil, true},
		{"invalid JSON", []string{`{"a": }`}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := keyValues(tc.objs)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if !tc.wantErr && !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPreParse(t *testing.T) {
	files := map[string]string{"p.json": `{"x": 1}`, "a.json": `{"d": "doc"}`}
	read := func(name string) ([]byte, error) {
		if s, ok := files[name]; ok {
			return []byte(s), nil
		}
		return nil, fs.ErrNotExist
	}
	tests := []struct {
		name     string
		args     []string
		rest     []string
		kv       kvArgs
		wantCode int // 0: no error
	}{
		{"no key/value flags", []string{"action", "list", "-l", "5"}, []string{"action", "list", "-l", "5"}, kvArgs{}, 0},
		{"params and annotations anywhere", []string{"action", "create", "-p", "a", "1", "x", "x.js", "--annotation", "d", "text", "--param", "b", "-2"},
			[]string{"action", "create", "x", "x.js"},
			kvArgs{params: []string{`{"a": 1}`, `{"b": -2}`}, annots: []string{`{"d": "text"}`}}, 0},
		{"files", []string{"action", "invoke", "x", "-P", "p.json", "-A", "a.json"}, []string{"action", "invoke", "x"},
			kvArgs{params: []string{`{"x": 1}`}, annots: []string{`{"d": "doc"}`}}, 0},
		{"feed and trigger params", []string{"trigger", "create", "t", "-F", "f", "1", "-T", "g", "2"}, []string{"trigger", "create", "t"},
			kvArgs{feedParams: []string{`{"f": 1}`}, triggerParams: []string{`{"g": 2}`}}, 0},
		{"after -- nothing is taken", []string{"x", "--", "-p", "a", "b"}, []string{"x", "--", "-p", "a", "b"}, kvArgs{}, 0},
		{"-p without a value", []string{"action", "invoke", "x", "-p", "k"}, nil, kvArgs{}, exitGeneral},
		{"-P without a file", []string{"action", "invoke", "x", "-P"}, nil, kvArgs{}, exitGeneral},
		{"-P of a missing file", []string{"action", "invoke", "x", "-P", "nope.json"}, nil, kvArgs{}, exitUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rest, kv, err := preParse(tc.args, read)
			if tc.wantCode != 0 {
				if err == nil || ExitCode(err) != tc.wantCode || !showsUsage(err) {
					t.Fatalf("err = %v (exit %d), want exit %d with usage", err, ExitCode(err), tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(rest, tc.rest) || !reflect.DeepEqual(kv, tc.kv) {
				t.Fatalf("got %q %+v, want %q %+v", rest, kv, tc.rest, tc.kv)
			}
		})
	}
}

func TestParseQualifiedName(t *testing.T) {
	tests := []struct {
		in      string
		want    qualifiedName
		entity  string
		wantErr bool
	}{
		{"hello", qualifiedName{"_", "", "hello"}, "hello", false},
		{"pkg/hello", qualifiedName{"_", "pkg", "hello"}, "pkg/hello", false},
		{"/guest/hello", qualifiedName{"guest", "", "hello"}, "hello", false},
		{"/guest/pkg/hello", qualifiedName{"guest", "pkg", "hello"}, "pkg/hello", false},
		{"/guest", qualifiedName{"guest", "", ""}, "", false},
		{"", qualifiedName{}, "", true},
		{"/", qualifiedName{}, "", true},
		{"a/b/c", qualifiedName{}, "", true},
		{"/a/b/c/d", qualifiedName{}, "", true},
		{"//x", qualifiedName{}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseQualifiedName(tc.in, "_")
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want || got.EntityName() != tc.entity {
				t.Fatalf("got %+v (%q), want %+v (%q)", got, got.EntityName(), tc.want, tc.entity)
			}
		})
	}
	if q := qualify("a", "_"); q != "/_/a" {
		t.Errorf("qualify(a) = %q", q)
	}
	if q := qualify("/ns/a", "_"); q != "/ns/a" {
		t.Errorf("qualify(/ns/a) = %q", q)
	}
}

func TestCheckArgs(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		min, max int
		wantMsg  string
	}{
		{"enough", []string{"a"}, 1, 2, ""},
		{"too few", nil, 1, 1, "Invalid argument(s). An action name is required."},
		{"too many", []string{"a", "b", "c"}, 1, 1, "Invalid argument(s): b, c. An action name is required."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkArgs(tc.args, tc.min, tc.max, "An action name is required.")
			if tc.wantMsg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ce *cliError
			if !errors.As(err, &ce) || err.Error() != tc.wantMsg || ExitCode(err) != exitGeneral || !ce.usage {
				t.Fatalf("err = %v, want %q (exit 1, usage)", err, tc.wantMsg)
			}
		})
	}
}
