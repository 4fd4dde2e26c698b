package entity

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestActivationIDs(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		id := NewActivationID()
		if !ValidActivationID(id) {
			t.Fatalf("NewActivationID() = %q is not valid", id)
		}
		if seen[id] {
			t.Fatalf("duplicate activation id %q", id)
		}
		seen[id] = true
	}
	tests := []struct {
		name, in string
		want     bool
	}{
		{"valid", "c7bb1339cb4f40e3a6ccead6c99f804e", true},
		{"upper case", "C7BB1339CB4F40E3A6CCEAD6C99F804E", false},
		{"dashed uuid", "c7bb1339-cb4f-40e3-a6cc-ead6c99f804e", false},
		{"31 chars", "c7bb1339cb4f40e3a6ccead6c99f804", false},
		{"33 chars", "c7bb1339cb4f40e3a6ccead6c99f804e0", false},
		{"non hex", "g7bb1339cb4f40e3a6ccead6c99f804e", false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidActivationID(tc.in); got != tc.want {
				t.Errorf("ValidActivationID(%q) = %v", tc.in, got)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		k := NewKey()
		if !ValidKey(k) {
			t.Fatalf("NewKey() = %q is not valid", k)
		}
		if seen[k] {
			t.Fatalf("duplicate key")
		}
		seen[k] = true
	}
	tests := []struct {
		name, in string
		want     bool
	}{
		{"guest key", GuestKey, true},
		{"system key", SystemKey, true},
		{"63 chars", GuestKey[:63], false},
		{"65 chars", GuestKey + "a", false},
		{"symbol", "-" + GuestKey[1:], false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidKey(tc.in); got != tc.want {
				t.Errorf("ValidKey(%q) = %v", tc.in, got)
			}
		})
	}
	u := NewUUID()
	if len(u) != 36 || strings.Count(u, "-") != 4 || u[14] != '4' {
		t.Errorf("NewUUID() = %q", u)
	}
}

func TestIdentityJSON(t *testing.T) {
	id := NewIdentity("guest", NamespaceKey{Name: "guest", UUID: GuestUUID, Key: GuestKey}, UserLimits{})
	b, err := json.Marshal(id)
	if err != nil {
		t.Fatal(err)
	}
	assertSameJSON(t, b, []byte(`{"subject":"guest","namespace":{"name":"guest","uuid":"`+GuestUUID+`"},
	  "authkey":{"api_key":"`+GuestAuthToken+`"},"rights":["READ","PUT","DELETE","ACTIVATE"],"limits":{}}`))
	uuid, key, ok := SplitAuth(GuestAuthToken)
	if !ok || uuid != GuestUUID || key != GuestKey {
		t.Errorf("SplitAuth = %q %q %v", uuid, key, ok)
	}
	if _, _, ok := SplitAuth("nocolon"); ok {
		t.Error("SplitAuth without colon ok")
	}
	if !(UserLimits{}).KindAllowed("nodejs:20") || (UserLimits{AllowedKinds: []string{"python:3.11"}}).KindAllowed("nodejs:20") ||
		!(UserLimits{AllowedKinds: []string{"python:3.11"}}).KindAllowed("python:3.11") {
		t.Error("KindAllowed")
	}
}

func TestSubjectAndLimitsJSON(t *testing.T) {
	in := `{"subject":"guest","namespaces":[{"name":"guest","uuid":"u","key":"k"}],"blocked":true}`
	var s Subject
	if err := json.Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(s)
	assertSameJSON(t, out, []byte(in))
	lim := `{"invocationsPerMinute":1,"concurrentInvocations":2,"firesPerMinute":3,"allowedKinds":["nodejs:20"],"storeActivations":false,
	  "minActionMemory":128,"maxActionMemory":1024,"minActionLogs":0,"maxActionLogs":5,"minActionTimeout":100,"maxActionTimeout":900000,
	  "minActionConcurrency":1,"maxActionConcurrency":10,"maxActionInstances":4,"maxParameterSize":1024,"maxPayloadSize":2048,
	  "truncationSize":512,"warmedContainerKeepingCount":1,"warmedContainerKeepingTimeout":"60 minutes"}`
	var u UserLimits
	if err := json.Unmarshal([]byte(lim), &u); err != nil {
		t.Fatal(err)
	}
	out, _ = json.Marshal(u)
	assertSameJSON(t, out, []byte(lim))
}

func TestActivationIDAt(t *testing.T) {
	ones := [10]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	tests := []struct {
		name   string
		ms     int64
		random [10]byte
		want   string
	}{
		{"zero randomness", 0x0189_abcd_ef01, [10]byte{}, "0189abcdef0170008000000000000000"},
		{"all ones", 0x0189_abcd_ef01, ones, "0189abcdef017fffbfffffffffffffff"},
		{"epoch", 0, [10]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, "0000000000007102830405060708090a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := activationIDAt(tc.ms, tc.random)
			if got != tc.want || !ValidActivationID(got) {
				t.Fatalf("activationIDAt(%#x) = %s, want %s", tc.ms, got, tc.want)
			}
		})
	}
	// Later milliseconds sort later whatever the randomness.
	if a, b := activationIDAt(1_700_000_000_000, ones), activationIDAt(1_700_000_000_001, [10]byte{}); a >= b {
		t.Fatalf("%s (earlier) does not sort before %s", a, b)
	}
}
