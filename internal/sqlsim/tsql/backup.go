package tsql

import "strings"

// optForm says which forms a BACKUP/RESTORE WITH option may take.
type optForm uint8

const (
	optFlag  optForm = 1 << iota // alone: CHECKSUM
	optValue                     // NAME = value
	optParen                     // NAME (…), kept raw: ENCRYPTION (ALGORITHM = AES_256, …)
	optMove                      // MOVE 'logical' TO 'physical'
	optAfter                     // STOPATMARK = 'mark' AFTER 'datetime' (AFTER goes in Option.To)
)

// backupOptions and restoreOptions are the WITH options SQL Server accepts for each statement;
// anything else is a syntax error there, as in SQL Server.
var backupOptions = map[string]optForm{
	"COPY_ONLY": optFlag, "DIFFERENTIAL": optFlag, "COMPRESSION": optFlag | optParen,
	"NO_COMPRESSION": optFlag, "CHECKSUM": optFlag, "NO_CHECKSUM": optFlag,
	"STOP_ON_ERROR": optFlag, "CONTINUE_AFTER_ERROR": optFlag, "FORMAT": optFlag,
	"NOFORMAT": optFlag, "INIT": optFlag, "NOINIT": optFlag, "SKIP": optFlag, "NOSKIP": optFlag,
	"REWIND": optFlag, "NOREWIND": optFlag, "UNLOAD": optFlag, "NOUNLOAD": optFlag,
	"NORECOVERY": optFlag, "NO_TRUNCATE": optFlag, "RESTART": optFlag, "FILE_SNAPSHOT": optFlag,
	"METADATA_ONLY": optFlag, "STATS": optFlag | optValue,
	"NAME": optValue, "DESCRIPTION": optValue, "EXPIREDATE": optValue, "RETAINDAYS": optValue,
	"PASSWORD": optValue, "MEDIANAME": optValue, "MEDIADESCRIPTION": optValue,
	"MEDIAPASSWORD": optValue, "BLOCKSIZE": optValue, "BUFFERCOUNT": optValue,
	"MAXTRANSFERSIZE": optValue, "STANDBY": optValue, "CREDENTIAL": optValue,
	"ENCRYPTION": optParen,
}

var restoreOptions = map[string]optForm{
	"RECOVERY": optFlag, "NORECOVERY": optFlag, "REPLACE": optFlag, "RESTART": optFlag,
	"RESTRICTED_USER": optFlag, "CHECKSUM": optFlag, "NO_CHECKSUM": optFlag,
	"STOP_ON_ERROR": optFlag, "CONTINUE_AFTER_ERROR": optFlag, "KEEP_REPLICATION": optFlag,
	"KEEP_CDC": optFlag, "ENABLE_BROKER": optFlag, "ERROR_BROKER_CONVERSATIONS": optFlag,
	"NEW_BROKER": optFlag, "PARTIAL": optFlag, "REWIND": optFlag, "NOREWIND": optFlag,
	"UNLOAD": optFlag, "NOUNLOAD": optFlag, "LOADHISTORY": optFlag, "STATS": optFlag | optValue,
	"FILE": optValue, "PASSWORD": optValue, "MEDIANAME": optValue, "MEDIAPASSWORD": optValue,
	"BLOCKSIZE": optValue, "BUFFERCOUNT": optValue, "MAXTRANSFERSIZE": optValue,
	"STANDBY": optValue, "STOPAT": optValue, "CREDENTIAL": optValue,
	"STOPATMARK": optValue | optAfter, "STOPBEFOREMARK": optValue | optAfter,
	"MOVE": optMove, "FILESTREAM": optParen,
}

// deviceKinds are the device types of TO/FROM; DATABASE_SNAPSHOT only in RESTORE.
var deviceKinds = toSet(`URL DISK TAPE VIRTUAL_DEVICE`)

func (p *parser) backup() *Backup {
	kw := p.next() // BACKUP
	kind := p.next()
	if !isWord(kind, "DATABASE") && !isWord(kind, "LOG") {
		if kind.kind == tokWord { // CERTIFICATE, MASTER KEY, SERVICE MASTER KEY, …
			p.unsupported("BACKUP "+strings.ToUpper(kind.text), kw.line)
		}
		p.errNear(kind)
	}
	b := &Backup{Kind: strings.ToUpper(kind.text)}
	b.Database, b.DatabaseVar = p.databaseRef()
	if p.atWord("FILE") || p.atWord("FILEGROUP") || p.atWord("READ_WRITE_FILEGROUPS") {
		p.unsupported("file and filegroup backups", kw.line)
	}
	p.expectWord("TO")
	b.To = p.devices(false)
	for p.acceptWord("MIRROR") {
		p.expectWord("TO")
		b.MirrorTo = append(b.MirrorTo, p.devices(false)...)
	}
	if p.acceptWord("WITH") {
		b.With = p.options(backupOptions)
	}
	return b
}

func (p *parser) restore() *Restore {
	kw := p.next() // RESTORE
	kind := p.next()
	r := &Restore{Kind: strings.ToUpper(kind.text)}
	switch {
	case isWord(kind, "DATABASE"), isWord(kind, "LOG"):
		r.Database, r.DatabaseVar = p.databaseRef()
		if p.atWord("FILE") || p.atWord("FILEGROUP") || p.atWord("PAGE") || p.atWord("READ_WRITE_FILEGROUPS") {
			p.unsupported("piecemeal, file and page restores", kw.line)
		}
		if p.acceptWord("FROM") {
			r.From = p.devices(true)
		}
	case isWord(kind, "HEADERONLY"), isWord(kind, "FILELISTONLY"), isWord(kind, "VERIFYONLY"), isWord(kind, "LABELONLY"):
		p.expectWord("FROM")
		r.From = p.devices(false)
	case isWord(kind, "REWINDONLY"):
		p.unsupported("RESTORE REWINDONLY", kw.line)
	default:
		p.errNear(kind)
	}
	if p.acceptWord("WITH") {
		r.With = p.options(restoreOptions)
	}
	return r
}

// databaseRef reads the database of BACKUP/RESTORE: a name, or a variable holding it.
func (p *parser) databaseRef() (name, variable string) {
	if t := p.peek(); t.kind == tokVar {
		p.next()
		return "", t.text[1:]
	}
	return p.ident(), ""
}

// devices reads KIND = 'value' | @var, … . RESTORE may also revert from a database snapshot.
func (p *parser) devices(snapshot bool) []Device {
	var out []Device
	for {
		t := p.peek()
		kind := strings.ToUpper(t.text)
		switch {
		case t.kind == tokWord && (deviceKinds[kind] || snapshot && kind == "DATABASE_SNAPSHOT"):
			p.next()
		case isIdent(t) || t.kind == tokVar:
			p.unsupported("logical backup devices", t.line)
		default:
			p.errNear(t)
		}
		p.expectOp("=")
		out = append(out, Device{Kind: kind, Value: p.constant()})
		if !p.acceptOp(",") {
			return out
		}
	}
}

// constant reads the value of a device or option: a string, a number or a variable (SQL
// Server allows no expressions there).
func (p *parser) constant() Expr {
	t := p.next()
	switch t.kind {
	case tokString:
		return &StringLit{Value: t.val, Unicode: t.unicode}
	case tokNumber:
		return &NumberLit{Text: t.text}
	case tokVar:
		return &Variable{Name: t.text[1:]}
	}
	p.errNear(t)
	return nil
}

// options reads WITH option, … against the statement's option table: names in any case and
// order; flags alone, valued options with "= value".
func (p *parser) options(table map[string]optForm) []Option {
	var out []Option
	for {
		t := p.next()
		name := strings.ToUpper(t.text)
		form, ok := table[name]
		if !ok || t.kind != tokWord {
			p.errNear(t)
		}
		o := Option{Name: name}
		switch {
		case form&optMove != 0:
			o.Value = p.constant()
			p.expectWord("TO")
			o.To = p.constant()
		case form&optValue != 0 && p.acceptOp("="):
			o.Value = p.constant()
			if form&optAfter != 0 && p.acceptWord("AFTER") {
				o.To = p.constant()
			}
		case form&optParen != 0 && p.atOp("("):
			o.Raw = p.skipParens()
		case form&optFlag != 0:
		default:
			p.errNear(p.peek())
		}
		out = append(out, o)
		if !p.acceptOp(",") {
			return out
		}
	}
}
