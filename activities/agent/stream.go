package agent

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"
	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/agent/datapath"
	"github.com/sqlvault/sqlvault/internal/agent/datapath/vdipath"
	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/metrics"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// stripeSink adapts a vault stripe writer to a data path (datapath.StripeSink): the blocks
// SQL Server writes to a device become sealed blocks in the vault.
// The bytes it receives and commits count toward the stream's metrics (m; nil: none).
type stripeSink struct {
	w    *vault.StripeWriter
	m    *metrics.Stream
	mu   sync.Mutex
	info *vault.StripeInfo
}

func (s *stripeSink) PutBlock(ctx context.Context, id string, data []byte) error {
	s.m.Read(len(data))
	return s.w.PutBlock(ctx, id, data)
}

func (s *stripeSink) Commit(ctx context.Context, ids []string) error {
	info, err := s.w.Commit(ctx, ids)
	if err != nil {
		return err
	}
	s.m.Stored(info.StoredBytes)
	s.mu.Lock()
	s.info = &info
	s.mu.Unlock()
	return nil
}

func (s *stripeSink) committed() *vault.StripeInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

// StreamBackup runs BACKUP to the devices of the instance's data path (TO URL against this
// agent's endpoint, package urlpath, or TO VIRTUAL_DEVICE, package vdipath), so SQL Server's
// stream goes block by block through compression and encryption into the vault, and reports SQL
// Server's record of the backup with the stripes it wrote. Progress is heartbeated; a
// cancelled heartbeat context cancels the statement (ATTENTION), and SQL Server stops.
func (a *Agent) StreamBackup(ctx context.Context, in protocol.StreamBackupInput) (protocol.StreamBackupResult, error) {
	m := a.Metrics.StartStream(metrics.DirectionBackup, string(in.Type))
	res, err := a.streamBackup(ctx, in, m)
	m.End(outcome(ctx, err))
	return res, err
}

// outcome is a stream's end as a metric label: cancelled when its context ended (the
// workflow cancelled it, or the worker is stopping), else success or failure.
func outcome(ctx context.Context, err error) string {
	switch {
	case err == nil:
		return protocol.OutcomeSuccess
	case ctx.Err() != nil:
		return protocol.OutcomeCancelled
	}
	return protocol.OutcomeFailure
}

func (a *Agent) streamBackup(ctx context.Context, in protocol.StreamBackupInput, stream *metrics.Stream) (protocol.StreamBackupResult, error) {
	var res protocol.StreamBackupResult
	log := a.logger().With(zap.String("database", in.Database), zap.String("point", in.PointID))
	conn, err := a.instance(in.Instance)
	if err != nil {
		return res, err
	}
	if err := a.checkBackupItem(ctx, conn, in); err != nil {
		return res, err
	}
	attempt := activity.GetInfo(ctx).Attempt
	lane := in.ItemID + "/" + in.Type.Lane()
	if !a.lock(lane) {
		return res, protocol.RetryableError(protocol.ErrBackupInProgress, nil,
			"another %s backup of %s is running on this agent; this one will retry", in.Type.Lane(), in.Database)
	}
	defer a.unlock(lane)
	defer a.Memory.Hold(in.Stripes)()
	repo, stepKeys, err := a.vaultFor(ctx, in.Grant, protocol.GrantBackup, in.ItemID, []string{in.PointID})
	if err != nil {
		return res, err
	}

	// A retry first looks for an earlier attempt that SQL Server completed: its stripes may
	// be whole in the vault even though the agent died before reporting them. Taking a new
	// log backup instead would leave the earlier one's records out of the chain.
	if attempt > 1 {
		if adopted, ok, err := a.adopt(ctx, conn, repo, in, attempt); err != nil {
			return res, err
		} else if ok {
			log.Info("adopted a backup an earlier attempt completed", zap.Int32("attempt", adopted.Attempt))
			return adopted, nil
		}
	}

	path, err := a.dataPath(in.Instance)
	if err != nil {
		return res, err
	}
	key, err := stepKeys.Active(ctx)
	if err != nil {
		return res, keyError(err, "seal the backup of "+in.Database)
	}
	byDevice := map[string]*stripeSink{}
	devices := make([]string, in.Stripes)
	stripes := make([]datapath.BackupStripe, in.Stripes)
	for n := 1; n <= in.Stripes; n++ {
		dev := deviceName(in.PointID, attempt, n)
		s := &stripeSink{m: stream, w: repo.NewStripeWriter(vault.DataBlob(in.ItemID, in.PointID, int(attempt), n), key,
			vault.StripeWriterOptions{Compress: in.Compression, BlocksInFlight: a.BlocksInFlight, InFlight: a.Metrics.InFlight()})}
		defer s.w.Close() // after the session closes (deferred below): no put outlives the stream
		byDevice[dev], devices[n-1] = s, dev
		stripes[n-1] = datapath.BackupStripe{Name: dev, Sink: s}
	}
	sess, err := path.OpenBackup(ctx, conn, stripes)
	if err != nil {
		return res, setupError(err, in.Database)
	}
	defer sess.Close()

	targets := sess.Devices()
	kind := map[protocol.BackupType]sqlserver.BackupKind{protocol.Full: sqlserver.Full, protocol.Differential: sqlserver.Differential,
		protocol.Log: sqlserver.Log, protocol.CopyOnlyFull: sqlserver.CopyOnlyFull}[in.Type]
	q, args := sqlserver.BackupCommand{Database: in.Database, Kind: kind, URLs: targets, DeviceType: sess.DeviceType(), MaxTransferSize: maxTransferSize,
		BlockSize: ioBlockSize, Stats: statsPercentEvery, NoRecovery: in.TailLog}.Statement()

	err = a.runWithProgress(ctx, conn, q, args, func(pct int) protocol.StreamProgress {
		p := sess.Progress()
		var stored int64
		for _, s := range byDevice {
			_, st, _ := s.w.Stats()
			stored += st
		}
		return protocol.StreamProgress{Percent: pct, Bytes: p.Bytes, Blocks: int(p.Blocks), Stored: stored}
	})
	if err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		if protocol.ErrorType(err) == protocol.ErrBackupStalled {
			return res, err
		}
		if serr := sess.Err(); serr != nil {
			// SQL Server only saw a failed write; the real cause is on our side.
			return res, pathError(serr, "writing to")
		}
		return res, sqlError(err, in.Database)
	}
	// The path's work after SQL Server stopped writing (VDI: every device closed, every
	// stripe committed) before msdb and the commits are read.
	if err := sess.Finish(ctx); err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		return res, pathError(err, "writing to")
	}
	bs, err := conn.BackupSetByDevice(ctx, targets[0])
	if err != nil {
		return res, sqlError(err, in.Database)
	}
	if bs == nil {
		return res, protocol.RetryableError(protocol.ErrBackupFailed, nil, "SQL Server reported success but msdb has no backup set for %s", targets[0])
	}
	written := make([]protocol.Stripe, 0, len(devices))
	for _, d := range devices {
		info := byDevice[d].committed()
		if info == nil {
			return res, protocol.RetryableError(protocol.ErrBackupFailed, nil, "SQL Server finished without committing stripe %s", d)
		}
		written = append(written, stripeOf(*info))
	}
	return protocol.StreamBackupResult{BackupSet: backupSetOf(bs), Stripes: written, KeyID: key.ID(),
		Compression: compressionName(in.Compression), Attempt: attempt, DataPath: string(path.Kind())}, nil
}

// adopt returns the result of an earlier attempt that SQL Server completed and whose
// stripes are committed in the vault. The earlier attempt may have run on either data path
// (the instance's dataPath may have changed since): msdb names its first device by a URL
// ending in "/<device>" or a virtual device ending in "_<device>" (vdipath.DeviceSuffix;
// the set's token before it differs per attempt), and nothing else ends so.
func (a *Agent) adopt(ctx context.Context, conn *sqlserver.Conn, repo *vault.Repository, in protocol.StreamBackupInput, attempt int32) (protocol.StreamBackupResult, bool, error) {
	for k := attempt - 1; k >= 1; k-- {
		dev := deviceName(in.PointID, k, 1)
		var bs *sqlserver.BackupSet
		var kind datapath.Kind
		for _, by := range []struct {
			suffix string
			kind   datapath.Kind
		}{{"/" + dev, datapath.URL}, {vdipath.DeviceSuffix(dev), datapath.VDI}} {
			found, err := conn.BackupSetByDeviceSuffix(ctx, by.suffix)
			if err != nil {
				return protocol.StreamBackupResult{}, false, sqlError(err, in.Database)
			}
			if found != nil {
				bs, kind = found, by.kind
				break
			}
		}
		if bs == nil {
			continue
		}
		var stripes []protocol.Stripe
		for n := 1; n <= bs.Families; n++ {
			info, err := repo.StripeInfo(ctx, vault.DataBlob(in.ItemID, in.PointID, int(k), n))
			if err != nil {
				// SQL Server finished but the stripe did not reach the vault whole: this
				// attempt's backup is unusable; take a new one.
				a.logger().Warn("earlier attempt's stripe is not in the vault", zap.Int32("attempt", k), zap.Error(err))
				stripes = nil
				break
			}
			stripes = append(stripes, stripeOf(info))
		}
		if stripes == nil {
			continue
		}
		// The key those stripes were sealed with: a key rotation since may have made
		// another one active.
		keyID, err := repo.StripeKeyID(ctx, vault.DataBlob(in.ItemID, in.PointID, int(k), 1))
		if err != nil {
			a.logger().Warn("earlier attempt's stripe index names no key", zap.Int32("attempt", k), zap.Error(err))
			continue
		}
		return protocol.StreamBackupResult{BackupSet: backupSetOf(bs), Stripes: stripes, KeyID: keyID,
			Compression: compressionName(in.Compression), Attempt: k, Adopted: true, DataPath: string(kind)}, true, nil
	}
	return protocol.StreamBackupResult{}, false, nil
}

// runWithProgress runs a BACKUP or RESTORE statement while heartbeating its progress: the
// percent comes from SQL Server's STATS messages (3211), the rest from progress(percent).
// Heartbeats are also how a cancelled workflow reaches the statement (ATTENTION), so they go
// on while the stream makes progress; when it stops (stallWatch: no bytes and no progress
// SQL Server reports, for StallAfter), the statement is cancelled and the attempt fails with
// BackupStalled, so the activity retries and the workflow ends instead of holding its lane
// (and every skipped schedule run) for the 24 hours of its StartToClose.
func (a *Agent) runWithProgress(ctx context.Context, conn *sqlserver.Conn, q string, args []any, progress func(percent int) protocol.StreamProgress) error {
	var percent atomic.Int64
	var spid atomic.Int32
	spid.Store(-1)
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	watch := newStallWatch(a.StallAfter, a.StallAfterBusy, time.Now())
	var mu sync.Mutex // beat runs on the ticker and on STATS messages
	var stalled error
	beat := func() {
		mu.Lock()
		defer mu.Unlock()
		if stalled != nil {
			return
		}
		// The stall watch judges STATS messages only (SQL Server's percent_complete is
		// its own, bounded, probe); the heartbeat shows the better of the two.
		p := progress(int(percent.Load()))
		stuck, idle := watch.observe(time.Now(), p.Bytes, p.Percent, func() (float64, bool) {
			id := spid.Load()
			if id < 0 {
				return 0, false
			}
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			pct, ok, err := conn.RequestPercent(pctx, int16(id))
			return pct, ok && err == nil
		})
		if stuck {
			stalled = protocol.RetryableError(protocol.ErrBackupStalled, nil,
				"no bytes moved between SQL Server and the vault for %s (%d bytes so far, %d%%), and SQL Server reported no progress: cancelled this attempt; it is retried",
				idle.Round(time.Second), p.Bytes, p.Percent)
			a.logger().Warn("stream stalled; cancelling the statement", zap.Duration("idle", idle), zap.Int64("bytes", p.Bytes))
			cancelRun()
			return
		}
		p.Percent = currentPercent(ctx, conn, &spid, &percent)
		activity.RecordHeartbeat(ctx, p)
	}
	stop := a.heartbeatLoop(ctx, beat)
	defer stop()
	err := conn.RunOnSession(runCtx, q, args, func(id int16) { spid.Store(int32(id)) }, func(m sqlserver.Message) {
		if m.Number == 3211 {
			var pct int
			if _, err := fmt.Sscanf(m.Text, "%d percent", &pct); err == nil {
				percent.Store(int64(pct))
				beat()
			}
		}
	})
	mu.Lock()
	defer mu.Unlock()
	if stalled != nil && ctx.Err() == nil {
		return stalled
	}
	return err
}

// currentPercent is the statement's progress for the heartbeat: the last STATS message's
// percent, or SQL Server's own percent_complete of the request when that is further. STATS
// messages come in steps (every statsPercentEvery) and a client may read them late, so a
// heartbeat from them alone showed 5% for most of a backup.
func currentPercent(ctx context.Context, conn *sqlserver.Conn, spid *atomic.Int32, stats *atomic.Int64) int {
	pct := int(stats.Load())
	id := spid.Load()
	if id < 0 || pct >= 100 {
		return pct
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if pc, ok, err := conn.RequestPercent(qctx, int16(id)); err == nil && ok && int(pc) > pct {
		pct = min(int(pc), 100)
	}
	return pct
}

func (a *Agent) heartbeatLoop(ctx context.Context, beat func()) (stop func()) {
	every := a.HeartbeatEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				beat()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func compressionName(on bool) string {
	if on {
		return "zstd"
	}
	return "none"
}

func stripeOf(s vault.StripeInfo) protocol.Stripe {
	return protocol.Stripe{Blob: s.Blob, Index: s.Index, IndexSHA256: s.IndexSHA256, PlainBytes: s.PlainBytes,
		StoredBytes: s.StoredBytes, Blocks: s.Blocks, Digest: s.Digest}
}

func backupSetOf(b *sqlserver.BackupSet) protocol.BackupSet {
	return protocol.BackupSet{Type: b.Type, CopyOnly: b.CopyOnly, FirstLSN: b.FirstLSN, LastLSN: b.LastLSN,
		CheckpointLSN: b.CheckpointLSN, DatabaseBackupLSN: b.DatabaseBackupLSN, DifferentialBaseLSN: b.DifferentialBaseLSN,
		DifferentialBaseGUID: b.DifferentialBaseGUID, BackupSetGUID: b.BackupSetGUID, DatabaseGUID: b.DatabaseGUID,
		FamilyGUID: b.FamilyGUID, Start: b.Start, Finish: b.Finish, SizeBytes: b.SizeBytes, HasChecksums: b.HasChecksums,
		RecoveryModel: b.RecoveryModel, FirstForkGUID: b.FirstForkGUID, ForkGUID: b.ForkGUID, ForkPointLSN: b.ForkPointLSN,
		ForkTime: b.ForkTime, UTCOffsetMinutes: &b.UTCOffsetMinutes}
}
