package sqlsim

import (
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/sqlsim/content"
	"github.com/sqlvault/sqlvault/internal/sqlsim/media"
	"github.com/sqlvault/sqlvault/internal/sqlsim/query"
	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
	"github.com/sqlvault/sqlvault/internal/sqlsim/tsql"
	"github.com/sqlvault/sqlvault/internal/sqlsim/urlio"
)

const maxStripes = 64

func decimalInt(n int64) sqltypes.Decimal { return sqltypes.Decimal{Unscaled: big.NewInt(n)} }

// backupOptions are the WITH options of a BACKUP statement.
type backupOptions struct {
	copyOnly, differential, compression, checksum, format, noRecovery bool
	compressionSet                                                    bool
	stats                                                             int // 0: no progress messages
	name, description                                                 any
	maxTransfer                                                       int
	blockSize                                                         int
}

// terminating wraps cause with the 3013 that ends every failed BACKUP or RESTORE.
func terminating(stmt string, causes ...error) error {
	errs := append([]error{}, causes...)
	errs = append(errs, sqlErr(3013, "%s is terminating abnormally.", stmt))
	return &multiError{errs: errs}
}

func (x *executor) evalString(e tsql.Expr) (string, error) {
	v, _, err := query.Eval(e, x.env())
	if err != nil {
		return "", err
	}
	if v == nil {
		return "", nil
	}
	if s, ok := v.(string); ok {
		return s, nil
	}
	return fmt.Sprint(displayValue(v)), nil
}

func (x *executor) evalInt(e tsql.Expr) (int64, error) {
	v, _, err := query.Eval(e, x.env())
	if err != nil {
		return 0, err
	}
	n, ok := toInt64(v)
	if !ok {
		return 0, sqlErr(102, "Incorrect syntax near '%v'.", displayValue(v))
	}
	return n, nil
}

func (x *executor) backupOptions(st *tsql.Backup) (backupOptions, error) {
	o := backupOptions{}
	for _, opt := range st.With {
		switch opt.Name {
		case "COPY_ONLY":
			o.copyOnly = true
		case "DIFFERENTIAL":
			o.differential = true
		case "COMPRESSION":
			o.compression, o.compressionSet = true, true
		case "NO_COMPRESSION":
			o.compression, o.compressionSet = false, true
		case "CHECKSUM":
			o.checksum = true
		case "NO_CHECKSUM", "INIT", "NOINIT", "SKIP", "NOSKIP", "NOUNLOAD", "UNLOAD", "REWIND", "NOREWIND",
			"CONTINUE_AFTER_ERROR", "STOP_ON_ERROR", "NO_TRUNCATE", "BUFFERCOUNT":
			// Accepted; INIT/SKIP have no effect on URL devices (SQL Server ignores them there).
		case "BLOCKSIZE":
			n, err := x.blockSizeOption(opt.Value)
			if err != nil {
				return o, err
			}
			o.blockSize = n
		case "FORMAT":
			o.format = true
		case "NOFORMAT":
			o.format = false
		case "NORECOVERY":
			o.noRecovery = true
		case "STATS":
			o.stats = 10
			if opt.Value != nil {
				n, err := x.evalInt(opt.Value)
				if err != nil {
					return o, err
				}
				o.stats = int(n)
			}
		case "NAME", "DESCRIPTION":
			s, err := x.evalString(opt.Value)
			if err != nil {
				return o, err
			}
			if opt.Name == "NAME" {
				o.name = s
			} else {
				o.description = s
			}
		case "MAXTRANSFERSIZE":
			n, err := x.maxTransferOption(opt.Value)
			if err != nil {
				return o, err
			}
			o.maxTransfer = n
		case "ENCRYPTION", "CREDENTIAL", "MEDIANAME", "MEDIADESCRIPTION", "RETAINDAYS", "EXPIREDATE", "PASSWORD", "MEDIAPASSWORD":
			return o, &tsql.UnsupportedError{Statement: "BACKUP … WITH " + opt.Name}
		default:
			return o, sqlErr(155, "'%s' is not a recognized BACKUP option.", opt.Name)
		}
	}
	return o, nil
}

// blockSizeOption checks BLOCKSIZE: a power of two from 512 to 65536 (BACKUP's documented
// sizes). A value that is not a power of two gets 3253, one outside the range 3250: the two
// messages of Microsoft's error reference (3000-3999) that name the block size and a range.
func (x *executor) blockSizeOption(e tsql.Expr) (int, error) {
	n, err := x.evalInt(e)
	if err != nil {
		return 0, err
	}
	if n <= 0 || n&(n-1) != 0 {
		return 0, sqlErr(3253, "The block size parameter must supply a value that is a power of 2.")
	}
	if n < 512 || n > 65536 {
		return 0, sqlErr(3250, "The value '%d' is not within range for the %s parameter.", n, "BLOCKSIZE")
	}
	return int(n), nil
}

// maxTransferOption checks MAXTRANSFERSIZE: 64 KiB to 4 MiB (BACKUP's documentation), else
// 3250. Values in range that are not a multiple of 64 KiB are accepted, as SQL Server accepts
// 65537 (Microsoft's SQLCAT TDE-compression post uses it); the simulator rounds them up to
// whole 64 KiB units for its Put Blocks (an assumption: what size SQL Server then uses is
// not documented).
func (x *executor) maxTransferOption(e tsql.Expr) (int, error) {
	n, err := x.evalInt(e)
	if err != nil {
		return 0, err
	}
	if n < 65536 || n > 4194304 {
		return 0, sqlErr(3250, "The value '%d' is not within range for the %s parameter.", n, "MAXTRANSFERSIZE")
	}
	return int((n + 65535) / 65536 * 65536), nil
}

// resolveDatabaseName returns the database a BACKUP/RESTORE names, literally or by variable.
func (x *executor) resolveDatabaseName(lit, variable string) (string, error) {
	if variable == "" {
		return lit, nil
	}
	return x.evalString(&tsql.Variable{Name: variable})
}

// device is a resolved backup device: a URL with its SAS secret, a local file, or a
// virtual device (VDI).
type device struct {
	url  urlio.BlobURL
	sas  string
	file string // DISK = '…' path
	vdi  string // VIRTUAL_DEVICE = '…' name
}

// deviceType is the device's number in RESTORE HEADERONLY and msdb backupmediafamily.
func (d device) deviceType() int {
	switch {
	case d.file != "":
		return media.DeviceDisk
	case d.vdi != "":
		return media.DeviceVirtual
	}
	return media.DeviceURL
}

func (d device) name() string {
	switch {
	case d.file != "":
		return d.file
	case d.vdi != "":
		return d.vdi
	}
	return d.url.Raw
}

// resolveDevices evaluates and validates URL devices and finds their credentials. DISK
// devices are accepted only when allowDisk (RESTORE): the simulator reads backup files a
// person copied to disk but never writes backups there.
func (x *executor) resolveDevices(devs []tsql.Device, allowDisk ...bool) ([]device, error) {
	if len(devs) > maxStripes {
		return nil, sqlErr(3205, "Too many backup devices specified for backup or restore; only %d are allowed.", maxStripes)
	}
	out := make([]device, 0, len(devs))
	for _, d := range devs {
		raw, err := x.evalString(d.Value)
		if err != nil {
			return nil, err
		}
		if d.Kind == "DISK" && len(allowDisk) > 0 && allowDisk[0] {
			out = append(out, device{file: raw})
			continue
		}
		if d.Kind == "VIRTUAL_DEVICE" {
			if raw == "" {
				return nil, sqlErr(3201, "Cannot open backup device '%s'. Operating system error 0x80070002(The system cannot find the file specified.).", raw)
			}
			out = append(out, device{vdi: raw})
			continue
		}
		if d.Kind != "URL" {
			return nil, &tsql.UnsupportedError{Statement: d.Kind + " backup devices"}
		}
		u, err := urlio.ParseURL(raw)
		if errors.Is(err, urlio.ErrDeviceName) {
			// http, an IP address or a port: refused before any request (FIDELITY.md,
			// "Backup URL and endpoint address"). The text names BACKUP for RESTORE too.
			return nil, sqlErr(3078, "The file name \"%s\" is invalid as a backup device name for the specified device type. Reissue the BACKUP statement with a valid file name and device type.", raw)
		}
		if err != nil {
			return nil, sqlErr(3201, "Cannot open backup device '%s'. Operating system error 87(The parameter is incorrect.).", raw)
		}
		x.s.in.mu.Lock()
		names := make([]string, 0, len(x.s.in.credentials))
		for _, c := range x.s.in.credentials {
			names = append(names, c.name)
		}
		var cred *credential
		if n, ok := urlio.MatchCredential(u, names); ok {
			cred = x.s.in.credentials[strings.ToUpper(n)]
		}
		x.s.in.mu.Unlock()
		if cred == nil {
			// SQL Server names no credential here: the blob service answers the anonymous
			// request and the device cannot be opened.
			return nil, sqlErr(3201, "Cannot open backup device '%s'. Operating system error 50(The request is not supported.).", raw)
		}
		if !strings.EqualFold(cred.identity, "SHARED ACCESS SIGNATURE") {
			return nil, sqlErr(3201, "Cannot open backup device '%s'. Operating system error 50(The request is not supported.).", raw)
		}
		out = append(out, device{url: u, sas: strings.TrimPrefix(cred.secret, "?")})
	}
	return out, nil
}

// blobOpenError maps a blob client failure to the SQL Server error BACKUP/RESTORE reports.
func blobOpenError(raw string, err error) error {
	switch {
	case errors.Is(err, urlio.ErrBlobExists):
		return sqlErr(3271, "A nonrecoverable I/O error occurred on file \"%s:\" The file %s exists on Microsoft Azure Storage. Use WITH FORMAT to overwrite the file.", raw, raw)
	case errors.Is(err, urlio.ErrLeaseHeld):
		return sqlErr(3271, "A nonrecoverable I/O error occurred on file \"%s:\" Backup to URL received an exception from the remote endpoint. Exception Message: The remote server returned an error: (412) There is currently a lease on the blob and no lease ID was specified in the request.", raw)
	case errors.Is(err, urlio.ErrAuth):
		return sqlErr(3201, "Cannot open backup device '%s'. Operating system error 86(The specified network password is not correct.).", raw)
	case errors.Is(err, urlio.ErrNotFound):
		return sqlErr(3201, "Cannot open backup device '%s'. Operating system error 2(The system cannot find the file specified.).", raw)
	case errors.Is(err, urlio.ErrTLS):
		return sqlErr(3201, "Cannot open backup device '%s'. Operating system error 12175(A security error occurred.).", raw)
	}
	return sqlErr(3201, "Cannot open backup device '%s'. Operating system error 50(The request is not supported.).", raw)
}

// backupKind names what a BACKUP statement produces.
func backupKind(st *tsql.Backup, o backupOptions) (typ int, stmt string) {
	if st.Kind == "LOG" {
		return 2, "BACKUP LOG"
	}
	if o.differential {
		return 5, "BACKUP DATABASE"
	}
	return 1, "BACKUP DATABASE"
}

func (x *executor) backup(st *tsql.Backup) error {
	stmt := "BACKUP " + st.Kind
	if err := x.doBackup(st); err != nil {
		var me *multiError
		if errors.As(err, &me) {
			return err
		}
		if errors.Is(err, errBatchAborted) {
			return err
		}
		return terminating(stmt, err)
	}
	return nil
}

// plannedBackup is what a backup will contain, decided atomically against the database.
type plannedBackup struct {
	header  media.Header
	pages   []content.PageVersion // differential pages
	snap    *content.Snapshot     // full
	records []content.Record      // log
	total   int64                 // expected logical bytes, for STATS
	trailer media.Trailer         // filled in when the stream is complete
	// chain updates applied on success
	apply func()
}

func (x *executor) doBackup(st *tsql.Backup) error {
	in := x.s.in
	name, err := x.resolveDatabaseName(st.Database, st.DatabaseVar)
	if err != nil {
		return err
	}
	o, err := x.backupOptions(st)
	if err != nil {
		return err
	}
	typ, stmt := backupKind(st, o)
	if len(st.MirrorTo) > 0 {
		return &tsql.UnsupportedError{Statement: "BACKUP … MIRROR TO"}
	}
	in.mu.Lock()
	db, ok := in.dbs[strings.ToUpper(name)]
	in.mu.Unlock()
	if !ok {
		return sqlErr(911, "Database '%s' does not exist. Make sure that the name is entered correctly.", name)
	}
	if !in.isSysadmin(x.s.login) {
		return sqlErr(262, "%s permission denied in database '%s'.", stmt, db.Name())
	}
	if o.compression && in.cfg.Edition == Express {
		return sqlErr(1844, "%s WITH COMPRESSION is not supported on %s.", stmt, in.cfg.Edition)
	}
	devs, err := x.resolveDevices(st.To, true)
	if err != nil {
		return err
	}
	busyKey := "data"
	if typ == 2 {
		busyKey = "log"
	}
	in.mu.Lock()
	if err := x.checkBackupAllowedLocked(db, typ, o); err != nil {
		in.mu.Unlock()
		return err
	}
	if db.busy[busyKey] || db.busy["restore"] {
		in.mu.Unlock()
		return sqlErr(3023, "Backup, file manipulation operations (such as ALTER DATABASE ADD FILE) and encryption changes on a database must be serialized. Reissue the statement after the current backup or file manipulation operation is completed.")
	}
	db.busy[busyKey] = true
	in.mu.Unlock()
	defer func() {
		in.mu.Lock()
		delete(db.busy, busyKey)
		in.mu.Unlock()
	}()

	plan, err := x.planBackup(db, typ, o, devs)
	if err != nil {
		return err
	}
	start := time.Now()
	req := &request{command: stmt, dbID: db.id, start: in.sim.Now(), total: plan.total}
	in.mu.Lock()
	in.requests[x.s.id] = req
	in.mu.Unlock()
	defer func() {
		in.mu.Lock()
		delete(in.requests, x.s.id)
		in.mu.Unlock()
	}()

	written, err := x.streamBackup(plan, o, devs, req)
	if err != nil {
		return err
	}
	plan.apply()
	finish := in.sim.Now()
	in.recordBackup(db, plan.header, plan.trailer, devs, finish, written, o.compression)
	// SQL Server reports pages per file, then the summary.
	pages := plan.trailer.PageCount
	if typ == 2 {
		pages = (plan.trailer.BackupSize + content.PageSize - 1) / content.PageSize
		x.info(4035, "Processed %d pages for database '%s', file '%s' on file 1.", pages, db.Name(), logicalLog(db))
	} else {
		x.info(4035, "Processed %d pages for database '%s', file '%s' on file 1.", pages, db.Name(), logicalData(db))
		x.info(4035, "Processed %d pages for database '%s', file '%s' on file 1.", 2, db.Name(), logicalLog(db))
	}
	secs := time.Since(start).Seconds()
	if secs < 0.001 {
		secs = 0.001
	}
	mbps := float64(plan.trailer.BackupSize) / 1048576 / secs
	what := stmt
	if typ == 5 {
		what = "BACKUP DATABASE WITH DIFFERENTIAL"
	}
	x.info(3014, "%s successfully processed %d pages in %.3f seconds (%.3f MB/sec).", what, pages, secs, mbps)
	return x.done(0, false)
}

func logicalData(db *Database) string {
	db.in.mu.Lock()
	defer db.in.mu.Unlock()
	for _, f := range db.files {
		if f.typ == 0 {
			return f.logical
		}
	}
	return db.name
}

func logicalLog(db *Database) string {
	db.in.mu.Lock()
	defer db.in.mu.Unlock()
	for _, f := range db.files {
		if f.typ == 1 {
			return f.logical
		}
	}
	return db.name + "_log"
}

// checkBackupAllowedLocked applies SQL Server's refusals for the database's state and type.
func (x *executor) checkBackupAllowedLocked(db *Database, typ int, o backupOptions) error {
	stmt := "BACKUP DATABASE"
	if typ == 2 {
		stmt = "BACKUP LOG"
	}
	switch {
	case strings.EqualFold(db.name, "tempdb"):
		return sqlErr(3147, "Backup and restore operations are not allowed on database tempdb.")
	case db.snapshotOf != 0:
		return sqlErr(3002, "Cannot BACKUP or RESTORE a database snapshot.")
	case db.state == StateRestoring:
		return sqlErr(927, "Database '%s' cannot be opened. It is in the middle of a restore.", db.name)
	case db.state != StateOnline:
		return sqlErr(942, "Database '%s' cannot be opened because it is offline.", db.name)
	}
	if strings.EqualFold(db.name, "master") && typ != 1 {
		return sqlErr(3024, "You can only perform a full backup of the master database. Use BACKUP DATABASE to back up the entire master database.")
	}
	if db.ag != nil && !db.ag.isPrimaryLocked(db.in) {
		// On a secondary replica: copy-only full and regular log backups only.
		if (typ == 1 && !o.copyOnly) || typ == 5 || (typ == 2 && o.copyOnly) {
			return sqlErr(3059, "This BACKUP or RESTORE command is not supported on a database mirror or secondary replica.")
		}
	}
	sh := db.shared
	sh.mu.Lock()
	defer sh.mu.Unlock()
	switch typ {
	case 2:
		if db.recovery == "SIMPLE" {
			return sqlErr(4208, "The statement %s is not allowed while the recovery model is SIMPLE. Use BACKUP DATABASE or change the recovery model using ALTER DATABASE.", stmt)
		}
		if sh.lastLogBackup == 0 {
			return sqlErr(4214, "BACKUP LOG cannot be performed because there is no current database backup.")
		}
	case 5:
		if sh.diffBase == 0 {
			return sqlErr(3035, "Cannot perform a differential backup for database \"%s\", because a current database backup does not exist. Perform a full database backup by reissuing BACKUP DATABASE, omitting the WITH DIFFERENTIAL option.", db.name)
		}
	}
	_ = stmt
	return nil
}

// planBackup fixes the backup's content and LSNs atomically with respect to the workload.
func (x *executor) planBackup(db *Database, typ int, o backupOptions, devs []device) (*plannedBackup, error) {
	in := x.s.in
	in.mu.Lock()
	sh := db.shared
	files := make([]media.FileInfo, 0, len(db.files))
	for _, f := range db.files {
		t := byte('D')
		fg := "PRIMARY"
		if f.typ == 1 {
			t, fg = 'L', ""
		}
		files = append(files, media.FileInfo{LogicalName: f.logical, PhysicalName: f.physical, Type: t, FileGroupName: fg,
			SizeBytes: f.pages * content.PageSize, FileID: f.fileID})
	}
	major, minor, build := parseVersion(in.cfg.Version)
	h := media.Header{
		BackupType: typ, DatabaseName: db.name, ServerName: in.ServerName(), MachineName: in.cfg.Machine,
		UserName: x.s.login, Collation: "SQL_Latin1_General_CP1_CI_AS", RecoveryModel: db.recovery,
		DatabaseGUID: db.guid, FamilyGUID: sh.familyGUID, BackupSetGUID: newGUID(), MediaSetGUID: newGUID(),
		LSNOffset: sh.lsnOffset.String(), IsCopyOnly: o.copyOnly && typ != 5, HasBackupChecksums: o.checksum,
		Compressed: o.compression, SoftwareVersionMajor: int(major), SoftwareVersionMinor: int(minor),
		SoftwareVersionBuild: int(build), CompatibilityLevel: 160, Files: files, StripeCount: len(devs),
		DatabaseCreationDate: db.created, RecoveryForkGUID: db.forkGUID, FirstRecoveryForkGUID: db.forkGUID,
		IsReadOnly: db.readOnly, DeviceType: devs[0].deviceType(),
	}
	prevFork, forkPoint := db.prevForkGUID, db.forkPoint
	// A data backup copies the damaged page with the rest (see Database.Corrupt).
	if typ != 2 && db.corruptPage != nil {
		page := *db.corruptPage
		h.CorruptPage = &page
	}
	if s, ok := o.name.(string); ok {
		h.BackupName = s
	}
	if s, ok := o.description.(string); ok {
		h.BackupDescription = s
	}
	recovery := db.recovery
	noRecovery := o.noRecovery
	in.mu.Unlock()

	sh.mu.Lock()
	defer sh.mu.Unlock()
	c := sh.content
	now := in.sim.Now()
	h.BackupStartDate = now
	h.TimeZone = in.zoneName()
	h.Seed, h.DataPages = c.Seed(), c.DataPages()
	p := &plannedBackup{}
	switch typ {
	case 1, 5:
		ck := c.Append(now, checkpointKind())
		h.FirstLSN, h.CheckpointLSN, h.LastLSN = ck, ck, ck+1
		h.DatabaseBackupLSN = sh.diffBase
		h.TableOps = opsBetween(sh.tables, 0, h.LastLSN)
		if typ == 1 {
			p.snap = c.Snapshot()
			p.total = c.DataPages() * content.PageSize
		} else {
			h.DifferentialBaseLSN, h.DifferentialBaseGUID = sh.diffBase, sh.diffBaseGUID
			p.pages = c.ChangedSince(sh.diffBase)
			p.total = int64(len(p.pages)) * content.PageSize
		}
		setGUID := h.BackupSetGUID
		copyOnly := h.IsCopyOnly
		p.apply = func() {
			sh.mu.Lock()
			defer sh.mu.Unlock()
			if typ == 1 && !copyOnly {
				sh.diffBase, sh.diffBaseGUID = ck, setGUID
			}
			// A full (or a differential, after a switch back from SIMPLE) starts the log chain.
			if recovery != "SIMPLE" && sh.lastLogBackup == 0 && !(typ == 1 && copyOnly) {
				sh.lastLogBackup = ck
			}
		}
	case 2:
		mark := c.Append(now, markerKind())
		h.FirstLSN, h.LastLSN = sh.lastLogBackup, mark+1
		if forkPoint != 0 && h.FirstLSN <= forkPoint {
			// The log starts on the fork the restore recovered from and goes on, past the
			// fork point, on the current one.
			h.FirstRecoveryForkGUID, h.ForkPointLSN = prevFork, forkPoint
		}
		h.CheckpointLSN = mark
		h.DatabaseBackupLSN = sh.diffBase
		p.records = c.Records(h.FirstLSN, h.LastLSN)
		h.TableOps = opsBetween(sh.tables, h.FirstLSN, h.LastLSN)
		p.total = int64(len(p.records)) * 512
		last := h.LastLSN
		copyOnly := o.copyOnly
		p.apply = func() {
			sh.mu.Lock()
			if !copyOnly {
				sh.lastLogBackup = last
			}
			sh.mu.Unlock()
			if noRecovery {
				// Tail-log backup: the database goes to RESTORING, ready for a restore sequence.
				in.mu.Lock()
				db.state = StateRestoring
				sh.mu.Lock()
				db.restore = &restoreState{redo: last, baseCheckpoint: sh.diffBase, lastTime: now, logApplied: true}
				sh.mu.Unlock()
				in.mu.Unlock()
			}
		}
	}
	if p.total == 0 {
		p.total = 1
	}
	p.header = h
	return p, nil
}

// streamBackup writes the backup set to the URL devices. It returns the bytes written to
// the blobs (after compression).
func (x *executor) streamBackup(p *plannedBackup, o backupOptions, devs []device, req *request) (int64, error) {
	in := x.s.in
	ctx := x.ctx
	writers := make([]deviceWriter, 0, len(devs))
	abort := func() {
		for _, w := range writers {
			w.Abort()
		}
	}
	virtual, err := virtualDevices(devs)
	if err != nil {
		return 0, err
	}
	if virtual {
		maxTransfer, blockSize := o.maxTransfer, o.blockSize
		if maxTransfer == 0 {
			maxTransfer = vdiDefaultTransfer
		}
		if blockSize == 0 {
			blockSize = vdiDefaultBlock
		}
		set, err := x.openVDISet(devs, blockSize, maxTransfer)
		if err != nil {
			return 0, err
		}
		writers = newVDIWriters(ctx, set, maxTransfer)
	}
	for _, d := range devs {
		if virtual {
			break
		}
		if d.file != "" {
			w, err := createFile(d.file, o.format)
			if err != nil {
				abort()
				return 0, err
			}
			writers = append(writers, w)
			continue
		}
		w, err := in.blobClient().Create(ctx, d.url, d.sas, urlio.WriteOptions{Format: o.format, BlockSize: o.maxTransfer, MaxBlocks: int(in.sim.blockLimit.Load())})
		if err != nil {
			abort()
			if ctx.Err() != nil {
				return 0, errBatchAborted
			}
			return 0, blobOpenError(d.url.Raw, err)
		}
		writers = append(writers, w)
	}
	stripes := make([]io.Writer, len(writers))
	fault, counter := in.takeStreamFault(), &faultCounter{}
	for i, w := range writers {
		stripes[i] = &faultWriter{w: w, fault: fault, ctx: ctx, device: devs[i].name(), count: counter}
	}
	mw, err := media.NewWriter(stripes, p.header, media.WriterOptions{Compress: o.compression, Checksum: o.checksum})
	if err != nil {
		abort()
		return 0, x.streamError(devs, err)
	}
	progress := newStatsReporter(x, o.stats, p.total)
	report := func() error {
		n := mw.BytesWritten()
		req.done.Store(n)
		progress.at(n)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return nil
	}
	var pageCount int64
	switch {
	case p.snap != nil:
		for id := int64(0); id < p.snap.DataPages(); id++ {
			if err = mw.WritePage(id, p.snap.Version(id)); err != nil {
				break
			}
			pageCount++
			if id%128 == 0 {
				if err = report(); err != nil {
					break
				}
			}
		}
	case p.records != nil || p.header.BackupType == 2:
		for i, r := range p.records {
			if err = mw.WriteLogRecord(r); err != nil {
				break
			}
			if i%256 == 0 {
				if err = report(); err != nil {
					break
				}
			}
		}
	default:
		for i, pv := range p.pages {
			if err = mw.WritePage(pv.ID, pv.Version); err != nil {
				break
			}
			pageCount++
			if i%128 == 0 {
				if err = report(); err != nil {
					break
				}
			}
		}
	}
	trailer := media.Trailer{BackupFinishDate: in.sim.Now(), PageCount: pageCount, LogRecordCount: int64(len(p.records))}
	if err == nil {
		err = mw.Close(trailer)
		trailer = mw.Trailer()
	}
	if err == nil {
		for i, w := range writers {
			if cerr := w.Close(); cerr != nil {
				err = fmt.Errorf("%s: %w", devs[i].name(), cerr)
				break
			}
		}
	}
	if err != nil {
		abort()
		if ctx.Err() != nil {
			return 0, errBatchAborted
		}
		return 0, x.streamError(devs, err)
	}
	progress.finish()
	var written int64
	for _, w := range writers {
		written += w.Written()
	}
	p.trailer = trailer
	return written, nil
}

// deviceWriter is one backup device being written: a blob (URL) or a file (DISK).
type deviceWriter interface {
	io.Writer
	Close() error
	Abort()
	Written() int64
}

// fileWriter writes a DISK backup device. Like SQL Server without INIT/FORMAT it refuses
// to append to an existing file; with FORMAT it replaces it.
type fileWriter struct {
	f    *os.File
	path string
	n    int64
}

func createFile(path string, format bool) (*fileWriter, error) {
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if !format {
		flags |= os.O_EXCL
	}
	f, err := os.OpenFile(path, flags, 0o640)
	if os.IsExist(err) {
		return nil, sqlErr(3266, "The backup data at the end of \"%s\" is incorrectly formatted. Backup sets on the media might be damaged and unusable. To determine the backup sets on the media, use RESTORE HEADERONLY. Use WITH FORMAT to overwrite the media.", path)
	}
	if err != nil {
		return nil, sqlErr(3201, "Cannot open backup device '%s'. Operating system error 3(The system cannot find the path specified.).", path)
	}
	return &fileWriter{f: f, path: path}, nil
}

func (w *fileWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.n += int64(n)
	return n, err
}
func (w *fileWriter) Close() error   { return w.f.Close() }
func (w *fileWriter) Written() int64 { return w.n }
func (w *fileWriter) Abort() {
	_ = w.f.Close()
	_ = os.Remove(w.path)
}

// streamError maps a failure while writing the stream to SQL Server's errors.
func (x *executor) streamError(devs []device, err error) error {
	x.s.in.log.Warn("backup stream failed", zap.Error(err))
	var fe *faultError
	var ve *vdiDeviceError
	dev := devs[0].name()
	switch {
	case errors.As(err, &ve):
		return sqlErr(3202, "Write on \"%s\" failed: %s", ve.device, ve.os())
	case errors.As(err, &fe):
		return sqlErr(3202, "Write on \"%s\" failed: 1117(The request could not be performed because of an I/O device error.)", fe.device)
	case errors.Is(err, urlio.ErrTooManyBlocks):
		return &multiError{errs: []error{
			sqlErr(1117, "Write to backup block blob device %s failed. Device has reached its limit of allowed blocks.", dev),
			sqlErr(3063, "Write to backup block blob device %s failed. Device has reached its limit of allowed blocks.", dev),
			sqlErr(3013, "BACKUP DATABASE is terminating abnormally."),
		}}
	}
	return sqlErr(3202, "Write on \"%s\" failed: 1117(The request could not be performed because of an I/O device error.)", dev)
}

// recordBackup writes the msdb history rows of a successful backup.
func (in *Instance) recordBackup(db *Database, h media.Header, tr media.Trailer, devs []device, finish time.Time, written int64, compressed bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	sh := db.shared
	hist := &in.msdb
	mediaID := int32(len(hist.mediaSets) + 1)
	hist.mediaSets = append(hist.mediaSets, mediaSetRow{id: mediaID, uuid: h.MediaSetGUID, families: uint8(len(devs)), compressed: compressed})
	for i, d := range devs {
		hist.families = append(hist.families, mediaFamilyRow{mediaSetID: mediaID, seq: uint8(i + 1), familyID: newGUID(), device: d.name(), deviceType: uint8(d.deviceType())})
	}
	typ := map[int]string{1: "D", 2: "L", 5: "I"}[h.BackupType]
	row := &backupSetRow{
		id: int32(len(hist.sets) + 1), uuid: h.BackupSetGUID, mediaSetID: mediaID, families: uint8(len(devs)),
		name: nilIfEmpty(h.BackupName), description: nilIfEmpty(h.BackupDescription), user: h.UserName,
		major: int32(h.SoftwareVersionMajor), minor: int32(h.SoftwareVersionMinor), build: int32(h.SoftwareVersionBuild),
		server: h.ServerName, machine: h.MachineName, database: h.DatabaseName, databaseGUID: h.DatabaseGUID,
		familyGUID: h.FamilyGUID, created: db.created, start: h.BackupStartDate, finish: finish, typ: typ,
		firstLSN: sh.ext(h.FirstLSN), lastLSN: sh.ext(h.LastLSN), checkpointLSN: sh.ext(h.CheckpointLSN),
		databaseBackupLSN: sh.extOrNull(h.DatabaseBackupLSN), forkGUID: h.RecoveryForkGUID, firstForkGUID: h.FirstRecoveryForkGUID,
		forkPointLSN: sh.extOrNull(h.ForkPointLSN),
		checksums:    h.HasBackupChecksums, copyOnly: h.IsCopyOnly, readOnly: db.readOnly, recovery: h.RecoveryModel,
		size: tr.BackupSize, compressed: written, collation: h.Collation, zone: in.zone(),
	}
	if h.BackupType == 5 {
		row.diffBaseLSN = sh.ext(h.DifferentialBaseLSN)
		row.diffBaseGUID = h.DifferentialBaseGUID
	}
	if h.BackupType == 2 {
		row.checkpointLSN = sh.ext(h.CheckpointLSN)
	}
	hist.sets = append(hist.sets, row)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// statsReporter sends "n percent processed." (3211) as STATS = step asks.
type statsReporter struct {
	x     *executor
	step  int
	total int64
	next  int
}

func newStatsReporter(x *executor, step int, total int64) *statsReporter {
	return &statsReporter{x: x, step: step, total: total, next: step}
}

func (r *statsReporter) at(n int64) {
	if r.step <= 0 || r.total <= 0 {
		return
	}
	pct := int(n * 100 / r.total)
	for r.next <= pct && r.next < 100 {
		r.x.info(3211, "%d percent processed.", r.next)
		r.next += r.step
	}
}

func (r *statsReporter) finish() {
	if r.step <= 0 {
		return
	}
	for r.next <= 100 {
		r.x.info(3211, "%d percent processed.", r.next)
		r.next += r.step
	}
}
