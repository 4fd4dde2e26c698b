package client

import (
	"context"
	"errors"
	"testing"
)

func TestBaseURL(t *testing.T) {
	tests := []struct {
		host, want string
		wantErr    bool
	}{
		{"localhost:3233", "https://localhost:3233/api", false},
		{"openwhisk.example.com", "https://openwhisk.example.com/api", false},
		{"http://127.0.0.1:3233", "http://127.0.0.1:3233/api", false},
		{"https://h/", "https://h/api", false},
		{"", "", true},
		{"http://", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			u, err := BaseURL(tc.host)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err == nil && u.String() != tc.want {
				t.Fatalf("got %s, want %s", u, tc.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		blocking bool
		kind     Kind // 0: no error
		msg      string
	}{
		{"ok", 200, `{}`, false, 0, ""},
		{"accepted non-blocking", 202, `{"activationId":"x"}`, false, 0, ""},
		{"no content", 204, ``, false, 0, ""},
		{"accepted blocking is a timeout", 202, `{"activationId":"x"}`, true, KindTimeout, "Request accepted, but processing not completed yet."},
		{"server error with code", 404, `{"error":"The requested resource does not exist.","code":"abc"}`, false, KindHTTP, "The requested resource does not exist. (code abc)"},
		{"numeric code", 409, `{"error":"conflict","code":12345}`, false, KindHTTP, "conflict (code 12345)"},
		{"502 without code is an application error", 502, `{"response":{"result":{"error":"x"}}}`, true, KindApplication, ""},
		{"502 with code is an HTTP error", 502, `{"error":"bad gateway","code":"t"}`, false, KindHTTP, "bad gateway (code t)"},
		{"500 record", 500, `{"response":{"status":"whisk internal error"}}`, true, KindHTTP, "The connection failed, or timed out. (HTTP status code 500)"},
		{"not JSON", 503, `<html>`, false, KindHTTP, "The connection failed, or timed out. (HTTP status code 503)"},
		{"empty body", 401, ``, false, KindHTTP, "The connection failed, or timed out. (HTTP status code 401)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := classify(tc.status, []byte(tc.body), tc.blocking)
			if tc.kind == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Kind != tc.kind || e.Status != tc.status {
				t.Fatalf("err = %#v, want kind %d", err, tc.kind)
			}
			if tc.msg != "" && e.Error() != tc.msg {
				t.Fatalf("message %q, want %q", e.Error(), tc.msg)
			}
		})
	}
}

func TestDoWithoutAuth(t *testing.T) {
	c, err := New(Config{APIHost: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.List(context.Background(), "_", Actions, "", ListOptions{Limit: 30})
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindAuth {
		t.Fatalf("err = %v, want KindAuth before any request", err)
	}
}

func TestEscapePath(t *testing.T) {
	if got := EscapePath("pkg/a b?"); got != "pkg/a%20b%3F" {
		t.Errorf("EscapePath = %q", got)
	}
}
