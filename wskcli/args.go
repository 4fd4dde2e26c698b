package wskcli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// kvArgs are the key/value arguments the CLI takes out of the command line
// before cobra parses it (as the original wsk does, since a flag cannot take
// two values): each entry is a JSON object text, from "-p KEY VALUE" or the
// content of a "-P FILE".
type kvArgs struct {
	params, annots, feedParams, triggerParams []string
}

// preParse removes -p/--param K V, -a/--annotation K V, -F/--feed-param K V,
// -T/--trigger-param K V, -P/--param-file FILE and -A/--annotation-file FILE
// from args. readFile reads the files of -P and -A.
func preParse(args []string, readFile func(string) ([]byte, error)) ([]string, kvArgs, error) {
	var kv kvArgs
	rest := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch a {
		case "--":
			rest = append(rest, args[i:]...)
			return rest, kv, nil
		case "-p", "--param", "-a", "--annotation", "-F", "--feed-param", "-T", "--trigger-param":
			if i+2 >= len(args) {
				err := newError(fmt.Sprintf("Arguments for '%s' must be a key/value pair", a), exitGeneral, true)
				switch a {
				case "-p", "--param":
					err = wrapError(err, "The parameter arguments are invalid: %s", exitGeneral, true)
				case "-a", "--annotation":
					err = wrapError(err, "The annotation arguments are invalid: %s", exitGeneral, true)
				}
				return nil, kv, err
			}
			obj := keyValueJSON(args[i+1], args[i+2])
			switch a {
			case "-p", "--param":
				kv.params = append(kv.params, obj)
			case "-a", "--annotation":
				kv.annots = append(kv.annots, obj)
			case "-F", "--feed-param":
				kv.feedParams = append(kv.feedParams, obj)
			default:
				kv.triggerParams = append(kv.triggerParams, obj)
			}
			i += 2
		case "-P", "--param-file", "-A", "--annotation-file":
			what := "parameter"
			if a == "-A" || a == "--annotation-file" {
				what = "annotation"
			}
			if i+1 >= len(args) {
				err := newError(fmt.Sprintf("An argument must be provided for '%s'", a), exitGeneral, true)
				return nil, kv, wrapError(err, "The "+what+" arguments are invalid: %s", exitGeneral, true)
			}
			b, err := readFile(args[i+1])
			if err != nil {
				return nil, kv, fileError(args[i+1], err)
			}
			if what == "parameter" {
				kv.params = append(kv.params, string(b))
			} else {
				kv.annots = append(kv.annots, string(b))
			}
			i++
		default:
			rest = append(rest, a)
		}
	}
	return rest, kv, nil
}

// fileError is the error of a file argument that cannot be read.
func fileError(name string, err error) error {
	if _, statErr := os.Stat(name); statErr != nil {
		return newError(fmt.Sprintf("File '%s' is not a valid file or it does not exist: %v", name, statErr), exitUsage, true)
	}
	return newError(fmt.Sprintf("Unable to read '%s': %v", name, err), exitGeneral, true)
}

// keyValueJSON is the JSON object {"key": value} of "-p KEY VALUE": VALUE
// is used as JSON when it is valid JSON, else as a string.
func keyValueJSON(key, value string) string {
	k, _ := json.Marshal(key)
	if json.Valid([]byte(value)) {
		return "{" + string(k) + ": " + value + "}"
	}
	v, _ := json.Marshal(value)
	return "{" + string(k) + ": " + string(v) + "}"
}

// keyValue is one {"key","value"} of a parameter or annotation list; Value
// is compact JSON.
type keyValue struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// keyValues merges JSON object texts into a key/value list: keys keep
// their first position, later values win.
func keyValues(objs []string) ([]keyValue, error) {
	var out []keyValue
	for _, o := range objs {
		dec := json.NewDecoder(strings.NewReader(o))
		dec.UseNumber()
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		if d, ok := tok.(json.Delim); !ok || d != '{' {
			return nil, fmt.Errorf("json: cannot unmarshal %v into Go value of type map[string]interface {}", describeJSON(o))
		}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key, _ := kt.(string)
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return nil, err
			}
			var buf bytes.Buffer
			if err := json.Compact(&buf, v); err != nil {
				return nil, err
			}
			out = setKeyValue(out, key, buf.Bytes())
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func describeJSON(s string) string {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "["):
		return "array"
	case strings.HasPrefix(s, "\""):
		return "string"
	case s == "true" || s == "false":
		return "bool"
	case s == "null":
		return "null"
	}
	return "number"
}

// setKeyValue sets key to value in list, in place if the key exists.
func setKeyValue(list []keyValue, key string, value json.RawMessage) []keyValue {
	for i := range list {
		if list[i].Key == key {
			list[i].Value = value
			return list
		}
	}
	return append(list, keyValue{Key: key, Value: value})
}

// getKeyValue returns the value of key in list.
func getKeyValue(list []keyValue, key string) (json.RawMessage, bool) {
	for _, kv := range list {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// deleteKeyValue removes key from list.
func deleteKeyValue(list []keyValue, key string) []keyValue {
	out := list[:0:0]
	for _, kv := range list {
		if kv.Key != key {
			out = append(out, kv)
		}
	}
	return out
}

// paramObject is the JSON object of a key/value list (an invoke or fire
// body); an empty list is {}.
func paramObject(list []keyValue) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range list {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(kv.Key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(kv.Value)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// paramsError is the error of a -p/-P argument that is not valid JSON.
func paramsError(what string, objs []string, err error) error {
	return newError(fmt.Sprintf("Invalid %s argument '%#v': %v", what, objs, err), exitGeneral, true)
}

// qualifiedName is an entity name as the CLI reads it: "/ns/[pkg/]name",
// "/ns" (a namespace only), or "[pkg/]name" in the default namespace.
type qualifiedName struct {
	Namespace string // "_" unless given
	Pkg       string
	Name      string // may be "" for a bare namespace
}

// EntityName is "pkg/name" or "name".
func (q qualifiedName) EntityName() string {
	if q.Pkg != "" {
		return q.Pkg + "/" + q.Name
	}
	return q.Name
}

// String is "/ns/[pkg/]name".
func (q qualifiedName) String() string {
	if q.Name == "" {
		return "/" + q.Namespace
	}
	return "/" + q.Namespace + "/" + q.EntityName()
}

// parseQualifiedName parses a name argument; ns is the default namespace.
func parseQualifiedName(s, ns string) (qualifiedName, error) {
	invalid := func() (qualifiedName, error) {
		return qualifiedName{}, newError(fmt.Sprintf("'%s' is not a valid qualified name: A valid qualified name was not detected", s), exitGeneral, true)
	}
	if s == "" || s == "/" {
		return invalid()
	}
	if strings.HasPrefix(s, "/") {
		parts := strings.Split(s[1:], "/")
		for _, p := range parts {
			if p == "" {
				return invalid()
			}
		}
		switch len(parts) {
		case 1:
			return qualifiedName{Namespace: parts[0]}, nil
		case 2:
			return qualifiedName{Namespace: parts[0], Name: parts[1]}, nil
		case 3:
			return qualifiedName{Namespace: parts[0], Pkg: parts[1], Name: parts[2]}, nil
		}
		return invalid()
	}
	parts := strings.Split(s, "/")
	for _, p := range parts {
		if p == "" {
			return invalid()
		}
	}
	switch len(parts) {
	case 1:
		return qualifiedName{Namespace: ns, Name: parts[0]}, nil
	case 2:
		return qualifiedName{Namespace: ns, Pkg: parts[0], Name: parts[1]}, nil
	}
	return invalid()
}

// qualify makes an entity reference absolute: "a" → "/_/a".
func qualify(s, ns string) string {
	if strings.HasPrefix(s, "/") {
		return s
	}
	return "/" + ns + "/" + s
}

// checkArgs checks the number of positional arguments as the original's
// CheckArgs does (exit 1, with the usage hint).
func checkArgs(args []string, min, max int, required string) error {
	if len(args) < min {
		return newError("Invalid argument(s). "+required, exitGeneral, true)
	}
	if len(args) > max {
		return newError(fmt.Sprintf("Invalid argument(s): %s. %s", strings.Join(args[max:], ", "), required), exitGeneral, true)
	}
	return nil
}

// oneName checks that args is exactly one entity name (the usage error
// names what is required otherwise) and qualifies it.
func (a *app) oneName(args []string, required string) (qualifiedName, error) {
	if err := checkArgs(args, 1, 1, required); err != nil {
		return qualifiedName{}, err
	}
	return a.qname(args[0])
}

// displayNamespace is the namespace as messages show it: "_" is "default".
func displayNamespace(ns string) string {
	if ns == "_" {
		return "default"
	}
	return ns
}
