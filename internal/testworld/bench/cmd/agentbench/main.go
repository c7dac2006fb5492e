// Command agentbench is the sqlvault agent as a process of its own, for benchmarks that
// measure the agent alone (its peak RSS and CPU time) while the SQL Server simulator runs in
// the driving process. It runs the agent's real activities (see bench.Agent): the HTTPS blob
// endpoint (or the VDI path over the stand-in libsqlvdi.so, -vdi-lib), the vault stripe
// writer and reader, over a store that discards block data or keeps it in files.
//
// It reads one JSON bench.AgentCommand per line on stdin and answers one bench.AgentReply
// per line on stdout. It is a benchmark tool, not part of the product.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/sqlvault/sqlvault/internal/agent/memlimit"
	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/testworld/bench"
	"github.com/sqlvault/sqlvault/internal/vault"
)

func main() {
	host := flag.String("host", "", "endpoint DNS name (URLs carry no port)")
	listen := flag.String("listen", "", "endpoint bind address, ip:443 (default 127.0.0.5:443)")
	cert := flag.String("cert", "", "endpoint certificate (PEM)")
	key := flag.String("key", "", "endpoint private key (PEM)")
	dsn := flag.String("dsn", "", "SQL Server (simulator) DSN")
	instance := flag.String("instance", "", "@@SERVERNAME of the instance")
	storeKind := flag.String("store", "discard", "discard | file")
	dir := flag.String("dir", "", "directory of the file store")
	vdiLib := flag.String("vdi-lib", "", "libsqlvdi.so for the VDI data path (the stand-in; sockets in $SQLSIM_VDI_DIR); empty: URL only")
	flag.Parse()

	// The agent worker's runtime setting (worker/run.go): its soft memory limit, following
	// the stripes in progress, unless GOMEMLIMIT is in the environment (the memory benchmark
	// sets GOMEMLIMIT=off to show the footprint without it).
	cfg := config.Default()
	cfg.Role = config.RoleAgent
	var memory *memlimit.Budget
	if mib := cfg.AgentMemoryLimitMiB(os.Getenv); mib > 0 {
		memory = memlimit.New(mib, config.MemoryPerStripeMiB)
	}

	var store vault.Store
	switch *storeKind {
	case "discard":
		store = bench.NewDiscardStore()
	case "file":
		fs, err := bench.NewFileStore(*dir)
		if err != nil {
			fail(err)
		}
		store = fs
	default:
		fail(fmt.Errorf("unknown store %q", *storeKind))
	}
	raw := make([]byte, blockcrypt.KeySize)
	_, _ = rand.Read(raw)
	k, err := blockcrypt.NewKey(raw)
	if err != nil {
		fail(err)
	}
	a, err := bench.StartAgent(bench.AgentConfig{Host: *host, Listen: *listen, CertFile: *cert, KeyFile: *key, Instance: *instance,
		DSN: *dsn, Store: store, Key: k, Memory: memory, VDILib: *vdiLib})
	if err != nil {
		fail(err)
	}
	defer a.Close()

	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 16<<20)
	out := json.NewEncoder(os.Stdout)
	ctx := context.Background()
	for in.Scan() {
		var cmd bench.AgentCommand
		var rep bench.AgentReply
		if err := json.Unmarshal(in.Bytes(), &cmd); err != nil {
			rep.Error = err.Error()
			_ = out.Encode(rep)
			continue
		}
		cpu0, t0 := bench.CPUSeconds(), time.Now()
		switch cmd.Op {
		case "backup":
			res, err := a.Backup(ctx, *cmd.Backup)
			rep.Backup = &res
			if err != nil {
				rep.Error = err.Error()
			}
		case "restore":
			if _, err := a.Restore(ctx, *cmd.Restore); err != nil {
				rep.Error = err.Error()
			}
		case "filelist":
			if err := a.FileList(ctx, *cmd.Restore); err != nil {
				rep.Error = err.Error()
			}
		case "resetPeak":
			if err := bench.ResetPeak(); err != nil {
				rep.Error = err.Error()
			}
		case "stats":
		case "quit":
			_ = out.Encode(rep)
			return
		default:
			rep.Error = "unknown op " + cmd.Op
		}
		rep.Seconds = time.Since(t0).Seconds()
		rep.CPUSeconds = bench.CPUSeconds() - cpu0
		rep.HWMKiB, rep.RSSKiB = bench.ProcStatus()
		_ = out.Encode(rep)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "agentbench:", err)
	os.Exit(1)
}
