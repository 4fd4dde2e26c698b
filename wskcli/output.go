package wskcli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
)

// stream is an output stream; colour is used only when it is a terminal.
type stream struct {
	w     io.Writer
	color bool
}

func (s stream) paint(code, text string) string {
	if !s.color {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

func (s stream) bold(text string) string { return s.paint("1", text) }

// okf prints "ok: " (green) and the message.
func (s stream) okf(format string, args ...any) {
	fmt.Fprintf(s.w, "%s %s\n", s.paint("32", "ok:"), fmt.Sprintf(format, args...))
}

// printJSON prints v as the original CLI does: HTML characters unescaped,
// indented by four spaces, followed by a newline.
func printJSON(w io.Writer, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(w, "%v\n", v)
		return
	}
	var out bytes.Buffer
	if err := json.Indent(&out, buf.Bytes(), "", "    "); err != nil {
		w.Write(buf.Bytes())
		return
	}
	w.Write(out.Bytes())
}

// decodeJSON decodes b into v keeping numbers as written.
func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// The show* types are what get and invoke print: the fields, order and
// omissions of apache/openwhisk-client-go's structs, so that the output is
// the original CLI's.

type showKV struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

type showKVs []showKV

func (kvs showKVs) value(key string) any {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value
		}
	}
	return nil
}

func (kvs showKVs) keys() []string {
	var out []string
	for _, kv := range kvs {
		out = append(out, kv.Key)
	}
	sort.Strings(out)
	return out
}

type showExec struct {
	Kind       string   `json:"kind,omitempty"`
	Code       *string  `json:"code,omitempty"`
	Image      string   `json:"image,omitempty"`
	Init       string   `json:"init,omitempty"`
	Main       string   `json:"main,omitempty"`
	Components []string `json:"components,omitempty"`
	Binary     *bool    `json:"binary,omitempty"`
}

type showLimits struct {
	Timeout     *int `json:"timeout,omitempty"`
	Memory      *int `json:"memory,omitempty"`
	Logsize     *int `json:"logs,omitempty"`
	Concurrency *int `json:"concurrency,omitempty"`
}

type showAction struct {
	Namespace      string      `json:"namespace,omitempty"`
	Name           string      `json:"name,omitempty"`
	Version        string      `json:"version,omitempty"`
	Exec           *showExec   `json:"exec,omitempty"`
	Annotations    showKVs     `json:"annotations,omitempty"`
	DelAnnotations []string    `json:"delAnnotations,omitempty"`
	Parameters     showKVs     `json:"parameters,omitempty"`
	Limits         *showLimits `json:"limits,omitempty"`
	Error          string      `json:"error,omitempty"`
	Code           int         `json:"code,omitempty"`
	Publish        *bool       `json:"publish,omitempty"`
	Updated        int64       `json:"updated,omitempty"`
}

type showTrigger struct {
	Namespace    string         `json:"namespace,omitempty"`
	Name         string         `json:"name"`
	Version      string         `json:"version,omitempty"`
	ActivationID string         `json:"activationId,omitempty"`
	Annotations  showKVs        `json:"annotations,omitempty"`
	Parameters   showKVs        `json:"parameters,omitempty"`
	Limits       *showLimits    `json:"limits,omitempty"`
	Publish      *bool          `json:"publish,omitempty"`
	Rules        map[string]any `json:"rules,omitempty"`
	Updated      int64          `json:"updated,omitempty"`
}

type showRule struct {
	Namespace   string `json:"namespace,omitempty"`
	Name        string `json:"name,omitempty"`
	Version     string `json:"version,omitempty"`
	Annotations any    `json:"annotations,omitempty"`
	Status      string `json:"status"`
	Trigger     any    `json:"trigger"`
	Action      any    `json:"action"`
	Publish     *bool  `json:"publish,omitempty"`
	Updated     int64  `json:"updated,omitempty"`
}

type showBinding struct {
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
}

type showPackage struct {
	Namespace   string       `json:"namespace,omitempty"`
	Name        string       `json:"name,omitempty"`
	Version     string       `json:"version,omitempty"`
	Publish     *bool        `json:"publish,omitempty"`
	Annotations showKVs      `json:"annotations,omitempty"`
	Parameters  showKVs      `json:"parameters,omitempty"`
	Binding     *showBinding `json:"binding,omitempty"`
	Actions     []showAction `json:"actions,omitempty"`
	Feeds       []showAction `json:"feeds,omitempty"`
	Updated     int64        `json:"updated,omitempty"`
}

type showResponse struct {
	Status     string `json:"status"`
	StatusCode int    `json:"statusCode"`
	Success    bool   `json:"success"`
	Result     any    `json:"result,omitempty"`
}

type showActivation struct {
	Namespace    string       `json:"namespace"`
	Name         string       `json:"name"`
	Version      string       `json:"version"`
	Subject      string       `json:"subject"`
	ActivationID string       `json:"activationId"`
	Cause        string       `json:"cause,omitempty"`
	Start        int64        `json:"start"`
	End          int64        `json:"end"`
	Duration     int64        `json:"duration"`
	StatusCode   int          `json:"statusCode"`
	Response     showResponse `json:"response"`
	Logs         []string     `json:"logs"`
	Annotations  showKVs      `json:"annotations"`
	Publish      *bool        `json:"publish,omitempty"`
}

// fieldOf returns the field of a show* struct named field (any case).
func fieldOf(v any, field string) (any, bool) {
	rv := reflect.Indirect(reflect.ValueOf(v))
	if rv.Kind() != reflect.Struct {
		return nil, false
	}
	f := rv.FieldByNameFunc(func(n string) bool { return strings.EqualFold(n, field) })
	if !f.IsValid() {
		return nil, false
	}
	return f.Interface(), true
}

// invalidField is the error of an unknown field filter.
func invalidField(field string) error {
	return newError(fmt.Sprintf("Invalid field filter '%s'.", field), exitUsage, true)
}

// paramUnion is the sorted union of bound parameters and parameters
// declared in the "parameters" annotation; bound ones are prefixed with "*"
// ("**" when the entity is final).
func paramUnion(annots, params showKVs) []string {
	tag := "*"
	if b, ok := annots.value("final").(bool); ok && b {
		tag = "**"
	}
	bound := params.keys()
	set := map[string]bool{}
	var all []string
	add := func(k string) {
		if !set[k] {
			set[k] = true
			all = append(all, k)
		}
	}
	for _, k := range bound {
		add(k)
	}
	if list, ok := annots.value("parameters").([]any); ok {
		for _, item := range list {
			if m, ok := item.(map[string]any); ok {
				if n, ok := m["name"].(string); ok {
					add(n)
				}
			}
		}
	}
	sort.Strings(all)
	isBound := map[string]bool{}
	for _, k := range bound {
		isBound[k] = true
	}
	for i, k := range all {
		if isBound[k] {
			all[i] = tag + k
		}
	}
	return all
}

// printEntitySummary prints the --summary form of an entity.
func printEntitySummary(s stream, kind, fullName string, annots showKVs, params []string) {
	desc, _ := annots.value("description").(string)
	ps := strings.Join(params, ", ")
	switch {
	case desc != "":
		fmt.Fprintf(s.w, "%s %s: %s\n", s.bold(kind), fullName, desc)
	case ps != "":
		fmt.Fprintf(s.w, "%s %s: %s\n", s.bold(kind), fullName, paramDescription(ps))
	default:
		fmt.Fprintf(s.w, "%s %s\n", s.bold(kind), fullName)
	}
	if ps == "" {
		ps = "none defined"
	}
	fmt.Fprintf(s.w, "   (%s: %s)\n", s.bold("parameters"), ps)
}

// paramDescription is the description made up from parameter names.
func paramDescription(params string) string {
	const preamble = "Returns a result based on parameter"
	params = strings.ReplaceAll(params, "*", "")
	parts := strings.Split(params, ",")
	if len(parts) > 1 {
		last := parts[len(parts)-1]
		return fmt.Sprintf("%ss %s", preamble, strings.Replace(params, ","+last, " and"+last, 1))
	}
	return preamble + " " + params
}

// fullName is "/ns[/pkg][/name]".
func fullName(ns, pkg, name string) string {
	out := "/" + ns
	if pkg != "" {
		out += "/" + pkg
	}
	if name != "" {
		out += "/" + name
	}
	return out
}
