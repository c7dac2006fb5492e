package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/activities/agent"
	"github.com/sqlvault/sqlvault/activities/control"

	"github.com/sqlvault/sqlvault/internal/agent/datapath"
	"github.com/sqlvault/sqlvault/internal/agent/datapath/urlpath"
	"github.com/sqlvault/sqlvault/internal/agent/datapath/vdipath"
	"github.com/sqlvault/sqlvault/internal/agent/endpoint"
	"github.com/sqlvault/sqlvault/internal/agent/memlimit"
	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/agent/vdi/linuxvdi"
	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/temporalx"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// AgentConfig is one agent: its endpoint, its SQL Server instance and its vault.
type AgentConfig struct {
	Host     string // endpoint DNS name, in port-less URLs (the simulator's hosts file maps it to Listen's IP)
	Listen   string // endpoint bind address, ip:443; default endpoint.DefaultListen
	CertFile string
	KeyFile  string
	Instance string // @@SERVERNAME of the instance it manages
	DSN      string // go-mssqldb DSN of that instance
	Store    vault.Store
	Key      *blockcrypt.Key
	Log      *zap.Logger
	Memory   *memlimit.Budget // the agent's soft memory limit (nil: none)
	// VDILib is the libsqlvdi.so the agent's VDI path loads (the stand-in built by
	// vdistandin.Build; its sockets are in $SQLSIM_VDI_DIR): requests then choose their data
	// path (DataPath). "": URL only.
	VDILib string
}

// Agent runs the agent's real activities (agent.Agent, control.Control) outside a
// Temporal worker, through the SDK's activity test environment, so a benchmark drives
// exactly the product's data path without a server. Custom backups (bench-only sinks) use
// the same endpoint, connection and BACKUP statement as activities.StreamBackup.
type Agent struct {
	Cfg  AgentConfig
	EP   *endpoint.Server
	Conn *sqlserver.Conn
	Repo *vault.Repository
	Act  *agent.Agent
	Ctl  *control.Control
	env  *testsuite.TestActivityEnvironment
}

// StartAgent starts the endpoint on cfg.Listen and connects to the instance.
func StartAgent(cfg AgentConfig) (*Agent, error) {
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	// With the key, as the worker's: the control side authenticates the manifests it commits.
	repo := vault.NewRepository(cfg.Store, cfg.Log).WithKeys(vault.Keys{cfg.Key})
	// The worker's own wiring (agent.New): endpoint, connection, activities.
	act, err := agent.New(agent.Options{VM: "BENCHVM", Vault: repo, Key: cfg.Key, Log: cfg.Log,
		HeartbeatEvery: time.Second, Memory: cfg.Memory,
		Endpoint:  endpoint.Options{Host: cfg.Host, Listen: cfg.Listen, CertFile: cfg.CertFile, KeyFile: cfg.KeyFile, Logger: cfg.Log},
		Instances: []agent.InstanceDSN{{Name: cfg.Instance, DSN: cfg.DSN}}})
	if err != nil {
		return nil, err
	}
	if cfg.VDILib != "" {
		// The instance stays on the URL path (its configured default); each request picks
		// its path (usePath). The platform is what agent.New would open for a vdi instance.
		p, err := linuxvdi.Open(cfg.VDILib)
		if err != nil {
			act.Close()
			return nil, fmt.Errorf("bench: VDI library %s: %w", cfg.VDILib, err)
		}
		act.VDI = p
	}
	a := &Agent{Cfg: cfg, EP: act.Endpoint, Conn: act.Instances[0].Conn, Repo: repo, Act: act}
	a.Ctl = &control.Control{Vault: repo, Log: cfg.Log}
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(temporalx.NewZapLogger(zap.NewNop()))
	a.env = suite.NewTestActivityEnvironment()
	a.env.SetTestTimeout(time.Hour)
	a.env.RegisterActivityWithOptions(a.Act.StreamBackup, activity.RegisterOptions{Name: protocol.ActivityStreamBackup})
	a.env.RegisterActivityWithOptions(a.Act.RestoreStep, activity.RegisterOptions{Name: protocol.ActivityRestoreStep})
	a.env.RegisterActivityWithOptions(a.Act.RecoverDatabase, activity.RegisterOptions{Name: protocol.ActivityRecoverDatabase})
	return a, nil
}

// Close stops the endpoint and the connection.
func (a *Agent) Close() {
	a.Act.Close()
}

// BackupRequest is one backup. The product path (activities.StreamBackup, then the control
// side's CommitRecoveryPoint) is used unless NoEncrypt asks for the bench-only sealer, or
// Custom forces the hand-wired path. InFlight is the blocks in flight per stripe (0: the
// product's default). DataPath is the product's data path: "" or "url" (BACKUP … TO URL
// through the endpoint), "vdi" (BACKUP … TO VIRTUAL_DEVICE; the agent needs
// AgentConfig.VDILib); the hand-wired paths are URL only.
type BackupRequest struct {
	DataPath  string              `json:"dataPath,omitempty"`
	Database  string              `json:"database"`
	Type      protocol.BackupType `json:"type"`
	Stripes   int                 `json:"stripes"`
	Compress  bool                `json:"compress"`
	NoEncrypt bool                `json:"noEncrypt,omitempty"`
	InFlight  int                 `json:"inFlight,omitempty"`
	Custom    bool                `json:"custom,omitempty"`
	NoCommit  bool                `json:"noCommit,omitempty"` // skip the manifest (discarding stores commit fine too)
}

// BackupResult is what a backup moved.
type BackupResult struct {
	ItemID      string             `json:"itemId"`
	PointID     string             `json:"pointId"`
	Path        string             `json:"path"`     // "product" or "custom"
	DataPath    string             `json:"dataPath"` // "url" or "vdi", as the stream reported it
	PlainBytes  int64              `json:"plainBytes"`
	StoredBytes int64              `json:"storedBytes"`
	Stripes     []vault.StripeInfo `json:"stripes"`
	Seconds     float64            `json:"seconds"`
}

// Digests are the stripes' plaintext digests in order.
func (r BackupResult) Digests() []string {
	out := make([]string, len(r.Stripes))
	for i, s := range r.Stripes {
		out[i] = s.Digest
	}
	return out
}

func (r BackupRequest) product() bool { return !r.Custom && !r.NoEncrypt }

// blocksInFlight is the request's blocks in flight per stripe: the product's default
// (config.DefaultBlocksInFlight) unless the request sets one.
func (r BackupRequest) blocksInFlight() int {
	if r.InFlight > 0 {
		return r.InFlight
	}
	return config.DefaultBlocksInFlight
}

// Backup runs one backup of r.Database.
func (a *Agent) Backup(ctx context.Context, r BackupRequest) (BackupResult, error) {
	if r.Stripes == 0 {
		r.Stripes = 1
	}
	if r.Type == "" {
		r.Type = protocol.Full
	}
	item := vault.ItemID(a.Cfg.Instance, r.Database)
	point := vault.NewPointID(time.Now(), r.Type.Kind(), "")
	start := time.Now()
	var stream protocol.StreamBackupResult
	var err error
	res := BackupResult{ItemID: item, PointID: point}
	if r.product() {
		res.Path = "product"
		if err := a.usePath(r.DataPath); err != nil {
			return res, err
		}
		stream, err = a.streamProduct(r, item, point)
	} else {
		res.Path = "custom"
		if kind, _ := datapath.ParseKind(r.DataPath); kind != datapath.URL {
			return res, fmt.Errorf("bench: the hand-wired backups (no encryption, custom) run on the URL path only, not %q", r.DataPath)
		}
		stream, err = a.streamCustom(ctx, r, item, point)
	}
	res.DataPath = stream.DataPath
	res.Seconds = time.Since(start).Seconds()
	if err != nil {
		return res, err
	}
	for _, s := range stream.Stripes {
		res.Stripes = append(res.Stripes, vault.StripeInfo{Blob: s.Blob, Index: s.Index, IndexSHA256: s.IndexSHA256,
			PlainBytes: s.PlainBytes, StoredBytes: s.StoredBytes, Blocks: s.Blocks, Digest: s.Digest})
		res.PlainBytes += s.PlainBytes
		res.StoredBytes += s.StoredBytes
	}
	if res.DataPath == "" {
		res.DataPath = string(datapath.URL) // the hand-wired path
	}
	if r.NoCommit || r.NoEncrypt {
		return res, nil
	}
	_, err = a.Ctl.CommitRecoveryPoint(ctx, protocol.CommitInput{ItemID: item, PointID: point, VM: a.Act.VM,
		Instance: a.Cfg.Instance, ServerName: a.Cfg.Instance, ProductVersion: "16.0", Edition: "bench",
		Database: r.Database, Type: r.Type, Stream: stream, WorkflowID: "bench-" + point, RunID: "bench"})
	return res, err
}

// usePath points the agent's instance at the data path a request asks for: the activities
// read it per stream (an instance's agent.instances[].dataPath), and a bench agent runs one
// operation at a time.
func (a *Agent) usePath(name string) error {
	kind, err := datapath.ParseKind(name)
	if err != nil {
		return err
	}
	if kind == datapath.VDI && a.Act.VDI == nil {
		return fmt.Errorf("bench: the VDI path was asked for but this agent has no VDI library (AgentConfig.VDILib)")
	}
	a.Act.Instances[0].DataPath = kind
	return nil
}

func (a *Agent) streamProduct(r BackupRequest, item, point string) (protocol.StreamBackupResult, error) {
	var out protocol.StreamBackupResult
	a.Act.BlocksInFlight = r.blocksInFlight() // backups of one bench agent run one at a time
	val, err := a.env.ExecuteActivity(protocol.ActivityStreamBackup, protocol.StreamBackupInput{
		Instance: a.Cfg.Instance, Database: r.Database, Type: r.Type, ItemID: item, PointID: point,
		Stripes: r.Stripes, Compression: r.Compress})
	if err != nil {
		return out, err
	}
	err = val.Get(&out)
	return out, err
}

// Statement constants as activities/agent.go sets them.
const (
	maxTransferSize = 4 << 20
	ioBlockSize     = 65536
	statsEvery      = 5
)

// streamCustom is activities.StreamBackup's wiring with bench sinks.
func (a *Agent) streamCustom(ctx context.Context, r BackupRequest, item, point string) (protocol.StreamBackupResult, error) {
	var out protocol.StreamBackupResult
	sinks := map[string]endpoint.BackupSink{}
	ordered := make([]StripeSink, r.Stripes)
	devices := make([]string, r.Stripes)
	for n := 1; n <= r.Stripes; n++ {
		blob := vault.DataBlob(item, point, 1, n)
		var s StripeSink
		if r.NoEncrypt {
			s = &NoCryptWriter{Store: a.Repo.Store(), Blob: blob, Compress: r.Compress}
			// The bench-only sealer gets the product's blocks in flight the same way the
			// product does them, so the two variants differ only by encryption.
			if n := r.blocksInFlight(); n > 1 {
				f := NewInFlightSink(s, n)
				defer f.Close()
				s = f
			}
		} else {
			w := a.Repo.NewStripeWriter(blob, a.Cfg.Key, vault.StripeWriterOptions{Compress: r.Compress, BlocksInFlight: r.blocksInFlight()})
			defer w.Close()
			s = &WriterSink{W: w}
		}
		dev := fmt.Sprintf("%s-a1-s%d.bak", point, n)
		sinks[dev], ordered[n-1], devices[n-1] = s, s, dev
	}
	sess, err := a.EP.OpenBackup(sinks, time.Hour)
	if err != nil {
		return out, err
	}
	defer sess.Close()
	if err := a.Conn.CreateCredential(ctx, sess.ContainerURL(), sess.SAS()); err != nil {
		return out, err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = a.Conn.DropCredential(dctx, sess.ContainerURL())
	}()
	urls := make([]string, len(devices))
	for i, d := range devices {
		urls[i] = sess.URL(d)
	}
	kind := map[protocol.BackupType]sqlserver.BackupKind{protocol.Full: sqlserver.Full, protocol.Differential: sqlserver.Differential,
		protocol.Log: sqlserver.Log, protocol.CopyOnlyFull: sqlserver.CopyOnlyFull}[r.Type]
	q, args := sqlserver.BackupCommand{Database: r.Database, Kind: kind, URLs: urls, MaxTransferSize: maxTransferSize,
		BlockSize: ioBlockSize, Stats: statsEvery}.Statement()
	if err := a.Conn.Run(ctx, q, args, nil); err != nil {
		if serr := sess.Err(); serr != nil {
			return out, fmt.Errorf("%w (sink: %v)", err, serr)
		}
		return out, err
	}
	bs, err := a.Conn.BackupSetByDevice(ctx, urls[0])
	if err != nil {
		return out, err
	}
	if bs == nil {
		return out, errors.New("bench: no backup set in msdb")
	}
	out = protocol.StreamBackupResult{BackupSet: protocol.BackupSet{Type: bs.Type, CopyOnly: bs.CopyOnly, FirstLSN: bs.FirstLSN,
		LastLSN: bs.LastLSN, CheckpointLSN: bs.CheckpointLSN, DatabaseBackupLSN: bs.DatabaseBackupLSN,
		DifferentialBaseLSN: bs.DifferentialBaseLSN, DifferentialBaseGUID: bs.DifferentialBaseGUID, BackupSetGUID: bs.BackupSetGUID,
		DatabaseGUID: bs.DatabaseGUID, FamilyGUID: bs.FamilyGUID, Start: bs.Start, Finish: bs.Finish, SizeBytes: bs.SizeBytes,
		HasChecksums: bs.HasChecksums, RecoveryModel: bs.RecoveryModel},
		KeyID: a.Cfg.Key.ID(), Compression: map[bool]string{true: "zstd", false: "none"}[r.Compress], Attempt: 1}
	for _, s := range ordered {
		info := s.Info()
		if info.Blob == "" {
			return out, fmt.Errorf("bench: a stripe was not committed")
		}
		out.Stripes = append(out.Stripes, protocol.Stripe{Blob: info.Blob, Index: info.Index, IndexSHA256: info.IndexSHA256,
			PlainBytes: info.PlainBytes, StoredBytes: info.StoredBytes, Blocks: info.Blocks, Digest: info.Digest})
	}
	return out, nil
}

// RestoreRequest restores one recovery point (a full) as Target, through the product's
// RestoreStep and RecoverDatabase activities.
type RestoreRequest struct {
	ItemID  string `json:"itemId"`
	PointID string `json:"pointId"`
	Target  string `json:"target"`
	// ReadAhead != 0 restores hand-wired like activities.RestoreStep, with the stripe
	// readers' read-ahead set to ReadAhead blocks (-1: none) instead of the product's
	// default (vault.DefaultReadAhead), which ReadAhead == 0 runs through the activity.
	ReadAhead int `json:"readAhead,omitempty"`
	// DataPath is the product's data path, as BackupRequest.DataPath ("" or "url", "vdi");
	// the hand-wired restore (ReadAhead != 0) is URL only.
	DataPath string `json:"dataPath,omitempty"`
}

// Restore runs RESTORE … FROM URL (or FROM VIRTUAL_DEVICE) through a restore session of the
// data path over the vault.
func (a *Agent) Restore(ctx context.Context, r RestoreRequest) (float64, error) {
	start := time.Now()
	m, err := a.Repo.Manifest(ctx, r.ItemID, r.PointID)
	if err != nil {
		return 0, err
	}
	if r.ReadAhead != 0 {
		if kind, _ := datapath.ParseKind(r.DataPath); kind != datapath.URL {
			return 0, fmt.Errorf("bench: the hand-wired restore (read-ahead) runs on the URL path only, not %q", r.DataPath)
		}
		err := a.restoreCustom(ctx, r, m)
		return time.Since(start).Seconds(), err
	}
	if err := a.usePath(r.DataPath); err != nil {
		return 0, err
	}
	in := protocol.RestoreStepInput{TargetInstance: a.Cfg.Instance, TargetDatabase: r.Target, ItemID: r.ItemID,
		Step: protocol.RestoreStepPlan{PointID: r.PointID, Type: m.Backup.Type, FirstLSN: string(m.Backup.FirstLSN),
			LastLSN: string(m.Backup.LastLSN)}, Replace: true, Relocate: true}
	if _, err := a.env.ExecuteActivity(protocol.ActivityRestoreStep, in); err != nil {
		return time.Since(start).Seconds(), err
	}
	val, err := a.env.ExecuteActivity(protocol.ActivityRecoverDatabase, protocol.RecoverInput{TargetInstance: a.Cfg.Instance, TargetDatabase: r.Target})
	if err != nil {
		return time.Since(start).Seconds(), err
	}
	var state string
	if err := val.Get(&state); err != nil {
		return 0, err
	}
	if !strings.EqualFold(state, "ONLINE") {
		return 0, fmt.Errorf("bench: restored database is %s", state)
	}
	return time.Since(start).Seconds(), nil
}

// FileList runs only the first statement of a relocating restore step, RESTORE
// FILELISTONLY, through a restore session of the request's data path (urlpath or vdipath,
// as activities.RestoreStep opens it) over the point's stripes, so its cost can be told
// apart from the RESTORE's: the simulator reads a virtual device to its end even for
// FILELISTONLY (internal/sqlsim/vdi.go, readVDIStripes), where the URL path reads the
// media's head and tail.
func (a *Agent) FileList(ctx context.Context, r RestoreRequest) error {
	m, err := a.Repo.Manifest(ctx, r.ItemID, r.PointID)
	if err != nil {
		return err
	}
	kind, err := datapath.ParseKind(r.DataPath)
	if err != nil {
		return err
	}
	var path datapath.Path = urlpath.New(a.EP, a.Cfg.Log)
	if kind == datapath.VDI {
		if a.Act.VDI == nil {
			return fmt.Errorf("bench: the VDI path was asked for but this agent has no VDI library (AgentConfig.VDILib)")
		}
		path = vdipath.New(a.Act.VDI, vdipath.Options{Log: a.Cfg.Log})
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stripes []datapath.RestoreStripe
	for i, s := range m.Stripes {
		sr, err := a.Repo.OpenStripe(ctx, s, a.Cfg.Key)
		if err != nil {
			return err
		}
		defer sr.Close()
		stripes = append(stripes, datapath.RestoreStripe{Name: fmt.Sprintf("fl-%s-s%d.bak", m.PointID, i+1), Source: StripeSource{R: sr}})
	}
	sess, err := path.OpenRestore(ctx, a.Conn, stripes)
	if err != nil {
		return err
	}
	defer sess.Close()
	files, err := sess.FileList(ctx)
	if err != nil {
		return fmt.Errorf("%w (session: %v)", err, sess.Err())
	}
	if len(files) == 0 {
		return errors.New("bench: FILELISTONLY listed no file")
	}
	return nil
}

// restoreCustom is activities.RestoreStep + RecoverDatabase hand-wired, with the given
// read-ahead.
func (a *Agent) restoreCustom(ctx context.Context, r RestoreRequest, m *vault.Manifest) error {
	sources := map[string]endpoint.RestoreSource{}
	var names []string
	for i, s := range m.Stripes {
		sr, err := a.Repo.OpenStripe(ctx, s, a.Cfg.Key)
		if err != nil {
			return err
		}
		defer sr.Close()
		sr.SetReadAhead(max(r.ReadAhead, 0))
		name := fmt.Sprintf("%s-s%d.bak", m.PointID, i+1)
		sources[name] = StripeSource{R: sr}
		names = append(names, name)
	}
	sess, err := a.EP.OpenRestore(sources, time.Hour)
	if err != nil {
		return err
	}
	defer sess.Close()
	if err := a.Conn.CreateCredential(ctx, sess.ContainerURL(), sess.SAS()); err != nil {
		return err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = a.Conn.DropCredential(dctx, sess.ContainerURL())
	}()
	urls := make([]string, len(names))
	for i, n := range names {
		urls[i] = sess.URL(n)
	}
	files, err := a.Conn.FileList(ctx, urls)
	if err != nil {
		return err
	}
	dataPath, logPath, err := a.Conn.DefaultPaths(ctx)
	if err != nil {
		return err
	}
	var moves []sqlserver.Move
	for i, f := range files {
		dir, ext := dataPath, ".mdf"
		if f.Type == "L" {
			dir, ext = logPath, ".ldf"
		}
		moves = append(moves, sqlserver.Move{Logical: f.Logical,
			Physical: strings.TrimRight(dir, "/\\") + "/" + fmt.Sprintf("%s_%d%s", r.Target, i, ext)})
	}
	q, args := sqlserver.RestoreCommand{Database: r.Target, URLs: urls, Moves: moves, Replace: true, Stats: statsEvery}.Statement()
	if err := a.Conn.Run(ctx, q, args, nil); err != nil {
		if serr := sess.Err(); serr != nil {
			return fmt.Errorf("%w (source: %v)", err, serr)
		}
		return err
	}
	return nil
}
