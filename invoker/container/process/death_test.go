package process

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// helperEnv asks the test binary to act as a crashing invoker (see
// TestHelperInvoker).
const helperEnv = "GOWHISK_PROCESS_SANDBOX_HELPER"

// TestHelperInvoker is not a test: run by TestInvokerDeathKillsLaunchers
// in a child process, it creates a container, prints its launcher's pid
// and waits to be killed.
func TestHelperInvoker(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		t.Skip("helper process only")
	}
	root, name, _ := strings.Cut(spec, ":")
	f, err := New(context.Background(), Config{WorkRoot: root, Name: name, CgroupParent: "gowhisk-test", Logger: testLogger(t)})
	if err != nil {
		fmt.Println("error", err)
		return
	}
	c := create(t, f, "nodejs:20", 128)
	fmt.Println("pid", c.pgid)
	time.Sleep(time.Minute)
}

func TestInvokerDeathKillsLaunchers(t *testing.T) {
	root := workRoot(t)
	name := "death" + strconv.Itoa(os.Getpid())
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperInvoker$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+root+":"+name)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(out)
	pid := 0
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "pid "); ok {
			pid, _ = strconv.Atoi(v)
			break
		}
		if strings.HasPrefix(sc.Text(), "error") {
			t.Fatal(sc.Text())
		}
	}
	if pid == 0 {
		t.Fatal("the helper invoker did not report its container")
	}
	if len(alive(pid, []int{pid})) == 0 {
		t.Fatal("the launcher is not running")
	}
	// The invoker crashes: nothing of it runs any cleanup.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pollUntil(ctx, func() (bool, error) { return len(alive(pid, []int{pid})) == 0, nil }); err != nil {
		t.Fatalf("the launcher %d outlived its invoker", pid)
	}
	// The next start of the same invoker removes the leftovers.
	f := newFactory(t, func(c *Config) { c.WorkRoot, c.Name = root, name })
	if err := f.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(f.sandboxes); len(ents) != 0 {
		t.Errorf("working directories left: %v", ents)
	}
	if f.cg != nil {
		if left := f.cg.children(); len(left) != 0 {
			t.Errorf("cgroups left: %v", left)
		}
	}
}
