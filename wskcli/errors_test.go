package wskcli

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gowhisk/gowhisk/wskcli/client"
)

func TestExitCode(t *testing.T) {
	httpErr := func(status int) error {
		return &client.Error{Kind: client.KindHTTP, Status: status, Msg: "m", Code: "c"}
	}
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, 0},
		{"general", newError("x", exitGeneral, false), 1},
		{"usage", newError("x", exitUsage, true), 2},
		{"network", &client.Error{Kind: client.KindNetwork, Err: errors.New("refused")}, 3},
		{"no auth is a usage error", &client.Error{Kind: client.KindAuth}, 2},
		{"blocking invoke not finished", &client.Error{Kind: client.KindTimeout, Status: 202}, 202},
		{"400", httpErr(400), 144},
		{"401", httpErr(401), 145},
		{"403", httpErr(403), 147},
		{"404", httpErr(404), 148},
		{"409", httpErr(409), 153},
		{"413", httpErr(413), 157},
		{"429", httpErr(429), 173},
		{"500", httpErr(500), 244},
		{"application error 502", &client.Error{Kind: client.KindApplication, Status: 502}, 246},
		{"503", httpErr(503), 247},
		{"wrapped keeps the HTTP code", wrapError(httpErr(404), "Unable to get action 'x': %s", exitGeneral, true), 148},
		{"wrapped twice", wrapError(wrapError(httpErr(409), "a: %s", exitGeneral, false), "b: %s", exitGeneral, false), 153},
		{"wrapped plain error takes the wrapper's code", wrapError(errors.New("plain"), "a: %s", exitUsage, false), 2},
		{"kind and docker", newError("x", exitNotAllow, false), 149},
		{"quiet keeps the cause's code", quietError(&client.Error{Kind: client.KindApplication, Status: 502}), 246},
		{"other errors", fmt.Errorf("boom"), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ExitCode(tc.err); got != tc.want {
				t.Fatalf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}

func TestWrapError(t *testing.T) {
	inner := &client.Error{Kind: client.KindHTTP, Status: 404, Msg: "The requested resource does not exist.", Code: "tid"}
	err := wrapError(inner, "Unable to get action 'x': %s", exitGeneral, true)
	if err.Error() != "Unable to get action 'x': The requested resource does not exist. (code tid)" {
		t.Errorf("message %q", err)
	}
	if !showsUsage(err) || isQuiet(err) {
		t.Errorf("usage %v quiet %v", showsUsage(err), isQuiet(err))
	}
	if showsUsage(wrapError(inner, "a: %s", exitGeneral, false)) {
		t.Errorf("usage shown without being asked for")
	}
	if !showsUsage(wrapError(&client.Error{Kind: client.KindAuth}, "a: %s", exitGeneral, false)) {
		t.Errorf("a missing auth key must show the usage hint")
	}
	if !isQuiet(wrapError(quietError(inner), "a: %s", exitGeneral, false)) {
		t.Errorf("a quiet cause must stay quiet")
	}
}
