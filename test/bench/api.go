package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
)

// The noop actions every scenario runs.
var (
	nodeNoop   = map[string]any{"kind": "nodejs:20", "code": "function main(params) { return {} }"}
	pythonNoop = map[string]any{"kind": "python:3", "code": "def main(args):\n    return {}\n"}
)

const noopGo = `package main

import "os"

func main() { os.Stdout.WriteString("{}\n") }
`

// buildNativeNoop compiles a noop native executable (Go, static) into dir
// and returns its path and the exec of a blackbox action holding it (a zip
// with "exec", as OpenWhisk's docker skeleton takes it).
func buildNativeNoop(ctx context.Context, dir string) (string, map[string]any, error) {
	src := filepath.Join(dir, "noop-src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", nil, err
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module noop\n\ngo 1.22\n"), 0o644); err != nil {
		return "", nil, err
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(noopGo), 0o644); err != nil {
		return "", nil, err
	}
	exe := filepath.Join(dir, "noop-native")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", exe, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("build native noop: %w\n%s", err, b)
	}
	bin, err := os.ReadFile(exe)
	if err != nil {
		return "", nil, err
	}
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	h := &zip.FileHeader{Name: "exec", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return "", nil, err
	}
	if _, err := w.Write(bin); err != nil {
		return "", nil, err
	}
	if err := zw.Close(); err != nil {
		return "", nil, err
	}
	return exe, map[string]any{
		"kind": "blackbox", "image": "openwhisk/dockerskeleton", "binary": true,
		"code": base64.StdEncoding.EncodeToString(zb.Bytes()),
	}, nil
}

// api talks to gowhisk's REST API in the guest namespace.
type api struct{ *client }

func actionPath(name string) string { return "/api/v1/namespaces/_/actions/" + url.PathEscape(name) }

func (a api) putAction(ctx context.Context, name string, exec map[string]any) error {
	body, err := json.Marshal(map[string]any{"exec": exec})
	if err != nil {
		return err
	}
	_, err = a.expect(ctx, 200, "PUT", actionPath(name)+"?overwrite=true", body)
	return err
}

var emptyArgs = []byte("{}")

// invoke runs name blocking and fails unless it answers 200 {}.
func (a api) invoke(ctx context.Context, name string) error {
	b, err := a.expect(ctx, 200, "POST", actionPath(name)+"?blocking=true&result=true", emptyArgs)
	if err != nil {
		return err
	}
	if string(bytes.TrimSpace(b)) != "{}" {
		return fmt.Errorf("invoke %s answered %.200s, want {}", name, b)
	}
	return nil
}

// invokeRecord runs name blocking and returns its activation record.
func (a api) invokeRecord(ctx context.Context, name string) (*record, error) {
	b, err := a.expect(ctx, 200, "POST", actionPath(name)+"?blocking=true", emptyArgs)
	if err != nil {
		return nil, err
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("invoke %s: %w: %.200s", name, err, b)
	}
	return &r, nil
}

// invokeAsync starts name non-blocking (202).
func (a api) invokeAsync(ctx context.Context, name string) error {
	_, err := a.expect(ctx, 202, "POST", actionPath(name), emptyArgs)
	return err
}

// record is the part of an activation record the benchmark reads.
type record struct {
	ActivationID string `json:"activationId"`
	Annotations  []struct {
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"`
	} `json:"annotations"`
	Response struct {
		Success bool `json:"success"`
	} `json:"response"`
}

// cold reports whether the record has an initTime annotation (a cold
// start: the container was initialized for this activation).
func (r *record) cold() bool {
	for _, a := range r.Annotations {
		if a.Key == "initTime" {
			return true
		}
	}
	return false
}

func (a api) putTrigger(ctx context.Context, name string) error {
	_, err := a.expect(ctx, 200, "PUT", "/api/v1/namespaces/_/triggers/"+name+"?overwrite=true", []byte("{}"))
	return err
}

func (a api) putRule(ctx context.Context, name, trigger, action string) error {
	body, err := json.Marshal(map[string]string{"trigger": "/_/" + trigger, "action": "/_/" + action})
	if err != nil {
		return err
	}
	_, err = a.expect(ctx, 200, "PUT", "/api/v1/namespaces/_/rules/"+name+"?overwrite=true", body)
	return err
}

// fire fires trigger name and fails unless it is accepted (202).
func (a api) fire(ctx context.Context, name string) error {
	_, err := a.expect(ctx, 202, "POST", "/api/v1/namespaces/_/triggers/"+name, emptyArgs)
	return err
}

// count is the number of activation records of the namespace that started
// at or after sinceMs (what GET .../activations?count=true shows).
func (a api) count(ctx context.Context, sinceMs int64) (int, error) {
	b, err := a.expect(ctx, 200, "GET", fmt.Sprintf("/api/v1/namespaces/_/activations?count=true&since=%d", sinceMs), nil)
	if err != nil {
		return 0, err
	}
	var c struct {
		N *int `json:"activations"`
	}
	if err := json.Unmarshal(b, &c); err != nil || c.N == nil {
		return 0, fmt.Errorf("count answered %.200s", b)
	}
	return *c.N, nil
}
