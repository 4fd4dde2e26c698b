package container

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gowhisk/gowhisk/entity"
)

// Messages of OpenWhisk's activation responses and log collection
// (org.apache.openwhisk.http.Messages), used by the interpretation below
// and by the pool.
const (
	msgAbnormalInit = "The action did not initialize and exited unexpectedly."
	msgAbnormalRun  = "The action did not produce a valid response and exited unexpectedly."
	msgOOM          = "The action exhausted its memory and was aborted."
	msgProvision    = "Failed to provision resources to run the action."

	// LogsDeveloperError is appended to an activation's logs when it ended
	// in a developer error and its logs may be incomplete: the sentinels
	// were not all seen, or the action timed out or its sandbox died.
	LogsDeveloperError = "The action did not initialize or run as expected. Log data might be missing."
	// LogsCollectionFailed is appended when reading the logs failed or
	// timed out before both sentinels were seen.
	LogsCollectionFailed = "There was an issue while collecting your logs. Data might be missing."
)

// ErrLogsIncomplete is wrapped by Container.Logs, when asked to wait for
// the sentinels, if a stream ended, or the wait was cut short, before both
// sentinels were seen: the lines returned are those read until then, and
// output may be missing.
var ErrLogsIncomplete = errors.New("the log sentinels were not all seen")

// InterpretRun turns the answer to /run (or the error of Container.Run)
// into an activation response, as OpenWhisk's
// ActivationResponse.processRunResponseContent and ContainerProxy do:
//
//   - a body longer than truncation bytes (truncation > 0) is an
//     application error "The action produced a response that exceeded the
//     allowed length: X > Y bytes. The truncated response was: ...";
//   - 200 with an object without "error" is success, with "error" an
//     application error {"error": value}; 200 with an array is success;
//   - non-200 with an object is a developer error with its "error" field or
//     "The action did not produce a valid JSON or JSON Array response: <body>";
//   - anything else (non-JSON, a scalar, non-200 array) is that developer
//     error too;
//   - ErrTimeout (or an expired deadline) is the developer error "The action
//     exceeded its time limits of N milliseconds.", ErrOOM and any other
//     failure to answer (ErrExited) are developer errors, ErrProvision is a
//     whisk internal error.
func InterpretRun(res RunResult, err error, timeout time.Duration, truncation int) entity.Response {
	if err != nil {
		return interpretFailure(err, timeout, false)
	}
	body := res.Body
	if truncation > 0 && len(body) > truncation {
		return entity.ErrorResponse(entity.StatusApplicationError, truncatedMessage(body, truncation))
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || !json.Valid(trimmed) {
		return entity.ErrorResponse(entity.StatusDeveloperError, invalidRunMessage(body))
	}
	switch trimmed[0] {
	case '{':
		errVal, hasErr := topLevelField(trimmed, "error")
		switch {
		case res.Status != 200 && hasErr:
			return errorValueResponse(entity.StatusDeveloperError, errVal)
		case res.Status != 200:
			return entity.ErrorResponse(entity.StatusDeveloperError, invalidRunMessage(body))
		case hasErr:
			return errorValueResponse(entity.StatusApplicationError, errVal)
		}
		return entity.Response{StatusCode: entity.StatusSuccess, Result: compact(trimmed)}
	case '[':
		if res.Status == 200 {
			return entity.Response{StatusCode: entity.StatusSuccess, Result: compact(trimmed)}
		}
	}
	return entity.ErrorResponse(entity.StatusDeveloperError, invalidRunMessage(body))
}

// InterpretInit interprets the outcome of Container.Init. ok is true when
// the runtime accepted the action (no error and status 200, or no status);
// otherwise the response is the developer error OpenWhisk reports
// (processInitResponseContent): the answer's "error" field or "The action
// failed during initialization: <body>", "The action exceeded its time
// limits of N milliseconds during initialization.", "The action exhausted
// its memory and was aborted." or "The action did not initialize and exited
// unexpectedly."; ErrProvision is a whisk internal error.
func InterpretInit(res RunResult, err error, timeout time.Duration) (entity.Response, bool) {
	var ie *InitError
	switch {
	case err == nil && (res.Status == 0 || res.Status == 200):
		return entity.Response{StatusCode: entity.StatusSuccess}, true
	case err == nil:
		ie = &InitError{Status: res.Status, Body: res.Body}
	case !errors.As(err, &ie):
		return interpretFailure(err, timeout, true), false
	}
	trimmed := bytes.TrimSpace(ie.Body)
	if len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(trimmed) {
		if v, ok := topLevelField(trimmed, "error"); ok {
			return errorValueResponse(entity.StatusDeveloperError, v), false
		}
	}
	msg := "The action failed during initialization."
	if len(ie.Body) > 0 {
		msg = "The action failed during initialization: " + string(ie.Body)
	}
	return entity.ErrorResponse(entity.StatusDeveloperError, msg), false
}

// InterpretCreate interprets a Factory.Create error: ErrProvision (and any
// error of a managed runtime, or a cancelled context) is the whisk internal
// error "Failed to provision resources to run the action."; for a blackbox
// action any other error describes the user's image and is a developer
// error with that message.
func InterpretCreate(err error, blackbox bool) entity.Response {
	if !blackbox || errors.Is(err, ErrProvision) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return entity.ErrorResponse(entity.StatusWhiskError, msgProvision)
	}
	return entity.ErrorResponse(entity.StatusDeveloperError, err.Error())
}

// TimedOut reports whether a Container error means the time limit was hit.
func TimedOut(err error) bool {
	return errors.Is(err, ErrTimeout) || errors.Is(err, context.DeadlineExceeded)
}

// interpretFailure maps a Container error (no answer) to a response.
func interpretFailure(err error, timeout time.Duration, init bool) entity.Response {
	switch {
	case errors.Is(err, ErrOOM):
		return entity.ErrorResponse(entity.StatusDeveloperError, msgOOM)
	case TimedOut(err):
		return entity.ErrorResponse(entity.StatusDeveloperError, TimeoutMessage(timeout, init))
	case errors.Is(err, ErrProvision):
		return entity.ErrorResponse(entity.StatusWhiskError, msgProvision)
	case init:
		return entity.ErrorResponse(entity.StatusDeveloperError, msgAbnormalInit)
	}
	return entity.ErrorResponse(entity.StatusDeveloperError, msgAbnormalRun)
}

// TimeoutMessage is OpenWhisk's time-limit message: "The action exceeded
// its time limits of N milliseconds." (or "... during initialization.").
func TimeoutMessage(timeout time.Duration, init bool) string {
	s := "The action exceeded its time limits of " + strconv.FormatInt(timeout.Milliseconds(), 10) + " milliseconds"
	if init {
		return s + " during initialization."
	}
	return s + "."
}

func invalidRunMessage(body []byte) string {
	if len(body) == 0 {
		return "The action did not produce a valid JSON or JSON Array response."
	}
	return "The action did not produce a valid JSON or JSON Array response: " + string(body)
}

// truncatedMessage reports a response longer than limit bytes, quoting its
// first limit bytes (cut back to a UTF-8 character boundary).
func truncatedMessage(body []byte, limit int) string {
	cut := limit
	for cut > 0 && cut < len(body) && !utf8.RuneStart(body[cut]) {
		cut--
	}
	return "The action produced a response that exceeded the allowed length: " +
		strconv.Itoa(len(body)) + " > " + strconv.Itoa(limit) +
		" bytes. The truncated response was: " + string(body[:cut])
}

// errorValueResponse is {"statusCode":code,"result":{"error":<v>}} with v
// valid JSON.
func errorValueResponse(code int, v []byte) entity.Response {
	b := make([]byte, 0, len(v)+10)
	b = append(b, `{"error":`...)
	b = append(b, compact(v)...)
	b = append(b, '}')
	return entity.Response{StatusCode: code, Result: b}
}

// compact returns v (valid JSON) without insignificant whitespace.
func compact(v []byte) json.RawMessage {
	buf := bytes.NewBuffer(make([]byte, 0, len(v)))
	if json.Compact(buf, v) != nil {
		return append(json.RawMessage(nil), v...)
	}
	return buf.Bytes()
}

// topLevelField returns the raw value of the last top-level key named name
// in obj, a valid JSON object (keys are compared after unescaping, exactly
// and case-sensitively, as spray-json does).
func topLevelField(obj []byte, name string) (json.RawMessage, bool) {
	var found json.RawMessage
	ok := false
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil, false
	}
	i++
	for {
		i = skipSpace(obj, i)
		if i >= len(obj) || obj[i] == '}' {
			return found, ok
		}
		if obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
		end := skipString(obj, i)
		key := obj[i:end]
		i = skipSpace(obj, end)
		if i >= len(obj) || obj[i] != ':' {
			return found, ok
		}
		i = skipSpace(obj, i+1)
		vend := skipValue(obj, i)
		if keyEquals(key, name) {
			found, ok = obj[i:vend], true
		}
		i = vend
	}
}

// keyEquals compares a raw JSON string (with quotes) to name.
func keyEquals(raw []byte, name string) bool {
	if len(raw) < 2 {
		return false
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner) == name
	}
	var s string
	return json.Unmarshal(raw, &s) == nil && s == name
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// skipValue returns the index after the JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipString(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	j := i
	for j < len(b) && !strings.ContainsRune(",}] \t\r\n", rune(b[j])) {
		j++
	}
	return j
}

// FormatLogs formats log lines as OpenWhisk stores them: "%-30s %s: %s"
// with the RFC3339Nano UTC time, the stream and the text. When truncated,
// it appends the stderr line "Logs were truncated because the total bytes
// size exceeds the limit of N bytes." (timed as the last line, or now when
// there is none). The result is never nil.
func FormatLogs(lines []LogLine, truncated bool, limitBytes int64) []string {
	n := len(lines)
	if truncated {
		n++
	}
	if n == 0 {
		return []string{}
	}
	out := make([]string, 0, n)
	for _, l := range lines {
		out = append(out, FormatLogLine(l.Time, l.Stream, l.Text))
	}
	if truncated {
		t := time.Now()
		if len(lines) > 0 {
			t = lines[len(lines)-1].Time
		}
		out = append(out, FormatLogLine(t, "stderr", TruncatedLogsMessage(limitBytes)))
	}
	return out
}

// TruncatedLogsMessage is "Logs were truncated because the total bytes
// size exceeds the limit of N bytes.".
func TruncatedLogsMessage(limitBytes int64) string {
	return "Logs were truncated because the total bytes size exceeds the limit of " +
		strconv.FormatInt(limitBytes, 10) + " bytes."
}

// FormatLogLine formats one stored log line: the RFC3339Nano UTC time
// padded to 30 characters, a space, the stream, ": " and the text
// (a trailing newline is dropped).
func FormatLogLine(t time.Time, stream, text string) string {
	var ts [40]byte
	tb := t.UTC().AppendFormat(ts[:0], time.RFC3339Nano)
	text = strings.TrimSuffix(text, "\n")
	var sb strings.Builder
	pad := max(30-len(tb), 0)
	sb.Grow(len(tb) + pad + 1 + len(stream) + 2 + len(text))
	sb.Write(tb)
	for range pad {
		sb.WriteByte(' ')
	}
	sb.WriteByte(' ')
	sb.WriteString(stream)
	sb.WriteString(": ")
	sb.WriteString(text)
	return sb.String()
}
