package sqlsim

import (
	"maps"
	"strings"
	"sync"

	"github.com/sqlvault/sqlvault/internal/sqlsim/urlio"
)

// hostsFiles are the simulated machines' own hosts-file entries, over Config.Resolve (which
// every machine shares). Backup URLs carry no port and name the endpoint by host name (SQL
// Server refuses anything else), so on a real VM the hosts file decides which endpoint a
// name reaches: several agents in one simulator, each on its own VM and all called
// sqlvault-agent.local, differ only here. Instances on one machine share its file.
type hostsFiles struct {
	mu       sync.Mutex
	machines map[string]*machineHosts // by lower-cased machine name
}

type machineHosts struct {
	entries map[string]string // lower-cased host name → IP address
	client  *urlio.Client     // SQL Server's blob client on that machine
}

// SetHostsEntry maps name to ip in the hosts file of this instance's machine, as an operator
// edits C:\Windows\System32\drivers\etc\hosts or /etc/hosts. Later BACKUP and RESTORE
// statements of every instance on that machine resolve name to ip, port 443.
func (in *Instance) SetHostsEntry(name, ip string) {
	h := &in.sim.hosts
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.machines == nil {
		h.machines = map[string]*machineHosts{}
	}
	key := strings.ToLower(in.cfg.Machine)
	m := h.machines[key]
	if m == nil {
		m = &machineHosts{entries: map[string]string{}}
		h.machines[key] = m
	}
	m.entries[strings.ToLower(name)] = ip
	resolve := map[string]string{}
	for k, v := range in.sim.cfg.Resolve {
		resolve[strings.ToLower(k)] = v
	}
	maps.Copy(resolve, m.entries)
	m.client = newBlobClient(in.sim.cfg, resolve)
}

// blobClient is SQL Server's blob client on this instance's machine.
func (in *Instance) blobClient() *urlio.Client {
	h := &in.sim.hosts
	h.mu.Lock()
	defer h.mu.Unlock()
	if m := h.machines[strings.ToLower(in.cfg.Machine)]; m != nil {
		return m.client
	}
	return in.sim.blob
}

// newBlobClient is SQL Server's blob client on a host that resolves names with resolve.
func newBlobClient(cfg Config, resolve map[string]string) *urlio.Client {
	return urlio.NewClient(urlio.Config{RootCAs: cfg.TrustedRoots, Resolve: resolve, Forward: cfg.Forward,
		UserAgent: "SQLSIM/16.0 (BackupToUrl)", BlockListEncoding: cfg.BlockListEncoding, Logger: cfg.Logger})
}
