package tsql

import (
	"strings"
)

// maxDepth bounds nesting (parentheses, subqueries, IF and BEGIN blocks) so a hostile batch
// gets SQL Server's error 191 instead of exhausting the stack.
const maxDepth = 200

// Parse reads a batch. On failure it returns *SyntaxError, or *UnsupportedError for valid
// T-SQL the simulator does not model. An empty batch (or only comments) has no statements.
//
// Conventions beyond the AST's own comments:
//   - One statement may yield several: SET ANSI_NULLS, ANSI_PADDING ON gives one SetOption
//     per option; SELECT @a = 1, @b = 2 one SetVariable per variable; ALTER DATABASE x SET
//     RECOVERY FULL, PAGE_VERIFY CHECKSUM one AlterDatabase per option (same Termination).
//     Under IF/ELSE such a group is wrapped in a Block.
//   - SET @a += x is SetVariable{a, Binary{"+", @a, x}}.
//   - SetOption.Value: ON/OFF upper case; numbers as written ("-1"); words as written
//     ("LOW"); strings without quotes; variables with their @ ("@n").
//   - A bare word as an EXEC argument (EXEC sp_helpdb master) is a Unicode StringLit.
//   - Niladic functions (CURRENT_TIMESTAMP, SYSTEM_USER, USER …) are FuncCalls with no Args.
//   - Backup/restore Device.Kind may also be "TAPE", and "DATABASE_SNAPSHOT" in RESTORE.
//   - Option.To also carries the AFTER 'datetime' of STOPATMARK / STOPBEFOREMARK.
//   - AlterDatabase.Set for joining an AG is {"HADR","AVAILABILITY","GROUP",ag}; options the
//     parser has no rule for keep their words ({"PAGE_VERIFY","CHECKSUM"},
//     {"COMPATIBILITY_LEVEL","160"}), "=" dropped, words upper-cased, strings and numbers as written.
//   - CREATE DATABASE: files of further FILEGROUPs are DataFiles; COLLATE, CONTAINMENT and
//     WITH options are checked and dropped. CREATE LOGIN options other than PASSWORD likewise.
//   - Table hints, join hints, RAISERROR's WITH options and CHECKPOINT's duration are
//     accepted and dropped.
//   - "GO" is read as SQL Server reads it: a procedure call when it opens the batch, a column
//     or table alias after SELECT … or FROM t, an argument after EXEC p, otherwise error 102.
func Parse(sql string) (batch *Batch, err error) {
	toks, lexErr := lex(sql)
	p := &parser{src: sql, toks: toks, lexErr: lexErr, opTok: map[Expr]token{}}
	defer func() {
		if r := recover(); r != nil {
			b, ok := r.(bailout)
			if !ok {
				panic(r) // a bug, not a property of the input: let it surface
			}
			batch, err = nil, b.err
		}
	}()
	return p.batch(), nil
}

// bailout carries a parse error up the recursive descent; Parse recovers it. Parsing stops at
// the first error, as SQL Server reports the first syntax error of a batch.
type bailout struct{ err error }

type parser struct {
	src    string
	toks   []token
	pos    int
	lexErr *SyntaxError
	// opTok remembers the operator token of every boolean expression, so a condition used
	// where a value is required can be reported near its operator, as SQL Server does.
	opTok map[Expr]token
	depth int
}

func (p *parser) fail(err error) { panic(bailout{err}) }

// ---- tokens ----

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) peekAt(n int) token {
	if i := p.pos + n; i < len(p.toks) {
		return p.toks[i]
	}
	return p.toks[len(p.toks)-1]
}

// next consumes a token; the final EOF or error token is never passed.
func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tokEOF && t.kind != tokError {
		p.pos++
	}
	return t
}

func isWord(t token, w string) bool { return t.kind == tokWord && strings.EqualFold(t.text, w) }

func isOp(t token, op string) bool { return t.kind == tokOp && t.text == op }

func (p *parser) atWord(words ...string) bool {
	for _, w := range words {
		if isWord(p.peek(), w) {
			return true
		}
	}
	return false
}

func (p *parser) atOp(op string) bool { return isOp(p.peek(), op) }

func (p *parser) acceptWord(w string) bool {
	if p.atWord(w) {
		p.next()
		return true
	}
	return false
}

func (p *parser) acceptOp(op string) bool {
	if p.atOp(op) {
		p.next()
		return true
	}
	return false
}

func (p *parser) expectWord(w string) token {
	if !p.atWord(w) {
		p.errNear(p.peek())
	}
	return p.next()
}

func (p *parser) expectOp(op string) token {
	if !p.atOp(op) {
		p.errNear(p.peek())
	}
	return p.next()
}

// isIdent reports whether t can be a name: an unreserved word or a delimited identifier.
func isIdent(t token) bool {
	return t.kind == tokQuoted || t.kind == tokWord && !isReserved(t)
}

// ident reads one identifier and returns it without quoting.
func (p *parser) ident() string {
	if !isIdent(p.peek()) {
		p.errNear(p.peek())
	}
	return p.next().val
}

// nameFrom reads the rest of a multipart name whose first part is first:
// a.b.c, and a..c with the omitted part as "".
func (p *parser) nameFrom(first token) Name {
	parts := []string{first.val}
	for p.acceptOp(".") {
		if p.atOp(".") {
			parts = append(parts, "")
			continue
		}
		parts = append(parts, p.ident())
	}
	return Name{Parts: parts}
}

func (p *parser) stringValue() string {
	if p.peek().kind != tokString {
		p.errNear(p.peek())
	}
	return p.next().val
}

// nameOrString reads a value SQL Server accepts either as an identifier or as a string,
// like a logical file name.
func (p *parser) nameOrString() string {
	if p.peek().kind == tokString {
		return p.next().val
	}
	return p.ident()
}

// ---- errors ----

// errNear fails with SQL Server's "Incorrect syntax near …" for token t: 156 for a reserved
// keyword, 102 otherwise. At the end of the batch SQL Server quotes the last token it read.
func (p *parser) errNear(t token) {
	if t.kind == tokError {
		p.fail(p.lexErr)
	}
	if t.kind == tokEOF {
		last := p.lastToken()
		p.fail(newSyntaxError(errIncorrectSyntax, last.line, "Incorrect syntax near '%s'.", nearText(last)))
	}
	if isReserved(t) {
		p.fail(newSyntaxError(errKeywordSyntax, t.line, "Incorrect syntax near the keyword '%s'.", t.text))
	}
	p.fail(newSyntaxError(errIncorrectSyntax, t.line, "Incorrect syntax near '%s'.", nearText(t)))
}

func (p *parser) lastToken() token {
	if p.pos > 0 {
		return p.toks[p.pos-1]
	}
	return p.toks[0]
}

// nearText is how SQL Server quotes a token in an error: identifiers and strings without
// their quotes, everything else as written.
func nearText(t token) string {
	if t.kind == tokQuoted || t.kind == tokString {
		return t.val
	}
	return t.text
}

// unsupported fails with *UnsupportedError — unless the batch also has a lexical error, which
// SQL Server would report before running anything.
func (p *parser) unsupported(what string, line int) {
	if p.lexErr != nil {
		p.fail(p.lexErr)
	}
	p.fail(&UnsupportedError{Statement: what, Line: line})
}

func (p *parser) enter() {
	p.depth++
	if p.depth > maxDepth {
		p.fail(newSyntaxError(errNestedTooDeeply, p.peek().line,
			"Some part of your SQL statement is nested too deeply. Rewrite the query or break it up into smaller queries."))
	}
}

func (p *parser) leave() { p.depth-- }

// ---- batch and statements ----

func (p *parser) batch() *Batch {
	b := &Batch{}
	for {
		for p.acceptOp(";") {
		}
		if p.peek().kind == tokEOF {
			return b
		}
		b.Statements = append(b.Statements, p.statement(len(b.Statements) == 0)...)
	}
}

// statement reads one statement and its optional terminating semicolon. A few statements
// expand to several (SET ANSI_NULLS, ANSI_PADDING ON; SELECT @a = 1, @b = 2). first is true
// for the first statement of the batch, where SQL Server runs a bare procedure name.
func (p *parser) statement(first bool) []Statement {
	p.enter()
	defer p.leave()
	t := p.peek()
	var out []Statement
	switch word := strings.ToUpper(t.text); {
	case t.kind != tokWord && t.kind != tokQuoted:
		p.errNear(t)
	case t.kind == tokQuoted:
		if !first {
			p.errNear(t)
		}
		out = one(p.execBody())
	case word == "SELECT":
		out = p.selectStatement()
	case word == "USE":
		p.next()
		out = one(&Use{Database: p.ident()})
	case word == "SET":
		out = p.set()
	case word == "DECLARE":
		out = one(p.declare())
	case word == "EXEC" || word == "EXECUTE":
		out = one(p.exec())
	case word == "PRINT":
		p.next()
		out = one(&Print{Value: p.scalar()})
	case word == "RAISERROR":
		out = one(p.raiserror())
	case word == "IF":
		out = one(p.ifStatement())
	case word == "BEGIN":
		out = one(p.block())
	case word == "WAITFOR":
		out = one(p.waitfor())
	case word == "KILL":
		out = one(p.kill())
	case word == "CHECKPOINT":
		p.next()
		if p.peek().kind == tokNumber { // CHECKPOINT duration: irrelevant to a simulator
			p.next()
		}
		out = one(&Checkpoint{})
	case word == "CREATE":
		out = one(p.create())
	case word == "ALTER":
		out = p.alter()
	case word == "DROP":
		out = one(p.drop())
	case word == "BACKUP":
		out = one(p.backup())
	case word == "RESTORE":
		out = one(p.restore())
	case word == "DBCC":
		out = one(p.dbcc())
	case word == "INSERT":
		out = one(p.insert())
	case word == "WITH":
		p.unsupported("WITH (common table expressions)", t.line)
	case unsupportedStatements[word]:
		p.unsupported(word, t.line)
	case first && isIdent(t):
		// SQL Server runs a batch's leading bare name as a procedure call; this is also how
		// it reads a stray client-side "GO" at the very start of a batch.
		out = one(p.execBody())
	default:
		p.errNear(t)
	}
	p.acceptOp(";")
	return out
}

func one(s Statement) []Statement { return []Statement{s} }

// single turns the statements of one source statement into one Statement (for IF and ELSE).
func single(stmts []Statement) Statement {
	if len(stmts) == 1 {
		return stmts[0]
	}
	return &Block{Statements: stmts}
}

// ---- session and control statements ----

func (p *parser) set() []Statement {
	p.next() // SET
	t := p.peek()
	if t.kind == tokVar {
		p.next()
		name := t.text[1:]
		// SET @a += x is shorthand for SET @a = @a + x (also -=, *=, /=, %=).
		if op := p.peek(); op.kind == tokOp && strings.Contains("+-*/%", op.text) && isOp(p.peekAt(1), "=") && p.peekAt(1).pos == op.end {
			p.next()
			p.next()
			return one(&SetVariable{Name: name, Value: &Binary{Op: op.text, Left: &Variable{Name: name}, Right: p.scalar()}})
		}
		p.expectOp("=")
		return one(&SetVariable{Name: name, Value: p.scalar()})
	}
	if t.kind != tokWord {
		p.errNear(t)
	}
	switch opt := strings.ToUpper(t.text); {
	case opt == "TRANSACTION":
		p.next()
		p.expectWord("ISOLATION")
		p.expectWord("LEVEL")
		return one(&SetOption{Option: "TRANSACTION ISOLATION LEVEL", Value: p.isolationLevel()})
	case opt == "STATISTICS":
		p.next()
		var names []string
		for {
			kind := p.next()
			if !isWord(kind, "IO") && !isWord(kind, "TIME") && !isWord(kind, "XML") && !isWord(kind, "PROFILE") {
				p.errNear(kind)
			}
			names = append(names, "STATISTICS "+strings.ToUpper(kind.text))
			if !p.acceptOp(",") {
				break
			}
		}
		return p.setOnOff(names)
	case opt == "IDENTITY_INSERT":
		p.unsupported("SET IDENTITY_INSERT", t.line)
	case onOffSetOptions[opt]:
		var names []string
		for {
			name := p.next()
			if !onOffSetOptions[strings.ToUpper(name.text)] || name.kind != tokWord {
				p.errNear(name)
			}
			names = append(names, strings.ToUpper(name.text))
			if !p.acceptOp(",") {
				break
			}
		}
		return p.setOnOff(names)
	case valueSetOptions[opt]:
		p.next()
		return one(&SetOption{Option: opt, Value: p.setValue()})
	}
	p.fail(newSyntaxError(errNotSetOption, t.line, "'%s' is not a recognized SET option.", t.val))
	return nil
}

func (p *parser) setOnOff(names []string) []Statement {
	v := p.next()
	if !isWord(v, "ON") && !isWord(v, "OFF") {
		p.errNear(v)
	}
	var out []Statement
	for _, n := range names {
		out = append(out, &SetOption{Option: n, Value: strings.ToUpper(v.text)})
	}
	return out
}

// setValue reads the value of SET LOCK_TIMEOUT and friends as written: -1, 1000, LOW,
// N'us_english' (quotes removed), @v.
func (p *parser) setValue() string {
	t := p.next()
	switch {
	case isOp(t, "-") && p.peek().kind == tokNumber:
		return "-" + p.next().text
	case t.kind == tokNumber, t.kind == tokVar, t.kind == tokBinary:
		return t.text
	case t.kind == tokString, isIdent(t):
		return t.val
	}
	p.errNear(t)
	return ""
}

func (p *parser) isolationLevel() string {
	switch t := p.next(); {
	case isWord(t, "READ"):
		lvl := p.next()
		if !isWord(lvl, "COMMITTED") && !isWord(lvl, "UNCOMMITTED") {
			p.errNear(lvl)
		}
		return "READ " + strings.ToUpper(lvl.text)
	case isWord(t, "REPEATABLE"):
		p.expectWord("READ")
		return "REPEATABLE READ"
	case isWord(t, "SNAPSHOT"), isWord(t, "SERIALIZABLE"):
		return strings.ToUpper(t.text)
	default:
		p.errNear(t)
	}
	return ""
}

func (p *parser) declare() *Declare {
	p.next() // DECLARE
	d := &Declare{}
	for {
		t := p.peek()
		if t.kind != tokVar {
			if isIdent(t) && (isWord(p.peekAt(1), "CURSOR") || isWord(p.peekAt(1), "INSENSITIVE") || isWord(p.peekAt(1), "SCROLL")) {
				p.unsupported("cursors", t.line)
			}
			p.errNear(t)
		}
		p.next()
		p.acceptWord("AS")
		if p.atWord("TABLE") || p.atWord("CURSOR") {
			p.unsupported("DECLARE @variable "+strings.ToUpper(p.peek().text), t.line)
		}
		v := DeclareVar{Name: t.text[1:], Type: p.typeName()}
		if p.acceptOp("=") {
			v.Value = p.scalar()
		}
		d.Vars = append(d.Vars, v)
		if !p.acceptOp(",") {
			return d
		}
	}
}

func (p *parser) exec() *Exec {
	kw := p.next() // EXEC or EXECUTE
	switch t := p.peek(); {
	case isOp(t, "("):
		p.unsupported("EXEC (dynamic SQL string)", kw.line)
	case isWord(t, "AS"):
		p.unsupported("EXECUTE AS", kw.line)
	case t.kind == tokVar && isOp(p.peekAt(1), "="):
		p.unsupported("EXEC @return_status = procedure", kw.line)
	case t.kind == tokVar:
		p.unsupported("EXEC @procedure_name_variable", kw.line)
	}
	return p.execBody()
}

// execBody reads proc [arg, …] after EXEC (or at the start of a batch, without it).
func (p *parser) execBody() *Exec {
	if !isIdent(p.peek()) {
		p.errNear(p.peek())
	}
	e := &Exec{Proc: p.nameFrom(p.next())}
	if !p.atExecArg() {
		return e
	}
	for {
		e.Args = append(e.Args, p.execArg())
		if !p.acceptOp(",") {
			break
		}
	}
	if p.atWord("WITH") {
		p.unsupported("EXEC … WITH RECOMPILE/RESULT SETS", p.peek().line)
	}
	return e
}

// atExecArg reports whether the next token can start a procedure argument. Anything else
// (a reserved word, ;, end of batch) ends the EXEC: T-SQL needs no separator between statements.
func (p *parser) atExecArg() bool {
	switch t := p.peek(); t.kind {
	case tokVar, tokString, tokNumber, tokBinary, tokQuoted:
		return true
	case tokOp:
		return (t.text == "-" || t.text == "+") && p.peekAt(1).kind == tokNumber
	case tokWord:
		return !isReserved(t) || isWord(t, "NULL") || isWord(t, "DEFAULT")
	}
	return false
}

func (p *parser) execArg() ExecArg {
	var a ExecArg
	if p.peek().kind == tokVar && isOp(p.peekAt(1), "=") {
		a.Name = p.next().text[1:]
		p.next()
	}
	a.Value = p.execValue()
	if p.acceptWord("OUTPUT") || p.acceptWord("OUT") {
		a.Output = true
	}
	return a
}

// execValue reads a procedure argument: only constants and variables are allowed, not
// expressions. A bare word is passed as a Unicode string (EXEC sp_helpdb master).
func (p *parser) execValue() Expr {
	t := p.next()
	switch {
	case t.kind == tokVar:
		return &Variable{Name: t.text[1:]}
	case t.kind == tokString:
		return &StringLit{Value: t.val, Unicode: t.unicode}
	case t.kind == tokNumber:
		return &NumberLit{Text: t.text}
	case t.kind == tokBinary:
		return &BinaryLit{Hex: t.val}
	case (isOp(t, "-") || isOp(t, "+")) && p.peek().kind == tokNumber:
		return &Unary{Op: t.text, Operand: &NumberLit{Text: p.next().text}}
	case isWord(t, "NULL"):
		return &NullLit{}
	case isWord(t, "DEFAULT"):
		p.unsupported("DEFAULT as a procedure argument", t.line)
	case isIdent(t):
		return &StringLit{Value: t.val, Unicode: true}
	}
	p.errNear(t)
	return nil
}

func (p *parser) raiserror() *Raiserror {
	p.next() // RAISERROR
	p.expectOp("(")
	r := &Raiserror{Message: p.scalar()}
	p.expectOp(",")
	r.Severity = p.scalar()
	p.expectOp(",")
	r.State = p.scalar()
	for p.acceptOp(",") {
		r.Args = append(r.Args, p.scalar())
	}
	p.expectOp(")")
	if p.acceptWord("WITH") {
		// LOG, NOWAIT and SETERROR change where the message goes, not what it says.
		for {
			if t := p.next(); !isWord(t, "LOG") && !isWord(t, "NOWAIT") && !isWord(t, "SETERROR") {
				p.errNear(t)
			}
			if !p.acceptOp(",") {
				break
			}
		}
	}
	return r
}

func (p *parser) ifStatement() *If {
	p.next() // IF
	s := &If{Cond: p.condition()}
	s.Then = single(p.statement(false))
	if p.acceptWord("ELSE") {
		s.Else = single(p.statement(false))
	}
	return s
}

func (p *parser) block() Statement {
	begin := p.next()
	for _, w := range []string{"TRAN", "TRANSACTION", "DISTRIBUTED", "TRY", "DIALOG", "CONVERSATION", "ATOMIC"} {
		if p.atWord(w) {
			p.unsupported("BEGIN "+strings.ToUpper(p.peek().text), begin.line)
		}
	}
	b := &Block{}
	for {
		for p.acceptOp(";") {
		}
		// An empty BEGIN END is a syntax error in T-SQL; statement() reports the END.
		if len(b.Statements) > 0 && p.acceptWord("END") {
			return b
		}
		b.Statements = append(b.Statements, p.statement(false)...)
	}
}

func (p *parser) waitfor() *Waitfor {
	p.next() // WAITFOR
	t := p.next()
	switch {
	case isWord(t, "DELAY"):
	case isWord(t, "TIME"):
		p.unsupported("WAITFOR TIME", t.line)
	default:
		p.errNear(t)
	}
	v := p.next()
	switch v.kind {
	case tokString:
		return &Waitfor{Delay: &StringLit{Value: v.val, Unicode: v.unicode}}
	case tokVar:
		return &Waitfor{Delay: &Variable{Name: v.text[1:]}}
	}
	p.errNear(v)
	return nil
}

func (p *parser) kill() *Kill {
	p.next() // KILL
	t := p.next()
	var k *Kill
	switch t.kind {
	case tokNumber:
		k = &Kill{SessionID: &NumberLit{Text: t.text}}
	case tokString: // a distributed transaction's unit of work
		k = &Kill{SessionID: &StringLit{Value: t.val, Unicode: t.unicode}}
	default:
		p.errNear(t)
	}
	if p.atWord("WITH") {
		p.unsupported("KILL … WITH STATUSONLY", t.line)
	}
	return k
}
