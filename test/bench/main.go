// Command bench is gowhisk's benchmark harness (issue 6). It builds
// cmd/gowhisk, starts `gowhisk standalone` with the process sandbox on free
// loopback ports with temporary data directories, drives it with its own
// closed-loop load generator, measures the floor (bare Go HTTP hops to an
// action process over a pipe) in the same run, prints a table and writes
// the figures as JSON. It never judges how fast anything is: it exits 1
// only when a scenario produced no numbers.
//
//	go run ./test/bench [-quick] [-json FILE] [-md FILE] [-only 1,2,9] [-perf DIR]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run())
}

func run() int {
	var (
		quick    = flag.Bool("quick", false, "short run (a smoke test: every scenario, few samples)")
		jsonOut  = flag.String("json", "", "write the figures as JSON to this file")
		mdOut    = flag.String("md", "", "write the table as Markdown to this file")
		only     = flag.String("only", "", "comma-separated sections to run, e.g. 2,9 (1..9; without 9 the rows have no floor ratios)")
		perfDir  = flag.String("perf", "", "profile the gowhisk server with Linux perf during each measured row into this directory")
		keep     = flag.Bool("keep", false, "keep the temporary work directory (server logs, data)")
		role     = flag.String("floor-role", "", "internal: run as a floor server (front or back)")
		next     = flag.String("floor-next", "", "internal: the back floor server's URL")
		fNode    = flag.String("floor-node", "", "internal: nodejs floor script")
		fPython  = flag.String("floor-python", "", "internal: python floor script")
		fNative  = flag.String("floor-native", "", "internal: native floor executable")
		gowhiskB = flag.String("gowhisk", "", "use this gowhisk binary instead of building cmd/gowhisk")
	)
	flag.Parse()
	switch *role {
	case "":
	case "back":
		return exitOn(runFloorBack(*fNode, *fPython, *fNative))
	case "front":
		return exitOn(runFloorFront(*next))
	default:
		fmt.Fprintf(os.Stderr, "bench: unknown -floor-role %q\n", *role)
		return 2
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	started := time.Now()
	load0 := loadavg()
	p := fullPlan()
	if *quick {
		p = quickPlan()
	}
	root, err := moduleRoot()
	if err != nil {
		return exitOn(err)
	}
	work, err := os.MkdirTemp("", "gowhisk-bench-")
	if err != nil {
		return exitOn(err)
	}
	// The process sandbox runs actions as an unprivileged user when the
	// server runs as root: they must be able to reach the sandbox dirs.
	if err := os.Chmod(work, 0o755); err != nil {
		return exitOn(err)
	}
	if *keep {
		fmt.Fprintf(os.Stderr, "work directory: %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}
	prof, err := newProfiler(*perfDir)
	if err != nil {
		return exitOn(err)
	}
	b := &bench{t0: started, ctx: ctx, p: p, work: work, root: root, prof: prof, log: os.Stderr, floors: map[string]Row{}, only: map[string]bool{}}
	for _, s := range strings.Split(*only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			b.only[s] = true
		}
	}
	if err := b.prepare(*gowhiskB); err != nil {
		return exitOn(err)
	}
	fmt.Fprintf(os.Stderr, "gowhisk benchmarks (%s run), work dir %s\n", map[bool]string{true: "quick", false: "full"}[*quick], work)
	if b.want("9") {
		fmt.Fprintln(os.Stderr, "9: floors")
		b.floorRows()
	}
	fmt.Fprintln(os.Stderr, "1-7: gowhisk standalone, process sandbox")
	b.mainServer()
	b.coldServer()
	b.defaultsServer()
	b.distributed()

	rep := Report{Started: started, Seconds: time.Since(started).Seconds(), Quick: *quick, Machine: machine(), Rows: b.rows, Problems: problems(b.rows)}
	rep.Machine.LoadStart, rep.Machine.LoadEnd = load0, loadavg()
	fmt.Println()
	printTable(os.Stdout, rep.Rows)
	fmt.Printf("\nmachine: %d CPUs, %s, kernel %s, %s, node %s, %s; load average %s at the start, %s at the end; %.0f s\n",
		rep.Machine.CPUs, rep.Machine.Model, rep.Machine.Kernel, rep.Machine.Go, rep.Machine.Node, rep.Machine.Python,
		rep.Machine.LoadStart, rep.Machine.LoadEnd, rep.Seconds)
	if *jsonOut != "" {
		if err := writeJSON(*jsonOut, rep); err != nil {
			return exitOn(err)
		}
	}
	if *mdOut != "" {
		f, err := os.Create(*mdOut)
		if err != nil {
			return exitOn(err)
		}
		printMarkdown(f, rep.Rows)
		if err := f.Close(); err != nil {
			return exitOn(err)
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "bench: interrupted")
		return 130
	}
	if len(rep.Problems) > 0 {
		fmt.Fprintln(os.Stderr, "bench: scenarios without numbers:")
		for _, p := range rep.Problems {
			fmt.Fprintln(os.Stderr, "  "+p)
		}
		return 1
	}
	return 0
}

// prepare builds what the run needs: gowhisk, the native noop, the floor
// scripts.
func (b *bench) prepare(prebuilt string) error {
	b.bin = prebuilt
	if b.bin == "" {
		b.bin = filepath.Join(b.work, "gowhisk")
		if err := goBuild(b.ctx, b.root, "./cmd/gowhisk", b.bin); err != nil {
			return err
		}
	}
	var err error
	if b.nativeExe, b.nativeExec, err = buildNativeNoop(b.ctx, b.work); err != nil {
		return err
	}
	b.nodeScript, b.pyScript, err = floorScripts(b.work)
	return err
}

func exitOn(err error) int {
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 1
	}
	return 0
}
