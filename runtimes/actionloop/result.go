package actionloop

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/gowhisk/gowhisk/invoker/container"
)

// NotDictionary is the Go action proxy's answer to a result that is not a
// JSON object or array (status 502).
const NotDictionary = "The action did not return a dictionary or array."

// ParseResult interprets an answer line of the launcher protocol as the
// HTTP answer an OpenWhisk action proxy gives:
//
//   - a JSON object or array: status 200 with the line as body;
//   - "<status> <json>" (a launcher reporting a runtime error with its
//     status, e.g. `502 {"error":"The action did not return a dictionary."}`):
//     that status and body;
//   - anything else (a scalar, null, garbage): status 502 with
//     {"error":"The action did not return a dictionary or array."}.
func ParseResult(line []byte) container.RunResult {
	line = bytes.TrimSpace(line)
	if len(line) > 0 && (line[0] == '{' || line[0] == '[') && json.Valid(line) {
		return container.RunResult{Status: 200, Body: line}
	}
	if sp := bytes.IndexByte(line, ' '); sp == 3 {
		if st, err := strconv.Atoi(string(line[:3])); err == nil && st >= 100 && st <= 599 {
			body := bytes.TrimSpace(line[4:])
			if len(body) > 0 && body[0] == '{' && json.Valid(body) {
				return container.RunResult{Status: st, Body: body}
			}
		}
	}
	return container.RunResult{Status: 502, Body: ErrorBody(NotDictionary)}
}

// ErrorBody returns {"error":msg}.
func ErrorBody(msg string) []byte {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	return b
}
