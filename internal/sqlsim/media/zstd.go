package media

import (
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Encoders and decoders are pooled: creating one costs more than compressing a small log
// backup, and EncodeAll/DecodeAll keep no state between calls.
//
// The writer uses zstd's fastest level: on page content it compresses as well as level 3
// (about 0.56 of the original) at twice the speed, and backup throughput is what a
// simulator of SQL Server's (fast) native compression needs.
var (
	encoders = sync.Pool{New: func() any {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(false)) // chunks have their own CRC
		if err != nil {
			panic(err) // only invalid options fail
		}
		return e
	}}
	decoders = sync.Pool{New: func() any {
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxMemory(maxChunkSize), zstd.WithDecodeAllCapLimit(true))
		if err != nil {
			panic(err)
		}
		return d
	}}
)
