package proxy_test

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
)

// BenchmarkProxyRunNode measures a warm /run over HTTP keep-alive through
// the proxy to the nodejs launcher.
func BenchmarkProxyRunNode(b *testing.B) {
	e := newProxyB(b, "nodejs")
	st, rb := e.post(b, "/init", initBody(`function main(a) { return {greeting: "Hello " + a.name} }`, "main", false))
	if st != 200 {
		b.Fatalf("init: %d %s", st, rb)
	}
	body, _ := json.Marshal(runBody(map[string]any{"name": "bench"}))
	c := e.srv.Client()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Post(e.srv.URL+"/run", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
