package controller

import (
	"context"
	"testing"

	"github.com/gowhisk/gowhisk/entity"
)

func TestGetLimits(t *testing.T) {
	ts := newTestServer(t)
	kinds := []string{"nodejs:20"}
	store := false
	if err := ts.Stores.Subjects.PutLimits(context.Background(), aliceNS, entity.UserLimits{
		InvocationsPerMinute: ptrInt(7), MaxActionMemory: ptrInt(1024), AllowedKinds: kinds, StoreActivations: &store,
	}); err != nil {
		t.Fatal(err)
	}
	defaults := `{"invocationsPerMinute":60,"concurrentInvocations":30,"firesPerMinute":60,
		"minActionMemory":128,"maxActionMemory":512,"minActionLogs":0,"maxActionLogs":10,
		"minActionTimeout":100,"maxActionTimeout":300000,"minActionConcurrency":1,"maxActionConcurrency":1,
		"maxParameterSize":1048576,"maxPayloadSize":1048576,"truncationSize":1048576}`
	cases := []struct {
		name, path, auth string
		status           int
		want             string
	}{
		{"system defaults", "/api/v1/namespaces/_/limits", guestAuth, 200, defaults},
		{"explicit own namespace", "/api/v1/namespaces/guest/limits", guestAuth, 200, defaults},
		{"namespace overrides", "/api/v1/namespaces/_/limits", aliceAuth, 200,
			`{"invocationsPerMinute":7,"concurrentInvocations":30,"firesPerMinute":60,"allowedKinds":["nodejs:20"],"storeActivations":false,
		"minActionMemory":128,"maxActionMemory":1024,"minActionLogs":0,"maxActionLogs":10,
		"minActionTimeout":100,"maxActionTimeout":300000,"minActionConcurrency":1,"maxActionConcurrency":1,
		"maxParameterSize":1048576,"maxPayloadSize":1048576,"truncationSize":1048576}`},
		{"foreign namespace", "/api/v1/namespaces/alice/limits", guestAuth, 403, ""},
		{"no credentials", "/api/v1/namespaces/_/limits", noAuth, 401, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do("GET", tc.path, "", tc.auth).wantStatus(tc.status)
			if tc.want != "" {
				equalJSON(t, "limits", r.JSON, tc.want)
			}
		})
	}
}

func TestEffectiveUserLimits(t *testing.T) {
	sys := entity.DefaultSystemLimits()
	cases := []struct {
		name string
		in   entity.UserLimits
		pick func(entity.UserLimits) int
		want int
	}{
		{"default fires", entity.UserLimits{}, func(u entity.UserLimits) int { return *u.FiresPerMinute }, 60},
		{"override fires", entity.UserLimits{FiresPerMinute: ptrInt(3)}, func(u entity.UserLimits) int { return *u.FiresPerMinute }, 3},
		{"default payload", entity.UserLimits{}, func(u entity.UserLimits) int { return *u.MaxPayloadSize }, sys.PayloadMax},
		{"override min timeout", entity.UserLimits{MinActionTimeout: ptrInt(50)}, func(u entity.UserLimits) int { return *u.MinActionTimeout }, 50},
		{"instances stay unset", entity.UserLimits{}, func(u entity.UserLimits) int {
			if u.MaxActionInstances == nil {
				return -1
			}
			return *u.MaxActionInstances
		}, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.pick(effectiveUserLimits(sys, tc.in)); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}
