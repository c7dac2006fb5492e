package tsql

// Tables: CREATE TABLE and INSERT … VALUES, the statements a workload needs to write rows a
// backup must carry (the acceptance suite's workload). Anything beyond this subset is
// reported as unsupported, never silently accepted.

// CreateTable is CREATE TABLE [db.][schema.]name (column, …).
type CreateTable struct {
	Name    Name
	Columns []ColumnDef
}

// ColumnDef is one column: name type [NULL | NOT NULL] [PRIMARY KEY [CLUSTERED|NONCLUSTERED]].
type ColumnDef struct {
	Name       string
	Type       TypeName
	NotNull    bool
	PrimaryKey bool
}

// Insert is INSERT [INTO] [db.][schema.]name [(column, …)] VALUES (expr, …)[, (…)].
type Insert struct {
	Table   Name
	Columns []string // nil: every column, in table order
	Rows    [][]Expr
}

func (*CreateTable) stmt() {}
func (*Insert) stmt()      {}

func (p *parser) createTable() *CreateTable {
	p.next() // TABLE
	if !isIdent(p.peek()) {
		p.errNear(p.peek())
	}
	c := &CreateTable{Name: p.nameFrom(p.next())}
	p.expectOp("(")
	for {
		if p.atWord("CONSTRAINT") || p.atWord("PRIMARY") || p.atWord("UNIQUE") || p.atWord("INDEX") || p.atWord("FOREIGN") || p.atWord("CHECK") {
			p.unsupported("CREATE TABLE with table constraints", p.peek().line)
		}
		c.Columns = append(c.Columns, p.columnDef())
		if !p.acceptOp(",") {
			break
		}
	}
	p.expectOp(")")
	return c
}

func (p *parser) columnDef() ColumnDef {
	d := ColumnDef{Name: p.ident()}
	d.Type = p.typeName()
	for {
		switch {
		case p.acceptWord("NULL"):
		case p.atWord("NOT") && isWord(p.peekAt(1), "NULL"):
			p.next()
			p.next()
			d.NotNull = true
		case p.acceptWord("PRIMARY"):
			p.expectWord("KEY")
			if !p.acceptWord("CLUSTERED") {
				p.acceptWord("NONCLUSTERED")
			}
			d.PrimaryKey, d.NotNull = true, true
		case p.atWord("IDENTITY") || p.atWord("DEFAULT") || p.atWord("CONSTRAINT") || p.atWord("UNIQUE") ||
			p.atWord("REFERENCES") || p.atWord("CHECK") || p.atWord("COLLATE") || p.atWord("AS"):
			p.unsupported("CREATE TABLE column option "+p.peek().text, p.peek().line)
		default:
			return d
		}
	}
}

func (p *parser) insert() *Insert {
	p.next() // INSERT
	p.acceptWord("INTO")
	if !isIdent(p.peek()) {
		p.errNear(p.peek())
	}
	ins := &Insert{Table: p.nameFrom(p.next())}
	if p.acceptOp("(") {
		for {
			ins.Columns = append(ins.Columns, p.ident())
			if !p.acceptOp(",") {
				break
			}
		}
		p.expectOp(")")
	}
	if !p.atWord("VALUES") {
		p.unsupported("INSERT without VALUES (INSERT … SELECT, EXEC, DEFAULT VALUES)", p.peek().line)
	}
	p.next() // VALUES
	for {
		p.expectOp("(")
		var row []Expr
		for {
			e := p.scalar()
			p.requireScalar(e)
			row = append(row, e)
			if !p.acceptOp(",") {
				break
			}
		}
		p.expectOp(")")
		ins.Rows = append(ins.Rows, row)
		if !p.acceptOp(",") {
			return ins
		}
	}
}
