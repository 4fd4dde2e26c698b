package wskcli

import (
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"strings"

	"github.com/gowhisk/gowhisk/entity"
)

// Annotation keys the CLI manages for web actions.
const (
	annotWebExport  = "web-export"
	annotRawHTTP    = "raw-http"
	annotFinal      = "final"
	annotWebSecure  = "require-whisk-auth"
	nativeImage     = "openwhisk/dockerskeleton"
	maxJSInt        = 1<<53 - 1
	kindSequence    = "sequence"
	kindBlackbox    = "blackbox"
	extZip          = ".zip"
	extJar          = ".jar"
	extBallerinaBin = ".balx"
)

// kindByExt maps an artifact's extension to the kind the CLI infers.
var kindByExt = map[string]string{
	".js":    "nodejs:default",
	".py":    "python:default",
	".swift": "swift:default",
	".java":  "java:default",
	".jar":   "java:default",
	".php":   "php:default",
	".rb":    "ruby:default",
	".rs":    "rust:default",
	".go":    "go:default",
	".bal":   "ballerina:default",
	".balx":  "ballerina:default",
}

// execFlags are the flags that decide an action's exec.
type execFlags struct {
	kind, main, docker string
	native             bool
}

// inferKind returns the kind of an artifact: --kind wins, then --docker or
// --native (blackbox), then the file extension. A .zip needs one of them.
// Errors are usage errors with the original's messages.
func inferKind(artifact string, f execFlags) (string, error) {
	if f.kind != "" {
		return f.kind, nil
	}
	if f.docker != "" || f.native {
		return kindBlackbox, nil
	}
	ext := filepath.Ext(artifact)
	if k, ok := kindByExt[ext]; ok {
		return k, nil
	}
	if ext == extZip {
		return "", newError("creating an action from a .zip artifact requires specifying the action kind explicitly", exitUsage, true)
	}
	return "", newError("'"+ext+"' is not a supported action runtime", exitUsage, true)
}

// isBinaryArtifact reports whether an artifact is sent base64-encoded.
func isBinaryArtifact(artifact string) bool {
	switch filepath.Ext(artifact) {
	case extZip, extJar, extBallerinaBin:
		return true
	}
	return false
}

// buildExec is the exec of an action from its artifact (path and content;
// artifact "" with --docker means an image without code).
func buildExec(artifact string, content []byte, f execFlags) (*entity.Exec, error) {
	kind, err := inferKind(artifact, f)
	if err != nil {
		return nil, err
	}
	e := &entity.Exec{Kind: kind, Main: f.main}
	if artifact != "" {
		code := string(content)
		if isBinaryArtifact(artifact) {
			code = base64.StdEncoding.EncodeToString(content)
		}
		e.Code = code
		e.Binary = entity.IsBase64(code)
	}
	if kind == kindBlackbox {
		e.Image = f.docker
		if f.native {
			e.Image = nativeImage
		}
	}
	if kind == "java" && f.main == "" {
		return nil, newError("Java actions require --main to specify the fully-qualified name of the main class", exitUsage, true)
	}
	return e, nil
}

// sequenceExec is the exec of --sequence a,b: components qualified in ns.
func sequenceExec(list, ns string) *entity.Exec {
	var comps []string
	for _, c := range strings.Split(list, ",") {
		comps = append(comps, qualify(c, ns))
	}
	return &entity.Exec{Kind: kindSequence, Components: comps}
}

// webAnnotations applies --web MODE to annots: true/yes exports the action
// (web-export, final true; raw-http false), raw also sets raw-http, and
// false/no sets all three false. An unknown mode is a usage error.
func webAnnotations(mode string, annots []keyValue) ([]keyValue, error) {
	var export, raw, final bool
	switch strings.ToLower(mode) {
	case "yes", "true":
		export, final = true, true
	case "raw":
		export, raw, final = true, true, true
	case "no", "false":
	default:
		return nil, newError("Invalid argument '"+mode+"' for --web flag. Valid input consist of 'yes', 'true', 'raw', 'false', or 'no'.", exitUsage, true)
	}
	out := append([]keyValue(nil), annots...)
	for _, k := range []string{annotWebExport, annotRawHTTP, annotFinal} {
		out = deleteKeyValue(out, k)
	}
	out = append(out,
		keyValue{annotWebExport, boolJSON(export)},
		keyValue{annotRawHTTP, boolJSON(raw)},
		keyValue{annotFinal, boolJSON(final)})
	return out, nil
}

func boolJSON(b bool) json.RawMessage {
	if b {
		return json.RawMessage("true")
	}
	return json.RawMessage("false")
}

// isWeb reports whether annots export the action to the web.
func isWeb(annots []keyValue) bool {
	v, ok := getKeyValue(annots, annotWebExport)
	return ok && string(v) == "true"
}

// webSecureSecret is the require-whisk-auth value of --web-secure: true
// generates a number, false means none (nil), anything else is the secret.
func webSecureSecret(mode string) json.RawMessage {
	switch strings.ToLower(mode) {
	case "true":
		b, _ := json.Marshal(rand.Int64N(maxJSInt))
		return b
	case "false":
		return nil
	}
	b, _ := json.Marshal(mode)
	return b
}

// isJSONInt reports whether v is a JSON integer.
func isJSONInt(v json.RawMessage) bool {
	var n json.Number
	if json.Unmarshal(v, &n) != nil {
		return false
	}
	_, err := n.Int64()
	return err == nil
}

// applyWebSecure sets or removes require-whisk-auth for --web-secure MODE:
// an existing generated number is kept when a new one is asked for. It
// returns the annotations and whether the annotation must be deleted.
func applyWebSecure(mode string, annots []keyValue) ([]keyValue, bool) {
	secret := webSecureSecret(mode)
	existing, had := getKeyValue(annots, annotWebSecure)
	switch {
	case secret == nil:
		return deleteKeyValue(annots, annotWebSecure), had
	case had && isJSONInt(existing) && isJSONInt(secret):
		return annots, false
	}
	return setKeyValue(append([]keyValue(nil), annots...), annotWebSecure, secret), false
}

// kindExtension is the file extension action get --save uses for a kind.
func kindExtension(kind string, binary bool) string {
	runtime := strings.ToLower(strings.Split(kind, ":")[0])
	if binary {
		switch runtime {
		case "java":
			return extJar
		case "ballerina":
			return extBallerinaBin
		}
		return extZip
	}
	switch runtime {
	case "nodejs":
		return ".js"
	case "python":
		return ".py"
	case "swift", "php":
		return "." + runtime
	case "ruby":
		return ".rb"
	case "rust":
		return ".rs"
	case "go":
		return ".go"
	}
	return ""
}

// toParams converts a key/value list to entity parameters.
func toParams(kvs []keyValue) entity.Params {
	out := make(entity.Params, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, entity.Param{Key: kv.Key, Value: kv.Value})
	}
	return out
}

// fromParams converts entity parameters to a key/value list.
func fromParams(ps entity.Params) []keyValue {
	out := make([]keyValue, 0, len(ps))
	for _, p := range ps {
		out = append(out, keyValue{Key: p.Key, Value: p.Value})
	}
	return out
}
