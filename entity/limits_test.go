package entity

import (
	"encoding/json"
	"errors"
	"testing"
)

func intp(v int) *int { return &v }

func TestSemVer(t *testing.T) {
	tests := []struct {
		in   string
		want SemVer
		ok   bool
	}{
		{"0.0.1", SemVer{0, 0, 1}, true},
		{"1.2.3", SemVer{1, 2, 3}, true},
		{"1", SemVer{1, 0, 0}, true},
		{"1.2", SemVer{1, 2, 0}, true},
		{"10.20.30", SemVer{10, 20, 30}, true},
		{"0.0.0", SemVer{}, false},
		{"0", SemVer{}, false},
		{"", SemVer{}, false},
		{"1.2.3.4", SemVer{}, false},
		{"1..3", SemVer{}, false},
		{"a.b.c", SemVer{}, false},
		{"-1.0.0", SemVer{}, false},
		{"1.0.0-beta", SemVer{}, false},
		{"1234567890.0.0", SemVer{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSemVer(tc.in)
			if tc.ok != (err == nil) || got != tc.want {
				t.Fatalf("ParseSemVer(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
			}
			if !tc.ok {
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("error %v is not ErrInvalid", err)
				}
				return
			}
			b, _ := json.Marshal(got)
			var back SemVer
			if err := json.Unmarshal(b, &back); err != nil || back != got {
				t.Errorf("JSON round trip of %v: %s -> %v, %v", got, b, back, err)
			}
		})
	}
	if v := (SemVer{0, 0, 9}).UpPatch(); v != (SemVer{0, 0, 10}) || v.String() != "0.0.10" {
		t.Errorf("UpPatch = %v", v)
	}
	if DefaultVersion.String() != "0.0.1" {
		t.Errorf("DefaultVersion = %v", DefaultVersion)
	}
	var v SemVer
	if err := json.Unmarshal([]byte(`1`), &v); !errors.Is(err, ErrInvalid) {
		t.Errorf("version as a number: %v", err)
	}
}

func TestCheckActionLimits(t *testing.T) {
	sys := DefaultSystemLimits()
	ok := sys.DefaultActionLimits()
	with := func(f func(*ActionLimits)) ActionLimits { l := ok; f(&l); return l }
	tests := []struct {
		name string
		l    ActionLimits
		want string // "" = valid
	}{
		{"defaults", ok, ""},
		{"all at maximum", ActionLimits{Timeout: 300000, Memory: 512, Logs: 10, Concurrency: 1}, ""},
		{"all at minimum", ActionLimits{Timeout: 100, Memory: 128, Logs: 0, Concurrency: 1}, ""},
		{"memory too high", with(func(l *ActionLimits) { l.Memory = 1024 }), "memory 1024 MB exceeds allowed threshold of 512 MB"},
		{"memory too low", with(func(l *ActionLimits) { l.Memory = 64 }), "memory 64 MB below allowed threshold of 128 MB"},
		{"timeout too high", with(func(l *ActionLimits) { l.Timeout = 400000 }), "duration 400000 milliseconds exceeds allowed threshold of 300000 milliseconds"},
		{"timeout too low", with(func(l *ActionLimits) { l.Timeout = 50 }), "duration 50 milliseconds below allowed threshold of 100 milliseconds"},
		{"concurrency too high", with(func(l *ActionLimits) { l.Concurrency = 2 }), "concurrency 2 exceeds allowed threshold of 1"},
		{"concurrency too low", with(func(l *ActionLimits) { l.Concurrency = 0 }), "concurrency 0 below allowed threshold of 1"},
		{"logs too high", with(func(l *ActionLimits) { l.Logs = 11 }), "log size 11 MB exceeds allowed threshold of 10 MB"},
		{"logs negative", with(func(l *ActionLimits) { l.Logs = -1 }), "log size -1 MB below allowed threshold of 0 MB"},
		{"first violation wins", ActionLimits{Timeout: 1, Memory: 1, Logs: 99, Concurrency: 9}, "duration 1 milliseconds below allowed threshold of 100 milliseconds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := sys.CheckAction(tc.l)
			if tc.want == "" {
				if err != nil {
					t.Errorf("CheckAction(%+v) = %v", tc.l, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || err.Error() != tc.want {
				t.Errorf("CheckAction(%+v) = %v; want ErrInvalid %q", tc.l, err, tc.want)
			}
		})
	}
}

func TestSystemLimitsEffective(t *testing.T) {
	sys := DefaultSystemLimits()
	if got := sys.Effective(UserLimits{}); got != sys {
		t.Errorf("Effective(no limits) = %+v, want the system limits", got)
	}
	u := UserLimits{
		InvocationsPerMinute: intp(600), ConcurrentInvocations: intp(0), FiresPerMinute: intp(7),
		MinActionMemory: intp(256), MaxActionMemory: intp(2048),
		MinActionTimeout: intp(1000), MaxActionTimeout: intp(600000),
		MinActionLogs: intp(1), MaxActionLogs: intp(5),
		MinActionConcurrency: intp(1), MaxActionConcurrency: intp(200),
		MaxParameterSize: intp(10), MaxPayloadSize: intp(20), TruncationSize: intp(30),
	}
	got := sys.Effective(u)
	want := sys
	want.InvocationsPerMinute, want.ConcurrentInvocations, want.FiresPerMinute = 600, 0, 7
	want.Memory = Range{Min: 256, Std: 256, Max: 2048}
	want.Timeout = Range{Min: 1000, Std: 60000, Max: 600000}
	want.Logs = Range{Min: 1, Std: 10, Max: 5}
	want.Concurrency = Range{Min: 1, Std: 1, Max: 200}
	want.ParameterSizeMax, want.PayloadMax, want.TruncationSize = 10, 20, 30
	if got != want {
		t.Errorf("Effective =\n %+v\nwant\n %+v", got, want)
	}
	if err := got.CheckAction(ActionLimits{Timeout: 500000, Memory: 1024, Logs: 3, Concurrency: 100}); err != nil {
		t.Errorf("namespace limits not applied: %v", err)
	}
	if err := got.CheckAction(ActionLimits{Timeout: 60000, Memory: 128, Logs: 3, Concurrency: 1}); err == nil ||
		err.Error() != "memory 128 MB below allowed threshold of 256 MB" {
		t.Errorf("namespace minimum: %v", err)
	}
	if sys.Memory.Max != 512 {
		t.Error("Effective modified its receiver")
	}
}

func TestActionLimitsPutApply(t *testing.T) {
	base := ActionLimits{Timeout: 1, Memory: 2, Logs: 3, Concurrency: 4}
	tests := []struct {
		name string
		put  *ActionLimitsPut
		want ActionLimits
	}{
		{"nil", nil, base},
		{"empty", &ActionLimitsPut{}, base},
		{"timeout only", &ActionLimitsPut{Timeout: intp(9)}, ActionLimits{9, 2, 3, 4}},
		{"memory only", &ActionLimitsPut{Memory: intp(9)}, ActionLimits{1, 9, 3, 4}},
		{"logs only", &ActionLimitsPut{Logs: intp(0)}, ActionLimits{1, 2, 0, 4}},
		{"concurrency only", &ActionLimitsPut{Concurrency: intp(9)}, ActionLimits{1, 2, 3, 9}},
		{"all", &ActionLimitsPut{intp(5), intp(6), intp(7), intp(8)}, ActionLimits{5, 6, 7, 8}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.put.Apply(base); got != tc.want {
				t.Errorf("Apply = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestDefaultSystemLimits(t *testing.T) {
	s := DefaultSystemLimits()
	if s.DefaultActionLimits() != (ActionLimits{Timeout: 60000, Memory: 256, Logs: 10, Concurrency: 1}) {
		t.Errorf("DefaultActionLimits = %+v", s.DefaultActionLimits())
	}
	if s.ExecSizeMax != 48<<20 || s.ParameterSizeMax != 1<<20 || s.PayloadMax != 1<<20 || s.SequenceMaxLength != 50 ||
		s.InvocationsPerMinute != 60 || s.ConcurrentInvocations != 30 || s.FiresPerMinute != 60 {
		t.Errorf("DefaultSystemLimits = %+v", s)
	}
}
