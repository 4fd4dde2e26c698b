package messaging

import (
	"encoding/json"
	"sort"
	"strconv"

	"github.com/gowhisk/gowhisk/entity"
)

// The encoders of this package append JSON to a caller's buffer instead of
// going through encoding/json's reflection: the messages are on the hot
// path of every activation. Strings are escaped as encoding/json escapes
// them (HTML characters, U+2028 and U+2029 included), so a message decodes
// to the same values whichever side wrote it.

// appendString appends s as a JSON string (entity.AppendJSONString).
func appendString(dst []byte, s string) []byte { return entity.AppendJSONString(dst, s) }

// appendKey appends "key": (key is a trusted ASCII literal) after a comma
// unless first.
func appendKey(dst []byte, key string, first bool) []byte {
	if !first {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, key...)
	return append(dst, '"', ':')
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}

// appendStrings appends a JSON array of strings ([] for nil).
func appendStrings(dst []byte, ss []string) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, s)
	}
	return append(dst, ']')
}

// appendStringMap appends a JSON object of strings with sorted keys ({}
// for nil).
func appendStringMap(dst []byte, m map[string]string) []byte {
	dst = append(dst, '{')
	if len(m) == 1 {
		for k, v := range m {
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = appendString(dst, v)
		}
		return append(dst, '}')
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		dst = appendString(dst, m[k])
	}
	return append(dst, '}')
}

// appendMarshal appends v encoded by encoding/json (for the entity types,
// whose JSON the entity package defines).
func appendMarshal(dst []byte, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

func appendInt(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }

// isNull reports whether raw is absent or the JSON null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}
