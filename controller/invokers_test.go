package controller

import (
	"encoding/json"
	"net/http"
	"testing"
)

func TestInvokerRoutes(t *testing.T) {
	for _, tt := range []struct {
		name      string
		invokers  func() []InvokerStatus
		all       string
		count     string
		readyCode int
		ready     string
	}{
		{name: "no invoker view", invokers: nil, all: `{}`, count: `0`, readyCode: 500, ready: `{"unhealthy":"0/0"}`},
		{name: "all up",
			invokers: func() []InvokerStatus {
				return []InvokerStatus{{"invoker0", InvokerUp}, {"invoker1", InvokerUp}}
			},
			all: `{"invoker0":"up","invoker1":"up"}`, count: `2`, readyCode: 200, ready: `{"healthy":"2/2"}`},
		{name: "one down",
			invokers: func() []InvokerStatus {
				return []InvokerStatus{{"invoker0", InvokerUp}, {"invoker1", InvokerDown}, {"invoker2", InvokerUnhealthy}}
			},
			all: `{"invoker0":"up","invoker1":"down","invoker2":"unhealthy"}`, count: `1`, readyCode: 500, ready: `{"unhealthy":"2/3"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, func(c *Config) { c.Invokers = tt.invokers })
			for _, q := range []struct {
				path string
				code int
				want string
			}{
				{"/invokers", 200, tt.all},
				{"/invokers/healthy/count", 200, tt.count},
				{"/invokers/ready", tt.readyCode, tt.ready},
			} {
				r := ts.do("GET", q.path, "", noAuth)
				if r.Status != q.code || !sameJSON(t, r.Body, q.want) {
					t.Errorf("GET %s = %d %s, want %d %s", q.path, r.Status, r.Body, q.code, q.want)
				}
				if ct := r.Header.Get("Content-Type"); r.Status == http.StatusOK && ct != "application/json; charset=utf-8" {
					t.Errorf("GET %s content type %q", q.path, ct)
				}
			}
		})
	}
}

func TestInvokersReadyDecision(t *testing.T) {
	for _, tt := range []struct {
		name         string
		healthy, all int
		fraction     float64
		want         int
	}{
		{"none registered", 0, 0, 1, 500},
		{"all healthy", 3, 3, 1, 200},
		{"one missing at 100%", 2, 3, 1, 500},
		{"half at 50%", 1, 2, 0.5, 200},
		{"below 50%", 1, 3, 0.5, 500},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := invokersReady(tt.healthy, tt.all, tt.fraction); got != tt.want {
				t.Fatalf("invokersReady(%d, %d, %v) = %d, want %d", tt.healthy, tt.all, tt.fraction, got, tt.want)
			}
		})
	}
}

func sameJSON(t *testing.T, got []byte, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		return false
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %q", want)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	return string(gb) == string(wb)
}
