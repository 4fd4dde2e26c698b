package actionloop_test

import (
	"context"
	"testing"

	"github.com/gowhisk/gowhisk/invoker/container"
)

// benchRun measures a warm activation round trip (one line to the
// launcher, the sentinels on its log streams, one line back).
func benchRun(b *testing.B, kind, code string) {
	l := start(b, kind)
	l.mustInit(b, kind, container.InitRequest{Name: "bench", Code: code})
	body := runBody(b, map[string]any{"name": "bench"}, nil)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := l.p.Call(ctx, body)
		if err != nil || res.Status != 200 {
			b.Fatalf("Call = %d %s, %v", res.Status, res.Body, err)
		}
	}
}

func BenchmarkRunNode(b *testing.B) {
	benchRun(b, node, `function main(a) { return {greeting: "Hello " + a.name} }`)
}

func BenchmarkRunPython(b *testing.B) {
	benchRun(b, py, "def main(a):\n    return {'greeting': 'Hello ' + a['name']}\n")
}

func BenchmarkRunNodeAsync(b *testing.B) {
	benchRun(b, node, `async function main(a) { return {greeting: "Hello " + a.name} }`)
}
