// Command benchreport runs sqlvault's benchmarks (package internal/testworld/bench, issue 6) several
// times, takes the median of every figure, and writes BENCHMARKS.md: a table of each
// figure next to its baseline measured in the same run, the ratio, the target and the
// verdict, the method, the machine, CPU profiles of the targets that are missed, and the
// other packages' micro-benchmarks. `make bench` runs it.
//
//	go run ./internal/testworld/bench/cmd/benchreport -out BENCHMARKS.md
//	go run ./internal/testworld/bench/cmd/benchreport -quick -out /tmp/B.md   # small sizes, one run each
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// job is one `go test -bench` invocation of the compiled bench binary.
type job struct {
	Bench string // benchmark name without "Benchmark"
	Count int
	Env   []string
}

// result holds every reported metric of every run of one benchmark.
type result struct {
	Runs []map[string]float64
}

// partial is what a run has measured so far (see -resume).
type partial struct {
	Results    map[string]*result
	Background map[string]float64
	Measured   map[string]time.Time
	Raw        string
	Quick      bool
}

// state is everything a report is rendered from, saved so that -render can redo the
// Markdown without rerunning the benchmarks.
type state struct {
	Results  map[string]*result
	Profiles map[string]string
	Micro    string
	Raw      string
	Elapsed  time.Duration
	Quick    bool
	Jobs     []job
	Date     time.Time
	// Background is the machine's busy cores (all processes) sampled for a few seconds before
	// each benchmark, while nothing of ours ran: the other work sharing the machine.
	Background map[string]float64
	// Measured is when each benchmark's runs ended: a resumed run keeps earlier ones, and
	// the report says which (nil in states saved before it was recorded).
	Measured map[string]time.Time
}

func (r *result) med(unit string) float64 {
	var v []float64
	for _, run := range r.Runs {
		if x, ok := run[unit]; ok {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return math.NaN()
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func (r *result) minmax(unit string) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, run := range r.Runs {
		if x, ok := run[unit]; ok {
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
	}
	return lo, hi
}

func (r *result) n() int { return len(r.Runs) }

func main() {
	out := flag.String("out", "BENCHMARKS.md", "report to write")
	quick := flag.Bool("quick", false, "small sizes and one run of each (a smoke test of the report)")
	runs := flag.Int("runs", 0, "runs of each repeated benchmark (default 5 for the pipeline, 2 for the fleet, 3 for the others)")
	memSizes := flag.String("mem", "1024,5120,20480", "database sizes (MiB) of the memory benchmark")
	statePath := flag.String("state", filepath.Join(os.TempDir(), "sqlvault-benchreport-state.json"), "where the results are saved")
	render := flag.Bool("render", false, "only render -out again from the results saved in -state")
	resume := flag.Bool("resume", false, "keep the benchmarks a failed or interrupted run finished (saved in -state.partial) and run the rest")
	flag.Parse()
	if *render {
		data, err := os.ReadFile(*statePath)
		check(err)
		var st state
		check(json.Unmarshal(data, &st))
		check(os.WriteFile(*out, []byte(report(st)), 0o644))
		return
	}
	start := time.Now()
	root, err := repoRoot()
	check(err)
	logf := func(format string, args ...any) {
		fmt.Printf("[benchreport %s] %s\n", time.Since(start).Round(time.Second), fmt.Sprintf(format, args...))
	}

	work, err := os.MkdirTemp("", "sqlvault-benchreport-")
	check(err)
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "bench.test")
	logf("compiling internal/testworld/bench")
	run(root, nil, os.Stdout, "go", "test", "-c", "-o", bin, "./internal/testworld/bench")

	rep := func(def int) int {
		if *quick {
			return 1
		}
		if *runs > 0 {
			return *runs
		}
		return def
	}
	size := func(full, small int) string {
		if *quick {
			return strconv.Itoa(small)
		}
		return strconv.Itoa(full)
	}
	mem := *memSizes
	if *quick {
		mem = "128,256"
	}
	jobs := []job{
		{"Pipeline", rep(5), []string{"SQLVAULT_BENCH_PIPELINE_MB=" + size(512, 128)}},
		{"Azurite", rep(3), []string{"SQLVAULT_BENCH_AZURITE_MB=" + size(1024, 128)}},
		{"AgentMemory", 1, []string{"SQLVAULT_BENCH_MEM_MB=" + mem}},
		{"AgentCPU", rep(3), []string{"SQLVAULT_BENCH_CPU_MB=" + size(512, 128)}},
		// 2,000 databases (20 VMs × 100): about 5 minutes a run, so 2 runs rather than 3.
		{"Fleet", rep(2), []string{"SQLVAULT_BENCH_FLEET_LOGS=1", "SQLVAULT_BENCH_FLEET_DBS=" + size(100, 10)}},
		{"PlanRestore", rep(3), nil},
		// 2,000 protected items; two sweeps of the RPO watchdog a run.
		{"RPOWatchdog", rep(3), []string{"SQLVAULT_BENCH_RPO_ITEMS=" + size(2000, 200)}},
	}
	results := map[string]*result{}
	background := map[string]float64{}
	var raw bytes.Buffer
	// Each benchmark's results are saved as soon as it ends, so that a run that fails late
	// (the fleet benchmark comes fifth, 20 minutes in) can be resumed with -resume instead
	// of repeated.
	partialPath := *statePath + ".partial"
	measured := map[string]time.Time{}
	if *resume {
		if data, err := os.ReadFile(partialPath); err == nil {
			var p partial
			if json.Unmarshal(data, &p) == nil && p.Quick == *quick {
				results, background = p.Results, p.Background
				if p.Measured != nil {
					measured = p.Measured
				}
				raw.WriteString(p.Raw)
				logf("resuming: %d benchmarks kept from %s", len(results), partialPath)
			}
		}
	}
	benchDir := filepath.Join(root, "internal", "testworld", "bench")
	for _, j := range jobs {
		if r := results[j.Bench]; r != nil && len(r.Runs) >= j.Count {
			logf("Benchmark%s: kept from the resumed run", j.Bench)
			continue
		}
		background[j.Bench] = busyCores(3 * time.Second)
		logf("Benchmark%s × %d (%s); background load %.2f busy cores", j.Bench, j.Count, strings.Join(j.Env, " "), background[j.Bench])
		var buf bytes.Buffer
		args := []string{"-test.run", "^$", "-test.bench", "^Benchmark" + j.Bench + "$", "-test.benchtime", "1x",
			"-test.count", strconv.Itoa(j.Count), "-test.timeout", "60m"}
		run(benchDir, j.Env, io.MultiWriter(os.Stdout, &buf), bin, args...)
		results[j.Bench] = parse(buf.String(), "Benchmark"+j.Bench)
		measured[j.Bench] = time.Now().UTC()
		raw.WriteString(filterBenchLines(buf.String()))
		if data, err := json.Marshal(partial{Results: results, Background: background, Measured: measured, Raw: raw.String(), Quick: *quick}); err == nil {
			_ = os.WriteFile(partialPath, data, 0o644)
		}
	}

	// Profiles of the phases whose targets are missed (one extra run each, not counted).
	profDir := filepath.Join(work, "prof")
	check(os.MkdirAll(profDir, 0o700))
	logf("profiling the pipeline (URL and VDI) and the Azurite backup and restore")
	profEnv := "SQLVAULT_BENCH_PROFILE_DIR=" + profDir
	run(benchDir, []string{profEnv, "SQLVAULT_BENCH_NOBASE=1", "SQLVAULT_BENCH_PIPELINE_MB=" + size(512, 128)}, io.Discard, bin,
		"-test.run", "^$", "-test.bench", "^BenchmarkPipeline$", "-test.benchtime", "1x", "-test.count", "1")
	run(benchDir, []string{profEnv, "SQLVAULT_BENCH_AZURITE_MB=" + size(512, 128)}, io.Discard, bin,
		"-test.run", "^$", "-test.bench", "^BenchmarkAzurite$", "-test.benchtime", "1x", "-test.count", "1")
	profiles := map[string]string{}
	for _, p := range []string{"pipeline", "pipeline-vdi", "azurite-backup", "azurite-restore"} {
		profiles[p] = pprofTop(root, bin, filepath.Join(profDir, p+".pprof"))
	}

	// The other packages' micro-benchmarks, once each, briefly.
	logf("micro-benchmarks of the other packages")
	var micro bytes.Buffer
	pkgs := benchPackages(root)
	if len(pkgs) > 0 && !*quick {
		args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchtime", "300ms", "-benchmem", "-count", "1"}, pkgs...)
		run(root, nil, io.MultiWriter(os.Stdout, &micro), "go", args...)
	}

	elapsed := time.Since(start)
	st := state{Results: results, Profiles: profiles, Micro: filterBenchLines(micro.String()), Raw: raw.String(),
		Elapsed: elapsed, Quick: *quick, Jobs: jobs, Date: time.Now().UTC(), Background: background, Measured: measured}
	if data, err := json.Marshal(st); err == nil {
		_ = os.WriteFile(*statePath, data, 0o644)
	}
	check(os.WriteFile(*out, []byte(report(st)), 0o644))
	_ = os.Remove(partialPath)
	logf("wrote %s in %s", *out, elapsed.Round(time.Second))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		dir = parent
	}
}

// run executes a command and fails the report if it fails.
func run(dir string, env []string, out io.Writer, name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = out
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		check(fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err))
	}
}

// parse reads the `BenchmarkX-N  1  123 ns/op  4.5 unit ...` lines of one benchmark.
func parse(out, name string) *result {
	r := &result{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || (f[0] != name && !strings.HasPrefix(f[0], name+"-")) {
			continue
		}
		m := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err == nil {
				m[f[i+1]] = v
			}
		}
		r.Runs = append(r.Runs, m)
	}
	return r
}

func filterBenchLines(out string) string {
	var b strings.Builder
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "Benchmark") || strings.HasPrefix(line, "pkg:") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// pprofTop is `go tool pprof -top` of a profile, trimmed.
func pprofTop(root, bin, prof string) string {
	if _, err := os.Stat(prof); err != nil {
		return "(no profile)"
	}
	var out bytes.Buffer
	cmd := exec.Command("go", "tool", "pprof", "-top", "-nodecount=22", bin, prof)
	cmd.Dir = root
	cmd.Stdout = &out
	cmd.Stderr = io.Discard
	if err := cmd.Run(); err != nil {
		return "(pprof failed: " + err.Error() + ")"
	}
	var b strings.Builder
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "File:") || strings.HasPrefix(line, "Build ID:") || strings.HasPrefix(line, "Type:") ||
			strings.HasPrefix(line, "Time:") || strings.Contains(line, "Dropped") {
			continue
		}
		b.WriteString(strings.ReplaceAll(line, "github.com/sqlvault/sqlvault/", "") + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// benchPackages lists the packages other than internal/testworld/bench that have benchmarks.
func benchPackages(root string) []string {
	set := map[string]bool{}
	_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".") || d.Name() == "bin") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err == nil && bytes.Contains(data, []byte("\nfunc Benchmark")) {
			rel, _ := filepath.Rel(root, filepath.Dir(path))
			if rel != filepath.Join("internal", "testworld", "bench") {
				set["./"+filepath.ToSlash(rel)] = true
			}
		}
		return nil
	})
	var out []string
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func machine() (cores int, model, kernel, memTotal string) {
	cores = runtime.NumCPU()
	if b, err := exec.Command("nproc").Output(); err == nil {
		cores, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	model = "unknown"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := exec.Command("uname", "-sr").Output(); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		line, _, _ := strings.Cut(string(data), "\n")
		if f := strings.Fields(line); len(f) >= 2 {
			kb, _ := strconv.ParseFloat(f[1], 64)
			memTotal = fmt.Sprintf("%.1f GiB", kb/1024/1024)
		}
	}
	return
}

func goVersion() string {
	out, err := exec.Command("go", "version").Output()
	if err != nil {
		return runtime.Version()
	}
	return strings.TrimSpace(string(out))
}

// busyCores samples /proc/stat over d: how many cores all processes kept busy on average.
func busyCores(d time.Duration) float64 {
	read := func() (busy, total uint64) {
		data, err := os.ReadFile("/proc/stat")
		if err != nil {
			return 0, 0
		}
		line, _, _ := strings.Cut(string(data), "\n")
		for i, v := range strings.Fields(line)[1:] {
			n, _ := strconv.ParseUint(v, 10, 64)
			total += n
			if i != 3 && i != 4 { // idle, iowait
				busy += n
			}
		}
		return busy, total
	}
	b0, t0 := read()
	time.Sleep(d)
	b1, t1 := read()
	if t1 <= t0 {
		return math.NaN()
	}
	return float64(b1-b0) / float64(t1-t0) * float64(runtime.NumCPU())
}
