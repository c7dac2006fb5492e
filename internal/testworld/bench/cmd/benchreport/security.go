package main

import (
	"math"
	"strconv"
	"strings"
)

// microMetrics reads the micro-benchmark lines (`BenchmarkX/sub-2  N  v unit  v unit …`)
// into benchmark name (without the -GOMAXPROCS suffix) → unit → value.
func microMetrics(micro string) map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	for _, line := range strings.Split(micro, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		m := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				m[f[i+1]] = v
			}
		}
		out[name] = m
	}
	return out
}

func metric(mm map[string]map[string]float64, name, unit string) float64 {
	if v, ok := mm[name][unit]; ok {
		return v
	}
	return math.NaN()
}

// item9 is the cost of what issue 16 added to every backup and restore: the catalog's
// authentication (manifests in their envelope, MAC'd stripe indexes) and the payload codec,
// set against the work each is added to, measured in this same report.
func item9(m *md, micro string, fleet, pipe *result) {
	mm := microMetrics(micro)
	m.p("## 9. Cost of authentication and payload encryption")
	m.p("")
	m.p("**Method** (issue 16). Two micro-benchmarks, each timing the secured path and the plain one")
	m.p("over the same iterations in one process (the micro-benchmarks below, one run, `-benchtime 300ms`):")
	m.p("")
	m.p("- `BenchmarkManifestAuth` (`internal/vault`): a manifest encoded, sealed in its authenticated")
	m.p("  envelope (HMAC-SHA256 under a subkey of the data key) and verified and decoded, as a commit")
	m.p("  writes it and a restore or retention reads it — against encoding and decoding the same JSON")
	m.p("  unauthenticated; and a v2 stripe index of 1,024 blocks (4 GiB of data) verified as a restore")
	m.p("  does before streaming (digest, strict decode, MAC over the ordered blocks) — against a plain")
	m.p("  decode.")
	m.p("- `BenchmarkPayloadCodec` (`internal/payloadcodec`): an activity input shaped like a restore")
	m.p("  step's (names, paths, LSNs), 4 KiB and 64 KiB, to a Temporal payload and back through the")
	m.p("  codec data converter (AES-256-GCM) — against the SDK's plain converter.")
	m.p("")
	if len(mm["BenchmarkManifestAuth/manifest/stripes=4"]) == 0 && len(mm["BenchmarkPayloadCodec/4KiB/codec"]) == 0 {
		m.p("Not measured in this run (no micro-benchmark results).")
		m.p("")
		return
	}
	logMs := logBackupMs(fleet)
	prepareMs := fleet.med("log-prepare-ms")
	pipeMBs := pipe.med("pipe-MB/s")
	stream4GiBms := float64(4<<30) / (pipeMBs * 1e6) * 1000

	m.p("| what | secured | plain | added | ratio | set against (this report) | share |")
	m.p("|---|---|---|---|---|---|---|")
	row := func(what, name string, against string, againstMs float64, times float64) {
		auth := metric(mm, name, "ns/op")
		plain := metric(mm, name, "plain-ns/op")
		if math.IsNaN(auth) || math.IsNaN(plain) {
			m.p("| %s | not measured | | | | | |", what)
			return
		}
		added := (auth - plain) * times
		m.p("| %s | %s µs | %s µs | %s µs | %s | %s | %s |", what, f1(auth/1e3), f1(plain/1e3), f1(added/1e3),
			f2(metric(mm, name, "auth/plain")), against, sharePct(added/1e6, againstMs))
	}
	against := "a log backup, the cheapest point, end to end (prepare + stream + commit): " + f1(logMs) + " ms (item 5, medians)"
	row("manifest, 4 stripes (seal + verify)", "BenchmarkManifestAuth/manifest/stripes=4", against, logMs, 1)
	row("manifest, 64 stripes (seal + verify)", "BenchmarkManifestAuth/manifest/stripes=64", against, logMs, 1)
	row("stripe index, 1,024 blocks (verify)", "BenchmarkManifestAuth/index/blocks=1024",
		"streaming its 4 GiB at the pipeline's "+f1(pipeMBs)+" MB/s (item 1): "+f1(stream4GiBms/1000)+" s", stream4GiBms, 1)
	for _, size := range []string{"4KiB", "64KiB"} {
		codec := metric(mm, "BenchmarkPayloadCodec/"+size+"/codec", "ns/op")
		plain := metric(mm, "BenchmarkPayloadCodec/"+size+"/plain", "ns/op")
		what := "payload " + strings.Replace(size, "KiB", " KiB", 1) + " (encode + decode; an activity's input and result: ×2)"
		if math.IsNaN(codec) || math.IsNaN(plain) {
			m.p("| %s | not measured | | | | | |", what)
			continue
		}
		added := 2 * (codec - plain)
		m.p("| %s | %s µs | %s µs | %s µs | %s | a log backup's prepare step: %s ms (item 5, median) | %s |", what,
			f1(2*codec/1e3), f1(2*plain/1e3), f1(added/1e3), f2(codec/plain), f1(prepareMs), sharePct(added/1e6, prepareMs))
	}
	m.p("")
	m.p("**Reading.** The ratios look large because the plain paths are tiny: what matters is the")
	m.p("time added to the work that pays it. A point's manifest is sealed once (its commit) and")
	m.p("verified once per reader, so it is set against the cheapest point there is, a log backup end")
	m.p("to end; an index is verified once per restore of its stripe, set against streaming that")
	m.p("stripe; every activity input and result (and heartbeat, and failure) passes the codec once")
	m.p("each way, set against the cheapest agent step, a log backup's prepare. Under 1%% is")
	m.p("negligible; the summary judges the typical sizes (4 stripes, 4 KiB payloads — the largest")
	m.p("payload the RPO watchdog's sweep carries is about 3 KB, item 8). A 64 KiB payload is a restore")
	m.p("plan of hundreds of points, whose restore steps stream for minutes, not a 30 ms prepare. The")
	m.p("plaintext SHA-256 the index carried per block before issue 16 is gone, so backups hash less")
	m.p("than before (`BenchmarkPutBlock` below).")
	m.p("")
}

func sharePct(addedMs, againstMs float64) string {
	if math.IsNaN(addedMs) || math.IsNaN(againstMs) || againstMs <= 0 {
		return "—"
	}
	s := addedMs / againstMs * 100
	if s < 0 {
		return "none measurable"
	}
	return strconv.FormatFloat(s, 'f', 2, 64) + "%"
}

// item9Summary is item 9's row of the summary: the largest share of a step's time the
// authentication and the codec add, against the target "negligible" (under 1%).
func item9Summary(m *md, micro string, fleet, pipe *result) {
	mm := microMetrics(micro)
	logMs, prepareMs := logBackupMs(fleet), fleet.med("log-prepare-ms")
	streamMs := float64(4<<30) / (pipe.med("pipe-MB/s") * 1e6) * 1000
	added := func(name, unit string) float64 { return metric(mm, name, "ns/op") - metric(mm, name, unit) }
	manifest := added("BenchmarkManifestAuth/manifest/stripes=4", "plain-ns/op")
	index := added("BenchmarkManifestAuth/index/blocks=1024", "plain-ns/op")
	payload := 2 * (metric(mm, "BenchmarkPayloadCodec/4KiB/codec", "ns/op") - metric(mm, "BenchmarkPayloadCodec/4KiB/plain", "ns/op"))
	shares := []float64{manifest / 1e6 / logMs, index / 1e6 / streamMs, payload / 1e6 / prepareMs}
	worst := math.NaN()
	for _, s := range shares {
		if !math.IsNaN(s) && (math.IsNaN(worst) || s > worst) {
			worst = s
		}
	}
	verdict := "not measured"
	if !math.IsNaN(worst) {
		verdict = "**met**"
		if worst >= 0.01 {
			verdict = "**missed**"
		}
	}
	m.p("| 9 | authentication of the catalog and the payload codec (issue 16) | +%s µs a manifest (4 stripes), +%s µs a 1,024-block index, +%s µs an activity's 4 KiB input and result | the same objects unauthenticated / through the plain converter (same process) | largest share of the work it is added to (a log backup, a stripe's stream, an agent step): %s | negligible (< 1%%) | %s |",
		f1(manifest/1e3), f1(index/1e3), f1(payload/1e3), sharePct(worst*100, 100), verdict)
}

// logBackupMs is a log backup end to end as item 5 measures it: the agent's prepare and
// stream and the control side's commit (medians).
func logBackupMs(fleet *result) float64 {
	return fleet.med("log-prepare-ms") + fleet.med("log-stream-ms") + fleet.med("log-commit-ms")
}
