package payloadcodec

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"

	"github.com/sqlvault/sqlvault/internal/temporalx"
)

// activityInput is shaped like a restore step's input: names, paths, LSNs, a plan.
type activityInput struct {
	Instance, Database, VM string
	Files                  []string
	Points                 []struct{ ID, FirstLSN, LastLSN string }
	Note                   string
}

func benchInput(size int) activityInput {
	in := activityInput{Instance: "SQL01", Database: "Sales", VM: "vm-sql01"}
	for i := 0; i < 8; i++ {
		in.Files = append(in.Files, fmt.Sprintf(`D:\MSSQL\Data\Sales_%02d.ndf`, i))
		in.Points = append(in.Points, struct{ ID, FirstLSN, LastLSN string }{fmt.Sprintf("pt-%d", i), "42000000012300001", "42000000019900001"})
	}
	for n := payloadSize(in); n < size; n = payloadSize(in) {
		in.Note += strings.Repeat("x", min(size-n, 4096))
	}
	return in
}

func payloadSize(in activityInput) int {
	p, err := converter.GetDefaultDataConverter().ToPayload(in)
	if err != nil {
		panic(err)
	}
	return len(p.Data)
}

// BenchmarkPayloadCodec: a payload to the history and back (ToPayload + FromPayload)
// through the plain converter and through the codec converter; the codec's sub-benchmark
// reports its ratio to the plain one as x_plain.
func BenchmarkPayloadCodec(b *testing.B) {
	codec, err := New("bench", testKey(b, "codec-bench", 7))
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{4 << 10, 64 << 10} {
		in := benchInput(size)
		var plainNs float64
		for _, c := range []struct {
			name string
			dc   converter.DataConverter
		}{{"plain", temporalx.DataConverter(nil)}, {"codec", temporalx.DataConverter(codec)}} {
			b.Run(fmt.Sprintf("%dKiB/%s", size>>10, c.name), func(b *testing.B) {
				b.ReportAllocs()
				start := time.Now()
				for i := 0; i < b.N; i++ {
					p, err := c.dc.ToPayload(in)
					if err != nil {
						b.Fatal(err)
					}
					var out activityInput
					if err := c.dc.FromPayload(p, &out); err != nil {
						b.Fatal(err)
					}
				}
				ns := float64(time.Since(start).Nanoseconds()) / float64(b.N)
				if c.name == "plain" {
					plainNs = ns
				} else if plainNs > 0 {
					b.ReportMetric(ns/plainNs, "x_plain")
				}
			})
		}
	}
}
