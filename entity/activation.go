package entity

import (
	"encoding/json"
	"strings"
)

// Activation response status codes (OpenWhisk ActivationResponse).
const (
	StatusSuccess          = 0
	StatusApplicationError = 1
	StatusDeveloperError   = 2
	StatusWhiskError       = 3
)

// statusNames are the API names of the response status codes.
var statusNames = [...]string{"success", "application error", "action developer error", "whisk internal error"}

// StatusName is the API name of a response status code ("success", ...).
func StatusName(code int) string {
	if code < 0 || code >= len(statusNames) {
		return statusNames[StatusWhiskError]
	}
	return statusNames[code]
}

// Response is an activation's response in its stored form:
// {"statusCode":0..3,"result":<JSON>,"size":N?}.
type Response struct {
	StatusCode int             `json:"statusCode"`
	Result     json.RawMessage `json:"result,omitempty"`
	Size       *int            `json:"size,omitempty"`
}

// Success reports whether the status code is success.
func (r Response) Success() bool { return r.StatusCode == StatusSuccess }

// ErrorResponse is the response {"statusCode":code,"result":{"error":msg}}.
func ErrorResponse(code int, msg string) Response {
	b := append([]byte(`{"error":`), AppendJSONString(nil, msg)...)
	return Response{StatusCode: code, Result: append(b, '}')}
}

// Activation is an activation record in its stored form (what the stores
// keep and OpenWhisk writes to its activations database). Namespace is the
// invoking (caller's) namespace; End is 0 for trigger activations.
type Activation struct {
	Namespace    string   `json:"namespace"`
	Name         string   `json:"name"`
	Subject      string   `json:"subject"`
	ActivationID string   `json:"activationId"`
	Start        int64    `json:"start"`
	End          int64    `json:"end"`
	Duration     *int64   `json:"duration,omitempty"`
	Cause        string   `json:"cause,omitempty"`
	Response     Response `json:"response"`
	Logs         []string `json:"logs"`
	Version      SemVer   `json:"version"`
	Publish      bool     `json:"publish"`
	Annotations  Params   `json:"annotations"`
}

// Annotation keys the platform writes on activations.
const (
	AnnotationPath     = "path"
	AnnotationKind     = "kind"
	AnnotationLimits   = "limits"
	AnnotationWaitTime = "waitTime"
	AnnotationInitTime = "initTime"
	AnnotationTimeout  = "timeout"
	AnnotationCausedBy = "causedBy"
	AnnotationTopmost  = "topmost"
)

// DocID is the activation's document id: "<namespace>/<activationId>".
func (a *Activation) DocID() string { return a.Namespace + "/" + a.ActivationID }

// EntityPath is the "(pkg/)name" an activation is listed under by name, as
// OpenWhisk's whisks-filters view derives it: the package of the binding
// annotation ("ns/pkg") if present, else the package of the path annotation
// ("ns/pkg/name"), else just the name.
func (a *Activation) EntityPath() string {
	if pkg := a.annotationPackage(AnnotationBinding, 1); pkg != "" {
		return pkg + "/" + a.Name
	}
	if pkg := a.annotationPackage(AnnotationPath, 2); pkg != "" {
		return pkg + "/" + a.Name
	}
	return a.Name
}

// annotationPackage returns the second segment of a string annotation that
// has more than minSlashes-1 slashes, or "".
func (a *Activation) annotationPackage(key string, minSlashes int) string {
	v, ok := a.Annotations.Get(key)
	if !ok {
		return ""
	}
	var p string
	if json.Unmarshal(v, &p) != nil || strings.Count(p, "/") < minSlashes {
		return ""
	}
	return strings.Split(p, "/")[1]
}

// duration is the API duration: the stored one, or end-start.
func (a *Activation) duration() *int64 {
	if a.Duration != nil {
		return a.Duration
	}
	if a.End == 0 {
		return nil
	}
	d := a.End - a.Start
	return &d
}

// apiResponse is the API form of a response: status and success replace
// the stored statusCode.
type apiResponse struct {
	Result  json.RawMessage `json:"result,omitempty"`
	Size    *int            `json:"size,omitempty"`
	Status  string          `json:"status"`
	Success bool            `json:"success"`
}

// APIResponse is the response as GET /activations/{id}/result returns it.
func (r Response) APIResponse() any {
	return apiResponse{Result: r.Result, Size: r.Size, Status: StatusName(r.StatusCode), Success: r.Success()}
}

// apiActivation is the API form of an activation (OpenWhisk toExtendedJson).
type apiActivation struct {
	Namespace    string      `json:"namespace"`
	Name         string      `json:"name"`
	Subject      string      `json:"subject"`
	ActivationID string      `json:"activationId"`
	Start        int64       `json:"start"`
	End          *int64      `json:"end,omitempty"`
	Duration     *int64      `json:"duration,omitempty"`
	Cause        string      `json:"cause,omitempty"`
	Response     apiResponse `json:"response"`
	Logs         []string    `json:"logs"`
	Version      SemVer      `json:"version"`
	Publish      bool        `json:"publish"`
	Annotations  Params      `json:"annotations"`
}

// API returns the activation in the API form: response with status and
// success (no statusCode), duration computed, end and duration omitted for
// trigger activations (end = 0).
func (a *Activation) API() any {
	out := apiActivation{
		Namespace: a.Namespace, Name: a.Name, Subject: a.Subject, ActivationID: a.ActivationID,
		Start: a.Start, Cause: a.Cause, Logs: a.Logs, Version: a.Version, Publish: a.Publish,
		Annotations: a.Annotations,
		Response:    apiResponse{Result: a.Response.Result, Size: a.Response.Size, Status: StatusName(a.Response.StatusCode), Success: a.Response.Success()},
	}
	if out.Logs == nil {
		out.Logs = []string{}
	}
	if a.End != 0 {
		end := a.End
		out.End = &end
		out.Duration = a.duration()
	}
	return out
}

// ActivationSummary is an activation's row in a list: no response or logs,
// a top-level statusCode.
type ActivationSummary struct {
	Namespace    string `json:"namespace"`
	Name         string `json:"name"`
	Version      SemVer `json:"version"`
	Publish      bool   `json:"publish"`
	Annotations  Params `json:"annotations"`
	ActivationID string `json:"activationId"`
	Start        int64  `json:"start"`
	End          *int64 `json:"end,omitempty"`
	Duration     *int64 `json:"duration,omitempty"`
	Cause        string `json:"cause,omitempty"`
	StatusCode   int    `json:"statusCode"`
}

// Summary returns the list form of the activation.
func (a *Activation) Summary() ActivationSummary {
	s := ActivationSummary{Namespace: a.Namespace, Name: a.Name, Version: a.Version, Publish: a.Publish,
		Annotations: a.Annotations, ActivationID: a.ActivationID, Start: a.Start, Cause: a.Cause,
		StatusCode: a.Response.StatusCode}
	if s.Annotations == nil {
		s.Annotations = Params{}
	}
	if a.End != 0 {
		end := a.End
		s.End = &end
		s.Duration = a.duration()
	}
	return s
}
