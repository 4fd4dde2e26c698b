package invoker

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/invoker/container"
	"github.com/gowhisk/gowhisk/invoker/pool"
	"github.com/gowhisk/gowhisk/messaging"
)

// Pure construction of the pool job and of the activation record from an
// ActivationMessage and the action it names.

const (
	// defaultMain is the entry point when the action names none.
	defaultMain = "main"
	// envAPIHost is the container-level variable naming the API host.
	envAPIHost = "__OW_API_HOST"
)

// providesAPIKey reports whether the action gets the caller's key
// (__OW_API_KEY, api_key): annotation provide-api-key truthy, or absent
// (old actions, as OpenWhisk treats a missing annotation).
func providesAPIKey(a *entity.Action) bool {
	if !a.Annotations.Has(entity.AnnotationProvideAPIKey) {
		return true
	}
	return a.Annotations.IsTruthy(entity.AnnotationProvideAPIKey)
}

// partitionArgs splits the message content into the /init parameters
// (named by initArgs) and the /run value, as OpenWhisk's
// ContainerProxy.partitionArguments: no content gives {}; an array (or
// any content when there are no init args) is passed through as is.
func partitionArgs(content json.RawMessage, initArgs []string) (env entity.Params, value json.RawMessage) {
	c := bytes.TrimSpace(content)
	if len(c) == 0 || string(c) == "null" {
		return nil, json.RawMessage("{}")
	}
	if len(initArgs) == 0 || c[0] != '{' {
		return nil, c
	}
	params, err := entity.ParamsFromObject(c)
	if err != nil {
		return nil, c
	}
	var run entity.Params
	for _, p := range params {
		if contains(initArgs, p.Key) {
			env = append(env, p)
		} else {
			run = append(run, p)
		}
	}
	return env, run.AppendObject(make([]byte, 0, len(c)))
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// envString stringifies a JSON value for the /init environment: strings as
// they are, null as "", anything else as its compact JSON text.
func envString(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 0 || string(v) == "null":
		return ""
	case v[0] == '"':
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
	}
	return string(v)
}

// runtimeSpec resolves the sandbox of an action's exec: a runtime kind's
// image from the manifest, or a blackbox image (native when it is one of
// the manifest's skeletons). ok is false for a kind the manifest lacks.
func runtimeSpec(m *entity.Manifest, e *entity.Exec) (kind, image string, native, ok bool) {
	if e.Kind == entity.KindBlackbox {
		if m != nil {
			if full, ok := m.NativeBlackboxImage(e.Image); ok {
				return e.Kind, full, true, true
			}
		}
		return e.Kind, e.Image, false, true
	}
	if m == nil {
		return "", "", false, false
	}
	rk, found := m.Resolve(e.Kind)
	if !found {
		return "", "", false, false
	}
	return rk.Kind, rk.Image.String(), false, true
}

// jobInput is what buildJob needs besides the message and the action.
type jobInput struct {
	msg     *messaging.ActivationMessage
	action  *entity.Action
	kind    string
	image   string
	native  bool
	apiHost string
	invoker int
	now     time.Time // when the job is built: the deadline's origin
}

// buildJob builds the pool job: the sandbox spec, the /init request (with
// the __OW_* environment and the init parameters) and the /run request
// (the arguments without the init parameters).
func buildJob(in jobInput) pool.Job {
	msg, a := in.msg, in.action
	timeout := time.Duration(a.Limits.Timeout) * time.Millisecond
	deadline := strconv.FormatInt(in.now.Add(timeout).UnixMilli(), 10)
	actionName := a.FullName().String()
	version := a.Version.String()
	apiKey := ""
	if providesAPIKey(a) {
		apiKey = msg.User.AuthKey.APIKey
	}
	initParams, value := partitionArgs(msg.Content, msg.InitArgs)

	env := make(map[string]string, 7+len(initParams))
	for _, p := range initParams {
		env[p.Key] = envString(p.Value)
	}
	if apiKey != "" {
		env["__OW_API_KEY"] = apiKey
	}
	env["__OW_NAMESPACE"] = msg.User.Namespace.Name
	env["__OW_ACTION_NAME"] = actionName
	env["__OW_ACTION_VERSION"] = version
	env["__OW_ACTIVATION_ID"] = msg.ActivationID
	env["__OW_TRANSACTION_ID"] = msg.TransID.ID
	env["__OW_DEADLINE"] = deadline

	main := a.Exec.Main
	if main == "" {
		main = defaultMain
	}
	var specEnv map[string]string
	if in.apiHost != "" {
		specEnv = map[string]string{envAPIHost: in.apiHost}
	}
	return pool.Job{
		Key: pool.Key{Namespace: msg.User.Namespace.Name, Action: a.FullName().DocID(), Revision: a.Revision()},
		Spec: container.Spec{
			Name:     msg.User.Namespace.Name + "_" + a.Name,
			Kind:     in.kind,
			Image:    in.image,
			Native:   in.native,
			MemoryMB: a.Limits.Memory,
			Env:      specEnv,
			Labels:   map[string]string{"invoker": messaging.InvokerTopic(in.invoker)},
		},
		Init: container.InitRequest{Name: a.Name, Main: main, Code: a.Exec.Code, Binary: a.Exec.Binary, Env: env},
		Run: container.RunRequest{
			Value:         value,
			Namespace:     msg.User.Namespace.Name,
			ActionName:    actionName,
			ActionVersion: version,
			ActivationID:  msg.ActivationID,
			TransactionID: msg.TransID.ID,
			Deadline:      deadline,
			APIKey:        apiKey,
		},
		Timeout:     timeout,
		LogLimit:    int64(a.Limits.Logs) << 20,
		Concurrency: a.Limits.Concurrency,
	}
}

// record builds the activation record of a run, with OpenWhisk's
// annotations in OpenWhisk's order: limits, path, kind, timeout,
// [causedBy], [initTime (cold starts only)], waitTime, [binding].
func record(msg *messaging.ActivationMessage, a *entity.Action, kind string, out *pool.Outcome) *entity.Activation {
	start, end := out.Start.UnixMilli(), out.End.UnixMilli()
	duration := end - start
	wait := max(start-msg.TransID.Start, 0)
	ann := make(entity.Params, 0, 8)
	ann = append(ann,
		entity.Param{Key: entity.AnnotationLimits, Value: entity.JSONValue(a.Limits)},
		entity.Param{Key: entity.AnnotationPath, Value: entity.JSONValue(a.FullName().DocID())},
		entity.Param{Key: entity.AnnotationKind, Value: entity.JSONValue(kind)},
		entity.Param{Key: entity.AnnotationTimeout, Value: entity.JSONValue(out.TimedOut)},
	)
	if msg.Cause != "" {
		ann = append(ann, entity.Param{Key: entity.AnnotationCausedBy, Value: json.RawMessage(`"sequence"`)})
	}
	if out.Cold {
		ann = append(ann, entity.Param{Key: entity.AnnotationInitTime, Value: entity.JSONValue(out.InitTime.Milliseconds())})
	}
	ann = append(ann, entity.Param{Key: entity.AnnotationWaitTime, Value: entity.JSONValue(wait)})
	if msg.Action.Binding != "" {
		ann = append(ann, entity.Param{Key: entity.AnnotationBinding, Value: entity.JSONValue(string(msg.Action.Binding))})
	}
	logs := out.Logs
	if logs == nil {
		logs = []string{}
	}
	return &entity.Activation{
		Namespace:    msg.User.Namespace.Name,
		Name:         a.Name,
		Subject:      msg.User.Subject,
		ActivationID: msg.ActivationID,
		Start:        start,
		End:          end,
		Duration:     &duration,
		Cause:        msg.Cause,
		Response:     out.Response,
		Logs:         logs,
		Version:      a.Version,
		Annotations:  ann,
	}
}

// Kind annotation of fallback records (the action could not be run).
const kindUnknown = "unknown"

// fallbackRecord is the record of an activation that never ran (the
// action was not found, could not be read, or broke a limit): duration 0,
// annotations path and kind (kind "unknown" unless given), as OpenWhisk's
// InvokerReactive.generateFallbackActivation.
func fallbackRecord(msg *messaging.ActivationMessage, kind string, resp entity.Response, now time.Time) *entity.Activation {
	ms := now.UnixMilli()
	zero := int64(0)
	version := msg.Action.Version
	if version == (entity.SemVer{}) {
		version = entity.DefaultVersion
	}
	if kind == "" {
		kind = kindUnknown
	}
	ann := entity.Params{
		{Key: entity.AnnotationPath, Value: entity.JSONValue(msg.Action.FQN().DocID())},
		{Key: entity.AnnotationKind, Value: entity.JSONValue(kind)},
	}
	if msg.Cause != "" {
		ann = append(ann, entity.Param{Key: entity.AnnotationCausedBy, Value: json.RawMessage(`"sequence"`)})
	}
	return &entity.Activation{
		Namespace:    msg.User.Namespace.Name,
		Name:         msg.Action.Name,
		Subject:      msg.User.Subject,
		ActivationID: msg.ActivationID,
		Start:        ms,
		End:          ms,
		Duration:     &zero,
		Cause:        msg.Cause,
		Response:     resp,
		Logs:         []string{},
		Version:      version,
		Annotations:  ann,
	}
}

// ackFor builds the ack of a finished activation: blocking activations
// get the combined completion and result (logs are collected before the
// ack, so one message suffices), non-blocking ones the completion.
func ackFor(msg *messaging.ActivationMessage, rec *entity.Activation, inv messaging.InvokerInstanceID) messaging.Ack {
	a := messaging.Ack{
		Kind:          messaging.AckCompletion,
		TransID:       msg.TransID,
		ActivationID:  msg.ActivationID,
		IsSystemError: rec.Response.StatusCode == entity.StatusWhiskError,
		Invoker:       inv,
	}
	if msg.Blocking {
		a.Kind, a.Record = messaging.AckCombined, rec
	}
	return a
}

// storesActivations reports whether the namespace keeps records
// (limits.storeActivations, default true).
func storesActivations(id *entity.Identity) bool {
	return id.Limits.StoreActivations == nil || *id.Limits.StoreActivations
}
