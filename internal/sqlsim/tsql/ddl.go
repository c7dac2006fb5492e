package tsql

import "strings"

// unsupportedObject fails for CREATE/ALTER/DROP of an object type the simulator does not
// model, naming it ("CREATE TABLE").
func (p *parser) unsupportedObject(verb token) {
	obj := p.peek()
	if obj.kind != tokWord {
		p.errNear(obj)
	}
	what := strings.ToUpper(verb.text) + " " + strings.ToUpper(obj.text)
	if isWord(obj, "SERVER") && p.peekAt(1).kind == tokWord { // ALTER SERVER CONFIGURATION
		what += " " + strings.ToUpper(p.peekAt(1).text)
	}
	p.unsupported(what, verb.line)
}

func (p *parser) create() Statement {
	verb := p.next()
	switch {
	case p.atWord("DATABASE"):
		return p.createDatabase()
	case p.atWord("CREDENTIAL"):
		return p.credential(false)
	case p.atWord("LOGIN"):
		return p.createLogin()
	case p.atWord("TABLE"):
		return p.createTable()
	}
	p.unsupportedObject(verb)
	return nil
}

func (p *parser) alter() []Statement {
	verb := p.next()
	switch {
	case p.atWord("DATABASE"):
		return p.alterDatabase()
	case p.atWord("CREDENTIAL"):
		return one(p.credential(true))
	case p.atWord("SERVER") && isWord(p.peekAt(1), "ROLE"):
		return one(p.alterServerRole())
	case p.atWord("AVAILABILITY"):
		return one(p.alterAvailabilityGroup())
	}
	p.unsupportedObject(verb)
	return nil
}

func (p *parser) drop() Statement {
	verb := p.next()
	switch {
	case p.acceptWord("DATABASE"):
		d := &DropDatabase{}
		if p.acceptWord("IF") {
			p.expectWord("EXISTS")
			d.IfExists = true
		}
		for {
			d.Names = append(d.Names, p.ident())
			if !p.acceptOp(",") {
				return d
			}
		}
	case p.acceptWord("CREDENTIAL"):
		return &DropCredential{Name: p.ident()}
	case p.acceptWord("LOGIN"):
		return &DropLogin{Name: p.ident()}
	}
	p.unsupportedObject(verb)
	return nil
}

// ---- databases ----

func (p *parser) createDatabase() *CreateDatabase {
	p.next() // DATABASE
	c := &CreateDatabase{Name: p.ident()}
	if p.acceptWord("CONTAINMENT") {
		p.expectOp("=")
		if !p.atWord("NONE") && !p.atWord("PARTIAL") {
			p.errNear(p.peek())
		}
		p.next() // containment changes logins, not files: nothing to keep
	}
	if p.acceptWord("ON") {
		p.acceptWord("PRIMARY")
		c.DataFiles = p.dataFiles()
		if p.atWord("LOG") && isWord(p.peekAt(1), "ON") {
			p.next()
			p.next()
			for {
				c.LogFiles = append(c.LogFiles, p.fileSpec())
				if !p.acceptOp(",") {
					break
				}
			}
		}
	}
	if p.acceptWord("AS") {
		p.expectWord("SNAPSHOT")
		p.expectWord("OF")
		c.SnapshotOf = p.ident()
		return c
	}
	if p.atWord("FOR") {
		p.unsupported("CREATE DATABASE … FOR ATTACH", p.peek().line)
	}
	if p.acceptWord("COLLATE") {
		p.ident() // the simulator compares names case-insensitively whatever the collation
	}
	if p.acceptWord("WITH") {
		p.skipDatabaseOptions()
	}
	return c
}

// dataFiles reads the file specs after ON [PRIMARY], including further filegroups, whose files
// are data files too.
func (p *parser) dataFiles() []FileSpec {
	var files []FileSpec
	for {
		if p.acceptWord("FILEGROUP") {
			p.ident()
			if p.atWord("CONTAINS") {
				p.unsupported("FILESTREAM and memory-optimized filegroups", p.peek().line)
			}
			p.acceptWord("DEFAULT")
		}
		files = append(files, p.fileSpec())
		if !p.acceptOp(",") {
			return files
		}
	}
}

// fileSpec reads (NAME = …, FILENAME = '…', SIZE = …, MAXSIZE = …, FILEGROWTH = …) in any order.
func (p *parser) fileSpec() FileSpec {
	p.expectOp("(")
	var f FileSpec
	for {
		t := p.next()
		p.expectOp("=")
		switch {
		case isWord(t, "NAME"):
			f.Name = p.nameOrString()
		case isWord(t, "FILENAME"):
			f.FileName = p.stringValue()
		case isWord(t, "SIZE"):
			f.Size = p.size(false, false)
		case isWord(t, "MAXSIZE"):
			f.MaxSize = p.size(true, false)
		case isWord(t, "FILEGROWTH"):
			f.FileGrowth = p.size(false, true)
		default:
			p.errNear(t)
		}
		if !p.acceptOp(",") {
			break
		}
	}
	p.expectOp(")")
	return f
}

// size reads a file size as written, with its unit upper-cased: 8MB, 1024KB, 10, 10%, UNLIMITED.
func (p *parser) size(unlimited, percent bool) string {
	if unlimited && p.atWord("UNLIMITED") {
		p.next()
		return "UNLIMITED"
	}
	n := p.next()
	if n.kind != tokNumber {
		p.errNear(n)
	}
	switch t := p.peek(); {
	case isWord(t, "KB"), isWord(t, "MB"), isWord(t, "GB"), isWord(t, "TB"):
		p.next()
		return n.text + strings.ToUpper(t.text)
	case percent && isOp(t, "%"):
		p.next()
		return n.text + "%"
	}
	return n.text
}

// skipDatabaseOptions skips CREATE DATABASE … WITH options (TRUSTWORTHY ON, DB_CHAINING OFF,
// CATALOG_COLLATION = …, FILESTREAM (…)); none of them bears on backup and restore.
func (p *parser) skipDatabaseOptions() {
	for {
		p.ident()
		if p.acceptOp("=") || p.atWord("ON") || p.atWord("OFF") {
			p.next()
		} else if p.atOp("(") {
			p.skipParens()
		}
		if !p.acceptOp(",") {
			return
		}
	}
}

// alterDatabase reads ALTER DATABASE name SET option [, option …] [WITH termination] or
// MODIFY NAME = new. Several SET options become one statement each, sharing the termination.
func (p *parser) alterDatabase() []Statement {
	kw := p.next() // DATABASE
	if p.atWord("CURRENT") {
		p.unsupported("ALTER DATABASE CURRENT", kw.line)
	}
	name := p.ident()
	switch t := p.peek(); {
	case p.acceptWord("MODIFY"):
		if p.atWord("FILE") {
			p.unsupported("ALTER DATABASE … MODIFY FILE", t.line)
		}
		p.expectWord("NAME")
		p.expectOp("=")
		return one(&AlterDatabase{Name: name, ModifyName: p.ident()})
	case p.acceptWord("SET"):
		var sets [][]string
		for {
			sets = append(sets, p.databaseOption())
			if !p.acceptOp(",") {
				break
			}
		}
		term := p.termination()
		out := make([]Statement, len(sets))
		for i, set := range sets {
			out[i] = &AlterDatabase{Name: name, Set: set, Termination: term}
		}
		return out
	case p.atWord("ADD"), p.atWord("REMOVE"), p.atWord("COLLATE"):
		p.unsupported("ALTER DATABASE … "+strings.ToUpper(t.text), t.line)
	}
	p.errNear(p.peek())
	return nil
}

// singleWordDatabaseOptions are the ALTER DATABASE SET options that stand alone.
var singleWordDatabaseOptions = toSet(`READ_ONLY READ_WRITE OFFLINE ONLINE EMERGENCY SINGLE_USER
	MULTI_USER RESTRICTED_USER ENABLE_BROKER DISABLE_BROKER NEW_BROKER ERROR_BROKER_CONVERSATIONS`)

// databaseOption reads one ALTER DATABASE SET option as upper-cased words: {"RECOVERY","FULL"},
// {"OFFLINE"}, {"HADR","OFF"}, {"HADR","AVAILABILITY","GROUP", ag}. Options the simulator has
// no rules for (PAGE_VERIFY CHECKSUM, COMPATIBILITY_LEVEL = 150, …) are kept generically as
// name and value words, the "=" dropped, for the engine to accept or refuse.
func (p *parser) databaseOption() []string {
	t := p.next()
	if t.kind != tokWord || isReserved(t) {
		p.errNear(t)
	}
	opt := strings.ToUpper(t.text)
	switch {
	case opt == "RECOVERY":
		v := p.next()
		if !isWord(v, "FULL") && !isWord(v, "SIMPLE") && !isWord(v, "BULK_LOGGED") {
			p.errNear(v)
		}
		return []string{opt, strings.ToUpper(v.text)}
	case singleWordDatabaseOptions[opt]:
		return []string{opt}
	case opt == "HADR":
		v := p.next()
		switch {
		case isWord(v, "OFF"), isWord(v, "SUSPEND"), isWord(v, "RESUME"):
			return []string{opt, strings.ToUpper(v.text)}
		case isWord(v, "AVAILABILITY"):
			p.expectWord("GROUP")
			p.expectOp("=")
			return []string{opt, "AVAILABILITY", "GROUP", p.ident()}
		}
		p.errNear(v)
	}
	set := []string{opt}
	p.acceptOp("=")
	for {
		v := p.peek()
		switch {
		case v.kind == tokNumber, v.kind == tokString, v.kind == tokQuoted:
			set = append(set, v.val)
		case isWord(v, "ON"), isWord(v, "OFF"), isWord(v, "FULL"), v.kind == tokWord && !isReserved(v):
			set = append(set, strings.ToUpper(v.text))
		case isOp(v, "("):
			p.unsupported("ALTER DATABASE SET "+opt+" (…)", v.line)
		default:
			if len(set) == 1 {
				p.errNear(v)
			}
			return set
		}
		p.next()
	}
}

// termination reads WITH ROLLBACK IMMEDIATE | ROLLBACK AFTER n [SECONDS] | NO_WAIT.
func (p *parser) termination() string {
	if !p.acceptWord("WITH") {
		return ""
	}
	t := p.next()
	switch {
	case isWord(t, "NO_WAIT"):
		return "NO_WAIT"
	case isWord(t, "ROLLBACK"):
		if p.acceptWord("IMMEDIATE") {
			return "ROLLBACK IMMEDIATE"
		}
		p.expectWord("AFTER")
		n := p.next()
		if n.kind != tokNumber {
			p.errNear(n)
		}
		p.acceptWord("SECONDS")
		return "ROLLBACK AFTER " + n.text
	}
	p.errNear(t)
	return ""
}

// ---- security ----

// credential reads [CREATE|ALTER] CREDENTIAL name WITH IDENTITY = '…' [, SECRET = '…'].
func (p *parser) credential(alter bool) *CreateCredential {
	p.next() // CREDENTIAL
	c := &CreateCredential{Name: p.ident(), Alter: alter}
	p.expectWord("WITH")
	p.expectWord("IDENTITY")
	p.expectOp("=")
	c.Identity = p.stringValue()
	if p.acceptOp(",") {
		p.expectWord("SECRET")
		p.expectOp("=")
		c.Secret = p.stringValue()
	}
	if p.atWord("FOR") {
		p.unsupported("CREDENTIAL … FOR CRYPTOGRAPHIC PROVIDER", p.peek().line)
	}
	return c
}

func (p *parser) createLogin() *CreateLogin {
	p.next() // LOGIN
	l := &CreateLogin{Name: p.ident()}
	if p.atWord("FROM") {
		p.unsupported("CREATE LOGIN … FROM (Windows, certificate, key or external provider)", p.peek().line)
	}
	p.expectWord("WITH")
	p.expectWord("PASSWORD")
	p.expectOp("=")
	if p.peek().kind == tokBinary {
		p.unsupported("CREATE LOGIN … PASSWORD = hash HASHED", p.peek().line)
	}
	l.Password = p.stringValue()
	p.acceptWord("MUST_CHANGE")
	// The remaining options shape password policy and defaults, which the simulator does
	// not model; they are checked for form and dropped.
	for p.acceptOp(",") {
		t := p.next()
		p.expectOp("=")
		switch {
		case isWord(t, "CHECK_POLICY"), isWord(t, "CHECK_EXPIRATION"):
			if v := p.next(); !isWord(v, "ON") && !isWord(v, "OFF") {
				p.errNear(v)
			}
		case isWord(t, "DEFAULT_DATABASE"), isWord(t, "DEFAULT_LANGUAGE"), isWord(t, "CREDENTIAL"):
			p.ident()
		case isWord(t, "SID"):
			if v := p.next(); v.kind != tokBinary {
				p.errNear(v)
			}
		default:
			p.errNear(t)
		}
	}
	return l
}

func (p *parser) alterServerRole() *AlterServerRole {
	p.next() // SERVER
	p.next() // ROLE
	r := &AlterServerRole{Role: p.ident()}
	switch t := p.next(); {
	case isWord(t, "ADD"):
		r.Add = true
	case isWord(t, "DROP"):
	case isWord(t, "WITH"):
		p.unsupported("ALTER SERVER ROLE … WITH NAME", t.line)
	default:
		p.errNear(t)
	}
	p.expectWord("MEMBER")
	r.Member = p.ident()
	return r
}

// ---- availability groups and DBCC ----

func (p *parser) alterAvailabilityGroup() *AlterAvailabilityGroup {
	p.next() // AVAILABILITY
	p.expectWord("GROUP")
	a := &AlterAvailabilityGroup{Group: p.ident()}
	t := p.next()
	switch {
	case isWord(t, "FAILOVER"), isWord(t, "FORCE_FAILOVER_ALLOW_DATA_LOSS"):
		a.Action = strings.ToUpper(t.text)
	case isWord(t, "SET"):
		a.Action = "SET"
		a.Options = p.agOptions()
	case isWord(t, "MODIFY") && p.atWord("REPLICA"):
		p.next()
		a.Action = "MODIFY REPLICA"
		p.expectWord("ON")
		a.Replica = p.nameOrString()
		p.expectWord("WITH")
		a.Options = p.agOptions()
	case t.kind == tokWord:
		p.unsupported("ALTER AVAILABILITY GROUP … "+strings.ToUpper(t.text), t.line)
	default:
		p.errNear(t)
	}
	return a
}

// agOptions reads (NAME = value, …); a value may itself be parenthesised
// (SECONDARY_ROLE (ALLOW_CONNECTIONS = ALL)), which is kept as raw text.
func (p *parser) agOptions() map[string]string {
	p.expectOp("(")
	opts := map[string]string{}
	for {
		name := p.next()
		if name.kind != tokWord {
			p.errNear(name)
		}
		key := strings.ToUpper(name.text)
		if p.atOp("(") {
			opts[key] = p.skipParens()
		} else {
			p.expectOp("=")
			switch v := p.next(); {
			case v.kind == tokNumber, v.kind == tokString, v.kind == tokWord, v.kind == tokQuoted:
				opts[key] = v.val
			default:
				p.errNear(v)
			}
		}
		if !p.acceptOp(",") {
			break
		}
	}
	p.expectOp(")")
	return opts
}

func (p *parser) dbcc() *Dbcc {
	p.next() // DBCC
	cmd := p.next()
	if cmd.kind != tokWord {
		p.errNear(cmd)
	}
	d := &Dbcc{Command: strings.ToUpper(cmd.text)}
	if p.atOp("(") {
		p.next()
		d.Args = p.args(Name{Parts: []string{cmd.text}})
	}
	if p.acceptWord("WITH") {
		for {
			opt := p.next()
			if opt.kind != tokWord {
				p.errNear(opt)
			}
			w := strings.ToUpper(opt.text)
			if p.acceptOp("=") { // MAXDOP = 4
				v := p.next()
				if v.kind != tokNumber {
					p.errNear(v)
				}
				w += "=" + v.text
			}
			d.With = append(d.With, w)
			if !p.acceptOp(",") {
				break
			}
		}
	}
	return d
}
