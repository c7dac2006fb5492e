package sqlsim

import (
	"maps"
	"strings"
	"sync"

	"github.com/sqlvault/sqlvault/internal/sqlsim/urlio"
)

// hostsFile is one simulated machine's own hosts-file entries, over Config.Resolve (which
// every machine shares). Backup URLs carry no port and name the endpoint by host name
// (SQL Server refuses anything else), so on a real VM the hosts file decides which
// endpoint a name reaches: several agents in one simulator, each on its own VM, all
// called sqlvault-agent.local, differ only here.
type hostsFile struct {
	mu      sync.Mutex
	entries map[string]string // lower-cased host name → IP address
	client  *urlio.Client     // built from Config.Resolve + entries; nil: use the simulator's
}

// SetHostsEntry maps name to ip in this instance's machine's hosts file, as an operator
// edits C:\Windows\System32\drivers\etc\hosts or /etc/hosts. Later BACKUP and RESTORE
// statements of this instance resolve name to ip, port 443.
func (in *Instance) SetHostsEntry(name, ip string) {
	h := &in.hosts
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.entries == nil {
		h.entries = map[string]string{}
	}
	h.entries[strings.ToLower(name)] = ip
	resolve := map[string]string{}
	for k, v := range in.sim.cfg.Resolve {
		resolve[strings.ToLower(k)] = v
	}
	maps.Copy(resolve, h.entries)
	h.client = newBlobClient(in.sim.cfg, resolve)
}

// blobClient is the blob client of this instance's machine.
func (in *Instance) blobClient() *urlio.Client {
	in.hosts.mu.Lock()
	defer in.hosts.mu.Unlock()
	if in.hosts.client != nil {
		return in.hosts.client
	}
	return in.sim.blob
}

// newBlobClient is SQL Server's blob client on a host that resolves names with resolve.
func newBlobClient(cfg Config, resolve map[string]string) *urlio.Client {
	return urlio.NewClient(urlio.Config{RootCAs: cfg.TrustedRoots, Resolve: resolve, Forward: cfg.Forward,
		UserAgent: "SQLSIM/16.0 (BackupToUrl)"})
}
