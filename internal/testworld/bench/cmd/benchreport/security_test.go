package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const microSample = `pkg: github.com/sqlvault/sqlvault/internal/vault
BenchmarkManifestAuth/manifest/stripes=4-2         	   20000	     40000 ns/op	     30000 plain-ns/op	         1.333 auth/plain	   12000 B/op	      90 allocs/op
BenchmarkManifestAuth/index/blocks=1024-2          	    1000	   1200000 ns/op	    800000 plain-ns/op	         1.500 auth/plain	  400000 B/op	    3000 allocs/op
pkg: github.com/sqlvault/sqlvault/internal/payloadcodec
BenchmarkPayloadCodec/4KiB/plain-2                 	   20000	     50000 ns/op	   10000 B/op	      50 allocs/op
BenchmarkPayloadCodec/4KiB/codec-2                 	   20000	     60000 ns/op	         1.200 x_plain	   30000 B/op	      60 allocs/op
`

func TestMicroMetricsReadsSubBenchmarks(t *testing.T) {
	mm := microMetrics(microSample)
	assert.Equal(t, 40000.0, mm["BenchmarkManifestAuth/manifest/stripes=4"]["ns/op"])
	assert.Equal(t, 30000.0, mm["BenchmarkManifestAuth/manifest/stripes=4"]["plain-ns/op"])
	assert.Equal(t, 1.2, mm["BenchmarkPayloadCodec/4KiB/codec"]["x_plain"])
	assert.NotContains(t, mm, "BenchmarkPayloadCodec/4KiB/codec-2")
}

// Item 9 sets each added cost against the work it is added to, from the same report: a 10 µs
// manifest seal against a 5 ms log backup (prepare 2 + stream 2 + commit 1) is 0.20%; a
// stripe index's 400 µs against streaming 4 GiB at 100 MB/s; an activity's two payloads
// (2 × 10 µs) against a 20 ms prepare is 0.10%.
func TestItem9SharesAgainstTheSameRun(t *testing.T) {
	fleet := &result{Runs: []map[string]float64{{"log-commit-ms": 1, "log-stream-ms": 2, "log-prepare-ms": 2}}}
	pipe := &result{Runs: []map[string]float64{{"pipe-MB/s": 100}}}
	var m md
	item9(&m, microSample, fleet, pipe)
	out := m.String()
	require.Contains(t, out, "## 9. Cost of authentication and payload encryption")
	assert.Contains(t, out, "| manifest, 4 stripes (seal + verify) | 40.0 µs | 30.0 µs | 10.0 µs | 1.33 |")
	assert.Contains(t, out, "| 0.20% |")
	assert.Contains(t, out, "| 1.00% |", "2 × 10 µs against a 2 ms prepare")
	assert.NotContains(t, out, "%!", "no broken format verb")
	assert.Contains(t, out, "| manifest, 64 stripes (seal + verify) | not measured |")
	streamMs := float64(4<<30) / 100e6 * 1000
	assert.Contains(t, out, "| "+sharePct(0.4, streamMs)+" |")

	var empty md
	item9(&empty, "", fleet, pipe)
	assert.True(t, strings.Contains(empty.String(), "Not measured in this run"))
}

func TestItem9SummaryJudgesTheLargestShare(t *testing.T) {
	fleet := &result{Runs: []map[string]float64{{"log-commit-ms": 1, "log-stream-ms": 2, "log-prepare-ms": 20}}}
	pipe := &result{Runs: []map[string]float64{{"pipe-MB/s": 100}}}
	var m md
	item9Summary(&m, microSample, fleet, pipe)
	assert.Contains(t, m.String(), "(a log backup, a stripe's stream, an agent step): 0.10%", "the payloads: 20 µs of a 20 ms prepare; the manifest is 10 µs of a 23 ms log backup")
	assert.Contains(t, m.String(), "**met**")
	slow := &result{Runs: []map[string]float64{{"log-commit-ms": 0.1, "log-stream-ms": 0.2, "log-prepare-ms": 0.2}}}
	m = md{}
	item9Summary(&m, microSample, slow, pipe)
	assert.Contains(t, m.String(), "**missed**")
}
