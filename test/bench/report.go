package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Row is one line of the result table.
type Row struct {
	ID       string `json:"id"`
	Scenario string `json:"scenario"`
	Summary
	// Floor names the floor row this one is compared with; Ratio is this
	// row's p50 over the floor's p50 (RatioOf "p50"), or the floor's rate
	// over this row's rate (RatioOf "rate"): how many times the floor's
	// cost this path pays. OverFloor is p50 minus the floor's p50.
	Floor     string    `json:"floor,omitempty"`
	RatioOf   string    `json:"ratio_of,omitempty"`
	Ratio     float64   `json:"ratio,omitempty"`
	OverFloor float64   `json:"over_floor_ms,omitempty"`
	CPU       *cpuMeter `json:"cpu,omitempty"`
	// CPUPerOp is the server's CPU time per operation in µs (server
	// cores / rate): on a shared machine steadier than the rate itself.
	CPUPerOp float64 `json:"server_cpu_us_per_op,omitempty"`
	Target   string  `json:"target,omitempty"`
	Note     string  `json:"note,omitempty"`
	Skipped  string  `json:"skipped,omitempty"`
	Err      string  `json:"error,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs   int    `json:"nproc"`
	Model  string `json:"cpu_model"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
	Node   string `json:"node"`
	Python string `json:"python"`
	// Load is /proc/loadavg at the start and at the end of the run: the
	// load generator and the servers share the machine with whatever
	// else runs on it.
	LoadStart string `json:"loadavg_start"`
	LoadEnd   string `json:"loadavg_end"`
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.TrimSpace(string(b))
}

// Report is the JSON document the harness writes.
type Report struct {
	Started  time.Time `json:"started"`
	Seconds  float64   `json:"seconds"`
	Quick    bool      `json:"quick"`
	Machine  Machine   `json:"machine"`
	Rows     []Row     `json:"rows"`
	Problems []string  `json:"problems,omitempty"`
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.Node = version("node", "--version")
	m.Python = version("python3", "--version")
	return m
}

func version(name string, args ...string) string {
	b, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return "unavailable"
	}
	return strings.TrimSpace(string(b))
}

// problems lists the rows without numbers: a scenario that was neither
// skipped (with its reason) nor produced a successful sample.
func problems(rows []Row) []string {
	var out []string
	for _, r := range rows {
		switch {
		case r.Skipped != "":
		case r.Err != "":
			out = append(out, fmt.Sprintf("%s %s: %s", r.ID, r.Scenario, r.Err))
		case r.N == 0:
			out = append(out, fmt.Sprintf("%s %s: no samples", r.ID, r.Scenario))
		}
	}
	return out
}

func f2(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// printTable writes the rows as an aligned text table.
func printTable(w io.Writer, rows []Row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "id\tscenario\tn\terr\tp50 ms\tp90 ms\tp99 ms\tmax ms\trate/s\tfloor\t×floor\tCPU srv/act/cli\tsrv µs/op\t")
	for _, r := range rows {
		if r.Skipped != "" {
			fmt.Fprintf(tw, "%s\t%s\t\t\t\t\t\t\t\t\t\t\t skipped: %s\n", r.ID, r.Scenario, r.Skipped)
			continue
		}
		cpu := ""
		if r.CPU != nil {
			cpu = fmt.Sprintf("%.2f/%.2f/%.2f", r.CPU.Server, r.CPU.Actions, r.CPU.LoadClient)
		}
		ratio := ""
		if r.Ratio > 0 {
			ratio = fmt.Sprintf("%.2f (%s)", r.Ratio, r.RatioOf)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t", r.ID, r.Scenario, r.N, r.Errors,
			f2(r.P50), f2(r.P90), f2(r.P99), f2(r.Max), f2(r.Rate), r.Floor, ratio, cpu, f2(r.CPUPerOp))
		if r.Err != "" {
			fmt.Fprintf(tw, " error: %s", r.Err)
		}
		fmt.Fprintln(tw)
	}
	_ = tw.Flush()
}

// printMarkdown writes the rows as a Markdown table (for BENCHMARKS.md).
func printMarkdown(w io.Writer, rows []Row) {
	fmt.Fprintln(w, "| id | scenario | n | err | p50 ms | p90 ms | p99 ms | max ms | rate/s | floor | ×floor | CPU srv/act/cli | srv µs/op |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|---|--:|---|--:|")
	for _, r := range rows {
		if r.Skipped != "" {
			fmt.Fprintf(w, "| %s | %s | | | | | | | | | | | skipped: %s |\n", r.ID, r.Scenario, r.Skipped)
			continue
		}
		cpu, ratio := "", ""
		if r.CPU != nil {
			cpu = fmt.Sprintf("%.2f/%.2f/%.2f", r.CPU.Server, r.CPU.Actions, r.CPU.LoadClient)
		}
		if r.Ratio > 0 {
			ratio = fmt.Sprintf("%.2f (%s)", r.Ratio, r.RatioOf)
		}
		fmt.Fprintf(w, "| %s | %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.ID, r.Scenario, r.N, r.Errors,
			f2(r.P50), f2(r.P90), f2(r.P99), f2(r.Max), f2(r.Rate), r.Floor, ratio, cpu, f2(r.CPUPerOp))
	}
}

func writeJSON(path string, rep Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
