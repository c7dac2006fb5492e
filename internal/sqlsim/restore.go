package sqlsim

import (
	"errors"
	"io"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/sqlvault/sqlvault/internal/sqlsim/content"
	"github.com/sqlvault/sqlvault/internal/sqlsim/media"
	"github.com/sqlvault/sqlvault/internal/sqlsim/query"
	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
	"github.com/sqlvault/sqlvault/internal/sqlsim/tsql"
)

// restoreState is where a database in RESTORING stands in its restore sequence.
type restoreState struct {
	redo           content.LSN // the next LSN the database needs
	baseCheckpoint content.LSN // checkpoint LSN of the restored full
	diffApplied    bool
	logApplied     bool
	stopped        bool      // a STOPAT/STOPATMARK point was reached: only WITH RECOVERY may follow
	lastTime       time.Time // time of the newest change applied
	// fork is the recovery fork the restored data stands on at redo: the full's or
	// differential's, then each log's once it is applied past its fork point. A log must
	// start on this fork (RESTORE refuses it otherwise, 4330).
	fork sqltypes.UUID
}

type restoreOptions struct {
	replace, noRecovery, recoverySet bool
	stats                            int
	move                             map[string]string // logical (upper) → physical
	stopAt                           *stopPoint
	stopAtLSN                        *sqltypes.Decimal
	stopBefore                       bool
	maxTransfer                      int // MAXTRANSFERSIZE: a virtual device's VDC_Read size
}

func (x *executor) restoreOptions(st *tsql.Restore) (restoreOptions, error) {
	o := restoreOptions{move: map[string]string{}}
	for _, opt := range st.With {
		switch opt.Name {
		case "REPLACE":
			o.replace = true
		case "NORECOVERY":
			o.noRecovery, o.recoverySet = true, true
		case "RECOVERY":
			o.noRecovery, o.recoverySet = false, true
		case "STATS":
			o.stats = 10
			if opt.Value != nil {
				n, err := x.evalInt(opt.Value)
				if err != nil {
					return o, err
				}
				o.stats = int(n)
			}
		case "FILE":
			n, err := x.evalInt(opt.Value)
			if err != nil {
				return o, err
			}
			if n != 1 {
				return o, sqlErr(3106, "The backup set on file %d does not exist: URL media sets hold one backup set, at file 1.", n)
			}
		case "MOVE":
			logical, err := x.evalString(opt.Value)
			if err != nil {
				return o, err
			}
			physical, err := x.evalString(opt.To)
			if err != nil {
				return o, err
			}
			o.move[strings.ToUpper(logical)] = physical
		case "STOPAT":
			v, t, err := query.Eval(opt.Value, x.env())
			if err != nil {
				return o, err
			}
			cv, _, err := query.Convert(v, t, tsql.TypeName{Name: "datetime2", Args: []int{7}})
			if err != nil {
				return o, sqlErr(4338, "The STOPAT clause specifies an invalid point in time: %v.", displayValue(v))
			}
			// datetime has no zone: the value is a wall-clock reading on the clock of the
			// server that wrote the backup (see zone.go).
			o.stopAt = &stopPoint{wall: wallOf(cv.(time.Time))}
		case "STOPATMARK", "STOPBEFOREMARK":
			s, err := x.evalString(opt.Value)
			if err != nil {
				return o, err
			}
			if !strings.HasPrefix(strings.ToLower(s), "lsn:") {
				return o, &tsql.UnsupportedError{Statement: "RESTORE … " + opt.Name + " with a named mark"}
			}
			d, err := sqltypes.ParseDecimal(s[4:])
			if err != nil || d.Scale != 0 {
				return o, sqlErr(4334, "The named mark does not identify a valid LSN.")
			}
			o.stopAtLSN, o.stopBefore = &d, opt.Name == "STOPBEFOREMARK"
		case "BLOCKSIZE":
			if _, err := x.blockSizeOption(opt.Value); err != nil {
				return o, err
			}
		case "MAXTRANSFERSIZE":
			n, err := x.maxTransferOption(opt.Value)
			if err != nil {
				return o, err
			}
			o.maxTransfer = n
		case "CHECKSUM", "NO_CHECKSUM", "BUFFERCOUNT", "KEEP_REPLICATION",
			"KEEP_CDC", "RESTRICTED_USER", "NOUNLOAD", "UNLOAD", "REWIND", "NOREWIND", "STOP_ON_ERROR":
		case "STANDBY", "PARTIAL", "CONTINUE_AFTER_ERROR", "PASSWORD", "MEDIAPASSWORD", "CREDENTIAL", "PAGE", "FILESTREAM":
			return o, &tsql.UnsupportedError{Statement: "RESTORE … WITH " + opt.Name}
		default:
			return o, sqlErr(155, "'%s' is not a recognized RESTORE option.", opt.Name)
		}
	}
	return o, nil
}

func (x *executor) restore(st *tsql.Restore) error {
	var err error
	switch st.Kind {
	case "HEADERONLY", "FILELISTONLY", "LABELONLY":
		err = x.restoreInfo(st)
		if err != nil {
			err = terminating("RESTORE "+st.Kind, err)
		}
	case "VERIFYONLY":
		err = x.restoreVerify(st)
		if err != nil {
			err = terminating("VERIFY DATABASE", err)
		}
	default:
		err = x.restoreData(st)
		if err != nil && !errors.Is(err, errBatchAborted) {
			var me *multiError
			if !errors.As(err, &me) {
				err = terminating("RESTORE "+st.Kind, err)
			}
		}
	}
	return err
}

// openedMedia is an opened backup media set.
type openedMedia struct {
	reader *media.Reader
	header media.Header
	close  func()
	size   int64
}

// openStripes opens every device of a restore for reading; maxTransfer is the VDC_Read
// size for virtual devices (0: the default).
func (x *executor) openStripes(devs []device, maxTransfer int, metadataOnly ...bool) ([]media.Stripe, func(), error) {
	in := x.s.in
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	var fault *StreamFault
	if len(metadataOnly) == 0 || !metadataOnly[0] {
		fault = in.takeStreamFault()
	}
	virtual, err := virtualDevices(devs)
	if err != nil {
		return nil, nil, err
	}
	if virtual {
		return x.readVDIStripes(devs, maxTransfer, fault)
	}
	counter := &faultCounter{}
	stripes := make([]media.Stripe, 0, len(devs))
	for _, d := range devs {
		if d.file != "" {
			f, err := os.Open(d.file)
			if err != nil {
				closeAll()
				return nil, nil, sqlErr(3201, "Cannot open backup device '%s'. Operating system error 2(The system cannot find the file specified.).", d.file)
			}
			st, err := f.Stat()
			if err != nil {
				f.Close()
				closeAll()
				return nil, nil, sqlErr(3201, "Cannot open backup device '%s'. Operating system error 5(Access is denied.).", d.file)
			}
			closers = append(closers, func() { _ = f.Close() })
			stripes = append(stripes, media.Stripe{
				R:    &faultReaderAt{r: f, fault: fault, ctx: x.ctx, device: d.file, count: counter},
				Size: st.Size(), Name: d.file,
			})
			continue
		}
		r, err := in.blobClient().Open(x.ctx, d.url, d.sas)
		if err != nil {
			closeAll()
			if x.ctx.Err() != nil {
				return nil, nil, errBatchAborted
			}
			return nil, nil, blobOpenError(d.url.Raw, err)
		}
		closers = append(closers, func() { _ = r.Close() })
		stripes = append(stripes, media.Stripe{
			R:    &faultReaderAt{r: r, fault: fault, ctx: x.ctx, device: d.url.Raw, count: counter},
			Size: r.Size(), Name: d.url.Raw,
		})
	}
	return stripes, closeAll, nil
}

// mediaError maps a media-format failure to SQL Server's restore errors; the media
// package already words each message as SQL Server does.
func mediaError(err error) error {
	var fe *faultError
	if errors.As(err, &fe) {
		return sqlErr(3203, "Read on \"%s\" failed: 1117(The request could not be performed because of an I/O device error.)", fe.device)
	}
	var me *media.MediaError
	if !errors.As(err, &me) {
		return sqlErr(3203, "Read on backup device failed: %v", err)
	}
	switch me.Kind {
	case media.ErrNotABackup:
		return sqlErr(3241, "%s", me.Msg)
	case media.ErrMissingFamily:
		return sqlErr(3132, "%s", me.Msg)
	case media.ErrDuplicateFamily, media.ErrMixedMediaSets:
		return sqlErr(3231, "%s", me.Msg)
	case media.ErrTruncated, media.ErrRead:
		return sqlErr(3203, "%s", me.Msg)
	case media.ErrCorrupt:
		if me.Page >= 0 {
			return sqlErr(3183, "%s", me.Msg)
		}
		return sqlErr(3189, "%s", me.Msg)
	}
	return sqlErr(3241, "%s", me.Msg)
}

func (x *executor) restoreInfo(st *tsql.Restore) error {
	if len(st.From) == 0 {
		return sqlErr(102, "Incorrect syntax near '%s'.", st.Kind)
	}
	devs, err := x.resolveDevices(st.From, true)
	if err != nil {
		return err
	}
	// FILELISTONLY from a virtual device reads the first device's head and closes the set,
	// as a reader of a sequential device must: the file list is in the media header, and
	// reading the whole backup for it would cost the client a full transfer.
	if st.Kind == "FILELISTONLY" && devs[0].vdi != "" {
		h, err := x.readVDIHead(devs)
		if err != nil {
			return err
		}
		return x.writeTable(fileListOnly(h))
	}
	// The header is on the first device; a virtual device set opens whole (the client
	// created it with every device).
	first := devs[:1]
	if devs[0].vdi != "" {
		first = devs
	}
	stripes, closeAll, err := x.openStripes(first, 0, true)
	if err != nil {
		return err
	}
	defer closeAll()
	h, tr, err := media.ReadHeader(stripes[0])
	if err != nil {
		return mediaError(err)
	}
	var t *query.Table
	switch st.Kind {
	case "HEADERONLY":
		t = headerOnly(h, tr)
	case "FILELISTONLY":
		t = fileListOnly(h)
	default:
		t = &query.Table{Columns: []sqltypes.Column{
			nvarchar("MediaName", 128), col("MediaSetId", sqltypes.UniqueIdentifier), col("FamilyCount", sqltypes.Int),
			col("FamilySequenceNumber", sqltypes.Int), col("MediaFamilyId", sqltypes.UniqueIdentifier),
			col("MediaSequenceNumber", sqltypes.Int), col("MediaLabelPresent", sqltypes.TinyInt),
			nvarchar("MediaDescription", 255), nvarchar("SoftwareName", 128), col("SoftwareVendorId", sqltypes.Int),
			col("MediaDate", sqltypes.DateTime), col("Mirror_Count", sqltypes.Int), col("IsCompressed", sqltypes.Bit),
		}, Rows: [][]any{{nil, h.MediaSetGUID, int32(h.StripeCount), int32(1), h.FamilyGUID, int32(1),
			uint8(0), nil, "Microsoft SQL Server", int32(4608), h.BackupStartDate.In(headerZone(h)), int32(1), h.Compressed}}}
	}
	return x.writeTable(t)
}

// writeTable sends t as the statement's result set.
func (x *executor) writeTable(t *query.Table) error {
	if err := x.w.Columns(t.Columns); err != nil {
		return err
	}
	for _, r := range t.Rows {
		if err := x.w.Row(r); err != nil {
			return err
		}
	}
	return x.done(int64(len(t.Rows)), true)
}

func extLSN(h media.Header, l content.LSN) any {
	off, ok := new(big.Int).SetString(h.LSNOffset, 10)
	if !ok {
		off = new(big.Int)
	}
	return sqltypes.Decimal{Unscaled: off.Add(off, new(big.Int).SetUint64(uint64(l)))}
}

func extLSNOrNull(h media.Header, l content.LSN) any {
	if l == 0 {
		return nil
	}
	return extLSN(h, l)
}

func headerOnly(h media.Header, tr media.Trailer) *query.Table {
	desc := map[int]string{1: "Database", 2: "Transaction Log", 5: "Database Differential"}[h.BackupType]
	var diffGUID any
	if h.BackupType == 5 {
		diffGUID = h.DifferentialBaseGUID
	}
	t := &query.Table{Columns: []sqltypes.Column{
		nvarchar("BackupName", 128), nvarchar("BackupDescription", 255), col("BackupType", sqltypes.SmallInt),
		col("ExpirationDate", sqltypes.DateTime), col("Compressed", sqltypes.Bit), col("Position", sqltypes.SmallInt),
		col("DeviceType", sqltypes.TinyInt), nvarchar("UserName", 128), nvarchar("ServerName", 128),
		nvarchar("DatabaseName", 128), col("DatabaseVersion", sqltypes.Int), col("DatabaseCreationDate", sqltypes.DateTime),
		sqltypes.Column{Name: "BackupSize", Type: sqltypes.Numeric, Precision: 20},
		col("FirstLSN", sqltypes.Numeric), col("LastLSN", sqltypes.Numeric), col("CheckpointLSN", sqltypes.Numeric),
		col("DatabaseBackupLSN", sqltypes.Numeric), col("BackupStartDate", sqltypes.DateTime),
		col("BackupFinishDate", sqltypes.DateTime), col("CompatibilityLevel", sqltypes.TinyInt),
		col("SoftwareVersionMajor", sqltypes.Int), col("SoftwareVersionMinor", sqltypes.Int),
		col("SoftwareVersionBuild", sqltypes.Int), nvarchar("MachineName", 128), col("RecoveryForkID", sqltypes.UniqueIdentifier),
		nvarchar("Collation", 128), col("FamilyGUID", sqltypes.UniqueIdentifier), col("IsReadOnly", sqltypes.Bit),
		col("HasBackupChecksums", sqltypes.Bit), col("IsDamaged", sqltypes.Bit), col("BeginsLogChain", sqltypes.Bit),
		col("IsCopyOnly", sqltypes.Bit), col("FirstRecoveryForkID", sqltypes.UniqueIdentifier),
		col("ForkPointLSN", sqltypes.Numeric), nvarchar("RecoveryModel", 60), col("DifferentialBaseLSN", sqltypes.Numeric),
		col("DifferentialBaseGUID", sqltypes.UniqueIdentifier), nvarchar("BackupTypeDescription", 60),
		col("BackupSetGUID", sqltypes.UniqueIdentifier), sqltypes.Column{Name: "CompressedBackupSize", Type: sqltypes.Numeric, Precision: 20},
	}}
	var diffBase any
	if h.BackupType == 5 {
		diffBase = extLSN(h, h.DifferentialBaseLSN)
	}
	t.Rows = [][]any{{
		nilIfEmpty(h.BackupName), nilIfEmpty(h.BackupDescription), int16(h.BackupType), nil, h.Compressed, int16(1),
		uint8(headerDeviceType(h)), h.UserName, h.ServerName, h.DatabaseName, int32(957), h.DatabaseCreationDate.In(headerZone(h)),
		decimalInt(tr.BackupSize), extLSN(h, h.FirstLSN), extLSN(h, h.LastLSN), extLSN(h, h.CheckpointLSN),
		extLSNOrNull(h, h.DatabaseBackupLSN), h.BackupStartDate.In(headerZone(h)), tr.BackupFinishDate.In(headerZone(h)), uint8(h.CompatibilityLevel),
		int32(h.SoftwareVersionMajor), int32(h.SoftwareVersionMinor), int32(h.SoftwareVersionBuild), h.MachineName,
		h.RecoveryForkGUID, h.Collation, h.FamilyGUID, h.IsReadOnly, h.HasBackupChecksums, h.IsDamaged, false,
		h.IsCopyOnly, h.FirstRecoveryForkGUID, extLSNOrNull(h, h.ForkPointLSN), h.RecoveryModel, diffBase, diffGUID, desc, h.BackupSetGUID,
		decimalInt(tr.CompressedBackupSize),
	}}
	return t
}

// headerDeviceType is the DeviceType RESTORE HEADERONLY reports: the device the backup was
// written to (media written before the simulator recorded it were all URL backups).
func headerDeviceType(h media.Header) int {
	if h.DeviceType == 0 {
		return media.DeviceURL
	}
	return h.DeviceType
}

func fileListOnly(h media.Header) *query.Table {
	t := &query.Table{Columns: []sqltypes.Column{
		nvarchar("LogicalName", 128), nvarchar("PhysicalName", 260), nvarchar("Type", 1), nvarchar("FileGroupName", 128),
		sqltypes.Column{Name: "Size", Type: sqltypes.Numeric, Precision: 20},
		sqltypes.Column{Name: "MaxSize", Type: sqltypes.Numeric, Precision: 20}, col("FileID", sqltypes.BigInt),
		col("CreateLSN", sqltypes.Numeric), col("DropLSN", sqltypes.Numeric), col("UniqueID", sqltypes.UniqueIdentifier),
		sqltypes.Column{Name: "BackupSizeInBytes", Type: sqltypes.Numeric, Precision: 20}, col("SourceBlockSize", sqltypes.Int),
		col("FileGroupID", sqltypes.Int), col("DifferentialBaseLSN", sqltypes.Numeric), col("IsReadOnly", sqltypes.Bit),
		col("IsPresent", sqltypes.Bit),
	}}
	for _, f := range h.Files {
		var fg any = f.FileGroupName
		fgID := int32(1)
		if f.Type == 'L' {
			fg, fgID = nil, 0
		}
		var diffBase any
		if h.BackupType == 5 {
			diffBase = extLSN(h, h.DifferentialBaseLSN)
		}
		t.Rows = append(t.Rows, []any{f.LogicalName, f.PhysicalName, string(f.Type), fg, decimalInt(f.SizeBytes),
			decimalInt(35184372080640), int64(f.FileID), nil, nil, newGUID(), decimalInt(f.BackupSizeBytes), int32(512),
			fgID, diffBase, false, true})
	}
	return t
}

func (x *executor) restoreVerify(st *tsql.Restore) error {
	devs, err := x.resolveDevices(st.From, true)
	if err != nil {
		return err
	}
	stripes, closeAll, err := x.openStripes(devs, 0)
	if err != nil {
		return err
	}
	defer closeAll()
	r, err := media.Open(stripes)
	if err != nil {
		return mediaError(err)
	}
	defer r.Close()
	for {
		if x.ctx.Err() != nil {
			return errBatchAborted
		}
		if _, err := r.Next(); err == io.EOF {
			break
		} else if err != nil {
			return mediaError(err)
		}
	}
	x.info(3262, "The backup set on file 1 is valid.")
	return x.done(0, false)
}

// restoreData runs RESTORE DATABASE / RESTORE LOG.
func (x *executor) restoreData(st *tsql.Restore) error {
	in := x.s.in
	stmt := "RESTORE " + st.Kind
	name, err := x.resolveDatabaseName(st.Database, st.DatabaseVar)
	if err != nil {
		return err
	}
	o, err := x.restoreOptions(st)
	if err != nil {
		return err
	}
	if !in.isSysadmin(x.s.login) {
		return sqlErr(3110, "User does not have permission to RESTORE database '%s'.", name)
	}
	if len(st.From) == 0 {
		if st.Kind != "DATABASE" || o.noRecovery {
			return sqlErr(3032, "One or more of the options are not supported for this statement: RESTORE %s without FROM needs WITH RECOVERY.", st.Kind)
		}
		return x.recoverOnly(name)
	}
	devs, err := x.resolveDevices(st.From, true)
	if err != nil {
		return err
	}
	// The running request of sys.dm_exec_requests; its database and size are known once the
	// media's header is read.
	var req *request
	show := func(dbID int32, total int64) {
		in.mu.Lock()
		defer in.mu.Unlock()
		if req == nil {
			req = &request{command: stmt, start: in.sim.Now()}
			in.requests[x.s.id] = req
		}
		req.dbID, req.total = dbID, total
	}
	defer func() {
		in.mu.Lock()
		defer in.mu.Unlock()
		if req != nil {
			delete(in.requests, x.s.id)
		}
	}()
	if virtual, _ := virtualDevices(devs); virtual {
		// The simulator reads a virtual device whole before it restores; SQL Server shows the
		// request from the statement's start, so a client watching it sees a restore that
		// waits on its device.
		var dbID int32
		in.mu.Lock()
		if db, ok := in.dbs[strings.ToUpper(name)]; ok {
			dbID = db.id
		}
		in.mu.Unlock()
		show(dbID, 0)
	}
	stripes, closeAll, err := x.openStripes(devs, o.maxTransfer)
	if err != nil {
		return err
	}
	defer closeAll()
	r, err := media.Open(stripes)
	if err != nil {
		return mediaError(err)
	}
	defer r.Close()
	h := r.Header()
	if (st.Kind == "LOG") != (h.BackupType == 2) {
		return sqlErr(3135, "The backup set in file '%s' was created by BACKUP %s and cannot be used for this restore operation.", devs[0].name(), map[bool]string{true: "LOG", false: "DATABASE"}[h.BackupType == 2])
	}

	db, cleanup, err := x.prepareRestoreTarget(name, h, o)
	if err != nil {
		return err
	}
	defer cleanup()

	start := time.Now()
	var total int64
	for _, s := range stripes {
		total += s.Size
	}
	show(db.id, total)
	progress := newStatsReporter(x, o.stats, total)

	// Read and verify the whole stream before changing the database, so that a damaged or
	// interrupted stream never leaves a half-applied backup behind.
	var pages []content.PageVersion
	var records []content.Record
	var rebuilt *content.Database
	if h.BackupType == 1 {
		rebuilt = content.NewRestoring(h.Seed, h.DataPages)
	}
	n := 0
	for {
		if x.ctx.Err() != nil {
			x.abandonRestore(db, h.BackupType)
			return errBatchAborted
		}
		item, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			x.abandonRestore(db, h.BackupType)
			if x.ctx.Err() != nil {
				return errBatchAborted
			}
			return mediaError(err)
		}
		switch {
		case item.Page != nil && rebuilt != nil:
			rebuilt.SetPage(item.Page.ID, item.Page.Version)
		case item.Page != nil:
			pages = append(pages, *item.Page)
		case item.Log != nil:
			records = append(records, *item.Log)
		}
		n++
		if n%256 == 0 {
			req.done.Store(r.BytesRead())
			progress.at(r.BytesRead())
		}
	}
	tr := r.Trailer()
	progress.finish()

	names := make([]string, len(devs))
	for i, d := range devs {
		names[i] = d.name()
	}
	applied, err := x.applyRestore(db, h, tr, o, rebuilt, pages, records, names)
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	if secs < 0.001 {
		secs = 0.001
	}
	var processed int64
	if h.BackupType == 2 {
		processed = (tr.BackupSize + content.PageSize - 1) / content.PageSize
		x.info(4035, "Processed %d pages for database '%s', file '%s' on file 1.", processed, name, logicalLog(db))
	} else {
		processed = tr.PageCount
		x.info(4035, "Processed %d pages for database '%s', file '%s' on file 1.", processed, name, logicalData(db))
	}
	if !applied.recovered && applied.needMore {
		x.info(4322, "This backup set contains records that were logged before the designated point in time. The database is being left in the restoring state so that more roll forward can be performed.")
	}
	x.info(3014, "%s successfully processed %d pages in %.3f seconds (%.3f MB/sec).", stmt, processed, secs,
		float64(tr.BackupSize)/1048576/secs)
	return x.done(0, false)
}

// prepareRestoreTarget checks the target database against SQL Server's rules and marks it
// as being restored. cleanup clears the restore's busy mark.
func (x *executor) prepareRestoreTarget(name string, h media.Header, o restoreOptions) (*Database, func(), error) {
	in := x.s.in
	in.mu.Lock()
	defer in.mu.Unlock()
	db, exists := in.dbs[strings.ToUpper(name)]
	if exists {
		switch {
		case db.ag != nil:
			return nil, nil, sqlErr(3104, "RESTORE cannot operate on database '%s' because it is configured for database mirroring or has joined an availability group. If you intend to restore the database, use ALTER DATABASE to remove mirroring or to remove the database from its availability group.", db.name)
		case db.snapshotOf != 0:
			return nil, nil, sqlErr(3002, "Cannot BACKUP or RESTORE a database snapshot.")
		case strings.EqualFold(db.name, "tempdb"):
			return nil, nil, sqlErr(3147, "Backup and restore operations are not allowed on database tempdb.")
		case len(in.sessionsUsingLocked(db.name, x.s.id)) > 0 || len(db.busy) > 0:
			return nil, nil, sqlErr(3101, "Exclusive access could not be obtained because the database is in use.")
		}
	}
	switch h.BackupType {
	case 1:
		if exists && db.state != StateRestoring && !o.replace {
			if !strings.EqualFold(h.DatabaseName, db.name) || h.DatabaseGUID != db.guid {
				return nil, nil, sqlErr(3154, "The backup set holds a backup of a database other than the existing '%s' database.", db.name)
			}
			if o.stopAt == nil && o.stopAtLSN == nil && db.tailNotBackedUpLocked() {
				return nil, nil, sqlErr(3159, "The tail of the log for the database \"%s\" has not been backed up. Use BACKUP LOG WITH NORECOVERY to backup the log if it contains work you do not want to lose. Use the WITH REPLACE or WITH STOPAT clause of the RESTORE statement to just overwrite the contents of the log.", db.name)
			}
		}
		if o.stopAt != nil && o.stopAt.before(h.BackupStartDate, headerZone(h)) {
			return nil, nil, sqlErr(4338, "The STOPAT clause specifies a point too early to allow this backup set to be restored. Choose a different stop point or use RESTORE DATABASE WITH RECOVERY to recover at the current point.")
		}
		files, err := in.restoreFilesLocked(h, o, db)
		if err != nil {
			return nil, nil, err
		}
		if !exists {
			id := in.nextDBID
			in.nextDBID++
			// "RESTORE always generates a new GUID when you restore a database that does not
			// yet exist" (sys.database_recovery_status, database_guid).
			db = &Database{in: in, id: id, name: name, guid: newGUID(), createdByRestore: true, created: in.sim.Now(), userAccess: "MULTI_USER",
				busy: map[string]bool{}, forkGUID: h.RecoveryForkGUID, firstForkGUID: h.FirstRecoveryForkGUID,
				shared: &sharedState{content: content.NewRestoring(h.Seed, h.DataPages), lsnOffset: big.NewInt(0)}}
			in.dbs[strings.ToUpper(name)] = db
		}
		db.files = files
		db.corruptPage = h.CorruptPage
		db.state = StateRestoring
		db.restore = nil
	default:
		if !exists {
			return nil, nil, sqlErr(3118, "The database \"%s\" does not exist. RESTORE can only create a database when restoring either a full backup or a file backup of the primary file.", name)
		}
		// A log restore that stopped at its STOPAT point may be rolled forward again, to the
		// same or a later point (Microsoft, "Best Practices for Recovering a Database to a
		// Specific Recovery Point": roll forward again WITH STOPAT; the time can be changed
		// while the database has not gone past it). 3117 is for a database with nothing
		// to roll forward: not being restored.
		if db.state != StateRestoring || db.restore == nil {
			return nil, nil, sqlErr(3117, "The log or differential backup cannot be restored because no files are ready to rollforward.")
		}
		rs := db.restore
		sh := db.shared
		if h.BackupType == 5 {
			if rs.diffApplied || rs.logApplied || rs.baseCheckpoint != h.DifferentialBaseLSN {
				return nil, nil, sqlErr(3136, "This differential backup cannot be restored because the database has not been restored to the correct earlier state.")
			}
			if o.stopAt != nil && o.stopAt.before(h.BackupStartDate, headerZone(h)) {
				return nil, nil, sqlErr(4338, "The STOPAT clause specifies a point too early to allow this backup set to be restored. Choose a different stop point or use RESTORE DATABASE WITH RECOVERY to recover at the current point.")
			}
			if h.CorruptPage != nil {
				db.corruptPage = h.CorruptPage // the differential brings its damaged page along
			}
		} else {
			if h.FirstLSN > rs.redo {
				return nil, nil, sqlErr(4305, "The log in this backup set begins at LSN %s, which is too recent to apply to the database. An earlier log backup that includes LSN %s can be restored.", extLSN(h, h.FirstLSN), sh.ext(rs.redo))
			}
			if h.LastLSN <= rs.redo {
				return nil, nil, sqlErr(4326, "The log in this backup set terminates at LSN %s, which is too early to apply to the database. A more recent log backup that includes LSN %s can be restored.", extLSN(h, h.LastLSN), sh.ext(rs.redo))
			}
			if onOtherFork(h, rs) {
				return nil, nil, sqlErr(4330, "This backup set cannot be applied because it is on a recovery path that is inconsistent with the database. The recovery path is the sequence of data and log backups that have brought the database to a particular recovery point. Find a compatible backup to restore, or restore the rest of the database to match a recovery point within this backup set, which will restore the database to a different point in time.")
			}
			if o.stopAt != nil && o.stopAt.before(rs.lastTime, headerZone(h)) {
				return nil, nil, sqlErr(4335, "The specified STOPAT time is too early. All or part of the database is already rolled forward beyond that point.")
			}
		}
	}
	db.busy["restore"] = true
	return db, func() {
		in.mu.Lock()
		delete(db.busy, "restore")
		in.mu.Unlock()
	}, nil
}

// onOtherFork reports whether log h cannot continue the restore rs because they are on
// different recovery forks: the restored data stands on rs.fork at LSN rs.redo, and the log
// holds that LSN on its first fork (or, past its fork point, on its last one).
func onOtherFork(h media.Header, rs *restoreState) bool {
	var zero sqltypes.UUID
	if rs.fork == zero {
		return false
	}
	want := h.FirstRecoveryForkGUID
	if h.ForkPointLSN != 0 && rs.redo > h.ForkPointLSN {
		want = h.RecoveryForkGUID
	}
	return want != zero && want != rs.fork
}

// tailNotBackedUpLocked reports whether the log holds changes no log backup has taken.
func (db *Database) tailNotBackedUpLocked() bool {
	if db.recovery == "SIMPLE" || db.state != StateOnline {
		return false
	}
	sh := db.shared
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.lastLogBackup == 0 {
		return false // no log chain yet: the log holds nothing a log backup could take
	}
	for _, r := range sh.content.Records(sh.lastLogBackup, sh.content.NextLSN()) {
		if r.Kind == content.PageWrite {
			return true
		}
	}
	return false
}

// restoreFilesLocked places the backup's files, applying MOVE, and refuses paths that
// another database uses.
func (in *Instance) restoreFilesLocked(h media.Header, o restoreOptions, target *Database) ([]dbFile, error) {
	known := map[string]bool{}
	var files []dbFile
	for _, f := range h.Files {
		known[strings.ToUpper(f.LogicalName)] = true
		physical := f.PhysicalName
		if p, ok := o.move[strings.ToUpper(f.LogicalName)]; ok {
			physical = p
		}
		typ := byte(0)
		if f.Type == 'L' {
			typ = 1
		}
		files = append(files, dbFile{fileID: f.FileID, logical: f.LogicalName, physical: physical, typ: typ, pages: f.SizeBytes / content.PageSize})
	}
	for logical := range o.move {
		if !known[logical] {
			return nil, sqlErr(3234, "Logical file '%s' is not part of database '%s'. Use RESTORE FILELISTONLY to list the logical file names.", logical, h.DatabaseName)
		}
	}
	for _, f := range files {
		for _, other := range in.dbs {
			if other == target {
				continue
			}
			for _, of := range other.files {
				if strings.EqualFold(of.physical, f.physical) {
					return nil, &multiError{errs: []error{
						sqlErr(1834, "The file '%s' cannot be overwritten. It is being used by database '%s'.", f.physical, other.name),
						sqlErr(3156, "File '%s' cannot be restored to '%s'. Use WITH MOVE to identify a valid location for the file.", f.logical, f.physical),
						sqlErr(3119, "Problems were identified while planning for the RESTORE statement. Previous messages provide details."),
						sqlErr(3013, "RESTORE DATABASE is terminating abnormally."),
					}}
				}
			}
		}
	}
	return files, nil
}

// abandonRestore marks a database whose full restore failed or was cancelled: it stays in
// RESTORING and needs a new full restore, as on SQL Server. A failed differential or log
// restore changed nothing (the stream is verified before anything is applied).
func (x *executor) abandonRestore(db *Database, backupType int) {
	if backupType != 1 {
		return
	}
	x.s.in.mu.Lock()
	defer x.s.in.mu.Unlock()
	db.state = StateRestoring
	db.restore = nil
}

type restoreOutcome struct {
	recovered bool
	needMore  bool
}

// applyRestore applies a verified backup to the database and recovers it if asked.
func (x *executor) applyRestore(db *Database, h media.Header, tr media.Trailer, o restoreOptions,
	rebuilt *content.Database, pages []content.PageVersion, records []content.Record, devices []string) (restoreOutcome, error) {
	in := x.s.in
	in.mu.Lock()
	defer in.mu.Unlock()
	var out restoreOutcome
	switch h.BackupType {
	case 1:
		off, _ := new(big.Int).SetString(h.LSNOffset, 10)
		if off == nil {
			off = big.NewInt(0)
		}
		db.shared = &sharedState{content: rebuilt, lsnOffset: off, familyGUID: h.FamilyGUID, tables: h.TableOps}
		if !db.createdByRestore {
			// Over an existing database the restored one takes the backup's identity
			// (an assumption: Microsoft documents only the new-database case).
			db.guid = h.DatabaseGUID
		}
		db.createdByRestore = false
		db.recovery = h.RecoveryModel
		db.readOnly = h.IsReadOnly
		db.forkGUID, db.firstForkGUID = h.RecoveryForkGUID, h.FirstRecoveryForkGUID
		rebuilt.SetNextLSN(h.LastLSN)
		db.restore = &restoreState{redo: h.LastLSN, baseCheckpoint: h.CheckpointLSN, lastTime: h.BackupStartDate, fork: h.RecoveryForkGUID}
		out.needMore = o.stopAt != nil || o.stopAtLSN != nil
	case 5:
		c := db.shared.content
		for _, p := range pages {
			c.SetPage(p.ID, p.Version)
		}
		c.SetNextLSN(h.LastLSN)
		db.shared.mu.Lock()
		db.shared.tables = h.TableOps // a differential carries the tables as of its LastLSN
		db.shared.mu.Unlock()
		db.restore.redo, db.restore.diffApplied, db.restore.lastTime = h.LastLSN, true, h.BackupStartDate
		db.restore.fork = h.RecoveryForkGUID
		out.needMore = o.stopAt != nil || o.stopAtLSN != nil
	case 2:
		rs := db.restore
		sh := db.shared
		var stopLSN content.LSN
		if o.stopAtLSN != nil {
			l, ok := sh.internal(*o.stopAtLSN)
			if !ok || l < h.FirstLSN || l >= h.LastLSN {
				// 4334 is Microsoft's message for a mark that names no valid LSN; that SQL
				// Server answers an LSN outside this log with it is an assumption.
				return out, sqlErr(4334, "The named mark does not identify a valid LSN.")
			}
			stopLSN = l
			if !o.stopBefore {
				stopLSN++ // STOPATMARK includes the marked record
			}
		}
		stopped := false
		from := rs.redo
		for _, r := range records {
			if r.LSN < rs.redo {
				continue // already applied by an earlier backup
			}
			if (o.stopAt != nil && o.stopAt.before(r.Time, headerZone(h))) || (stopLSN != 0 && r.LSN >= stopLSN) {
				stopped = true
				break
			}
			if err := sh.content.ApplyRecord(r); err != nil {
				return out, sqlErr(3456, "Could not redo log record %s: %v.", sh.ext(r.LSN), err)
			}
			rs.redo = r.LSN + 1
			rs.lastTime = r.Time
		}
		// A stop point after this log's last record but before the log backup was taken is
		// inside this log too: nothing happened in between.
		if !stopped && o.stopAt != nil && o.stopAt.before(h.BackupStartDate, headerZone(h)) {
			stopped = true
		}
		if !stopped {
			rs.redo = h.LastLSN
			rs.lastTime = h.BackupStartDate
		}
		// The table changes of the records just applied, and none beyond the stop point.
		sh.mu.Lock()
		sh.tables = append(sh.tables, opsBetween(h.TableOps, from, rs.redo)...)
		sh.mu.Unlock()
		rs.logApplied = true
		if h.ForkPointLSN == 0 || rs.redo > h.ForkPointLSN {
			rs.fork = h.RecoveryForkGUID
		}
		if stopped {
			rs.stopped = true
		}
		sh.content.SetNextLSN(h.LastLSN)
		out.needMore = (o.stopAt != nil || o.stopAtLSN != nil) && !stopped
	}
	in.msdb.restores = append(in.msdb.restores, restoreRow{
		id: int32(len(in.msdb.restores) + 1), date: in.sim.Now(), dest: db.name, user: x.s.login,
		backupSetID: in.restoredSetLocked(h, tr, devices), typ: map[int]string{1: "D", 2: "L", 5: "I"}[h.BackupType],
		replace: o.replace, recovery: !o.noRecovery, stopAt: o.stopAt.wallIn(in.zone()),
	})
	if !o.noRecovery && !out.needMore {
		db.recoverLocked()
		out.recovered = true
	}
	return out, nil
}

// restoredSetLocked returns the msdb backupset row of a restored backup set, adding it (with
// its media rows) if this instance has none: SQL Server records every backup set it
// restores, so restorehistory always links to one.
func (in *Instance) restoredSetLocked(h media.Header, tr media.Trailer, devices []string) int32 {
	for _, s := range in.msdb.sets {
		if s.uuid == h.BackupSetGUID {
			return s.id
		}
	}
	hist := &in.msdb
	mediaID := int32(len(hist.mediaSets) + 1)
	hist.mediaSets = append(hist.mediaSets, mediaSetRow{id: mediaID, uuid: h.MediaSetGUID, families: uint8(len(devices)), compressed: h.Compressed})
	for i, d := range devices {
		hist.families = append(hist.families, mediaFamilyRow{mediaSetID: mediaID, seq: uint8(i + 1), familyID: newGUID(), device: d, deviceType: uint8(headerDeviceType(h))})
	}
	dec := func(l content.LSN) sqltypes.Decimal { return extLSN(h, l).(sqltypes.Decimal) }
	row := &backupSetRow{
		id: int32(len(hist.sets) + 1), uuid: h.BackupSetGUID, mediaSetID: mediaID, families: uint8(len(devices)),
		name: nilIfEmpty(h.BackupName), description: nilIfEmpty(h.BackupDescription), user: h.UserName,
		major: int32(h.SoftwareVersionMajor), minor: int32(h.SoftwareVersionMinor), build: int32(h.SoftwareVersionBuild),
		server: h.ServerName, machine: h.MachineName, database: h.DatabaseName, databaseGUID: h.DatabaseGUID,
		familyGUID: h.FamilyGUID, created: h.DatabaseCreationDate, start: h.BackupStartDate, finish: tr.BackupFinishDate,
		typ: map[int]string{1: "D", 2: "L", 5: "I"}[h.BackupType], firstLSN: dec(h.FirstLSN), lastLSN: dec(h.LastLSN),
		checkpointLSN: dec(h.CheckpointLSN), databaseBackupLSN: extLSNOrNull(h, h.DatabaseBackupLSN),
		forkGUID: h.RecoveryForkGUID, firstForkGUID: h.FirstRecoveryForkGUID, checksums: h.HasBackupChecksums,
		copyOnly: h.IsCopyOnly, readOnly: h.IsReadOnly, recovery: h.RecoveryModel, size: tr.BackupSize,
		compressed: tr.CompressedBackupSize, collation: h.Collation, zone: headerZone(h),
	}
	if h.BackupType == 5 {
		row.diffBaseLSN, row.diffBaseGUID = dec(h.DifferentialBaseLSN), h.DifferentialBaseGUID
	}
	hist.sets = append(hist.sets, row)
	return row.id
}

// recoverLocked brings a RESTORING database online at the point its restore reached.
func (db *Database) recoverLocked() {
	rs := db.restore
	sh := db.shared
	if rs != nil {
		sh.mu.Lock()
		sh.content.SetNextLSN(max(rs.redo, sh.content.NextLSN()))
		sh.diffBase = rs.baseCheckpoint
		if db.recovery != "SIMPLE" {
			sh.lastLogBackup = rs.redo
		}
		sh.mu.Unlock()
		// Every recovery of a restore sequence starts a new recovery fork at the LSN it
		// recovered at ("Recovery Paths": restoring a full and recovering without other
		// backups creates a new recovery path, as does any recovery short of the end of the
		// log). The first log backup after it spans that fork point.
		db.prevForkGUID, db.forkPoint = rs.fork, rs.redo
		db.forkGUID = newGUID()
	}
	db.state = StateOnline
	db.restore = nil
}

// recoverOnly is RESTORE DATABASE name WITH RECOVERY.
func (x *executor) recoverOnly(name string) error {
	in := x.s.in
	in.mu.Lock()
	db, ok := in.dbs[strings.ToUpper(name)]
	if !ok {
		in.mu.Unlock()
		return sqlErr(3118, "The database \"%s\" does not exist. RESTORE can only create a database when restoring either a full backup or a file backup of the primary file.", name)
	}
	if db.state != StateRestoring || db.restore == nil {
		in.mu.Unlock()
		if db.state == StateRestoring {
			return sqlErr(4333, "The database cannot be recovered because the log was not restored.")
		}
		return sqlErr(3117, "The log or differential backup cannot be restored because no files are ready to rollforward.")
	}
	db.recoverLocked()
	in.mu.Unlock()
	x.info(3014, "RESTORE DATABASE successfully processed 0 pages in 0.001 seconds (0.000 MB/sec).")
	return x.done(0, false)
}
