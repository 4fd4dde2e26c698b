package entity

import (
	"encoding/json"
	"testing"
)

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\"back\\slash", "<&>", "tab\tnl\ncr\r", "\x00\x01\x1f\x7f", "é✓😀", "bad\xffutf8", "\u2028\u2029", "\b\f", "\u00a0\u200b"} {
		want, _ := json.Marshal(s)
		if got := AppendJSONString(nil, s); string(got) != string(want) {
			t.Errorf("%q: encoded %s, encoding/json %s", s, got, want)
		}
	}
}

// A key of any characters makes a valid JSON object (strconv's Go quoting,
// used before, wrote \x7f and other escapes JSON does not have).
func TestParamsAppendObjectOddKeys(t *testing.T) {
	ps := Params{{Key: "\x7f", Value: json.RawMessage(`0`)}, {Key: "\a\v", Value: json.RawMessage(`1`)}, {Key: "\u00a0", Value: json.RawMessage(`2`)}}
	out := ps.AppendObject(nil)
	var m map[string]int
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	if m["\x7f"] != 0 || m["\a\v"] != 1 || m["\u00a0"] != 2 || len(m) != 3 {
		t.Fatalf("decoded %v", m)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a", "\x7f", "\xff", "\u2028", `"\`, "<>&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendJSONString([]byte("x"), s)[1:]
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q encoded as %q: %v", s, out, err)
		}
		// Each invalid UTF-8 byte becomes U+FFFD, as in encoding/json.
		if want := string([]rune(s)); back != want {
			t.Fatalf("%q decodes back as %q, want %q", s, back, want)
		}
		if want, _ := json.Marshal(s); string(out) != string(want) {
			t.Fatalf("%q encoded as %s, encoding/json %s", s, out, want)
		}
	})
}

func TestErrorResponse(t *testing.T) {
	for _, msg := range []string{"", "The action did not return a dictionary.", `quote " <&> é`, "line\nbreak"} {
		want, _ := json.Marshal(map[string]string{"error": msg})
		if r := ErrorResponse(StatusApplicationError, msg); string(r.Result) != string(want) || r.StatusCode != StatusApplicationError {
			t.Errorf("ErrorResponse(%q) = %d %s, want 1 %s", msg, r.StatusCode, r.Result, want)
		}
	}
}
