// Command gowhisk is the gowhisk server: an Apache OpenWhisk-compatible
// action platform in one binary. See `gowhisk help`.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], processEnv()))
}
