// Package bench holds sqlvault's benchmarks (issue 6) and what they need that product code
// does not have: stores that discard or spill to disk, a store that counts calls, a
// bench-only stripe writer without encryption, a "blocks in flight" sink wrapper, and a
// harness that runs the agent's real activities against a simulator outside Temporal.
//
// Nothing here is imported by product code. The benchmarks themselves are the *_test.go
// files; cmd/agentbench is the agent as a separate process (for its own RSS and CPU time),
// and cmd/benchreport runs everything several times and writes BENCHMARKS.md.
package bench
