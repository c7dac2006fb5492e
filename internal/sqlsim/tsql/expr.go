package tsql

import (
	"strconv"
	"strings"
)

// Expressions are read with one grammar, from loosest to tightest binding:
//
//	OR < AND < NOT < predicates (comparisons, [NOT] LIKE/IN/BETWEEN, IS [NOT] NULL)
//	   < + - < * / % < unary - + < primaries
//
// T-SQL separates conditions from values: WHERE 1 and SELECT 1 = 1 are both errors. The
// grammar accepts both kinds everywhere (a parenthesis may hold either), and each context
// checks the kind it needs: condition() for WHERE/ON/IF/WHEN, scalar() for values.

// condition reads a search condition; a value there is SQL Server's error 4145.
func (p *parser) condition() Expr {
	e := p.or()
	p.requireBool(e, p.peek())
	return e
}

// scalar reads a value expression; a condition there is reported near its operator.
func (p *parser) scalar() Expr {
	e := p.or()
	p.requireScalar(e)
	return e
}

func isBool(e Expr) bool {
	switch e := e.(type) {
	case *Binary:
		switch e.Op {
		case "+", "-", "*", "/", "%":
			return false
		}
		return true
	case *Unary:
		return e.Op == "NOT"
	case *IsNull, *In, *Between, *Exists:
		return true
	case *Paren:
		return isBool(e.Inner)
	}
	return false
}

func (p *parser) requireScalar(e Expr) {
	if !isBool(e) {
		return
	}
	for {
		paren, ok := e.(*Paren)
		if !ok {
			break
		}
		e = paren.Inner
	}
	p.errNear(p.opTok[e])
}

// requireBool fails with 4145 unless e is a condition; near is the token that follows e.
func (p *parser) requireBool(e Expr, near token) {
	if isBool(e) {
		return
	}
	if near.kind == tokError {
		p.fail(p.lexErr)
	}
	if near.kind == tokEOF {
		near = p.lastToken()
	}
	p.fail(newSyntaxError(errNotBoolean, near.line,
		"An expression of non-boolean type specified in a context where a condition is expected, near '%s'.", nearText(near)))
}

// boolean records the operator token of a condition for requireScalar's error message.
func (p *parser) boolean(e Expr, op token) Expr {
	p.opTok[e] = op
	return e
}

func (p *parser) or() Expr {
	left := p.and()
	for p.atWord("OR") {
		op := p.next()
		p.requireBool(left, op)
		right := p.and()
		p.requireBool(right, p.peek())
		left = p.boolean(&Binary{Op: "OR", Left: left, Right: right}, op)
	}
	return left
}

func (p *parser) and() Expr {
	left := p.not()
	for p.atWord("AND") {
		op := p.next()
		p.requireBool(left, op)
		right := p.not()
		p.requireBool(right, p.peek())
		left = p.boolean(&Binary{Op: "AND", Left: left, Right: right}, op)
	}
	return left
}

func (p *parser) not() Expr {
	if !p.atWord("NOT") {
		return p.predicate()
	}
	p.enter()
	defer p.leave()
	op := p.next()
	if p.atWord("EXISTS") {
		e := p.exists()
		e.Not = true
		return e
	}
	operand := p.not()
	p.requireBool(operand, p.peek())
	return p.boolean(&Unary{Op: "NOT", Operand: operand}, op)
}

// comparisons maps T-SQL's comparison operators to the AST's; !< and !> are >= and <=.
var comparisons = map[string]string{
	"=": "=", "<>": "<>", "!=": "!=", "<": "<", ">": ">", "<=": "<=", ">=": ">=", "!<": ">=", "!>": "<=",
}

func (p *parser) predicate() Expr {
	left := p.additive()
	t := p.peek()
	if op, ok := comparisons[t.text]; ok && t.kind == tokOp {
		p.next()
		p.requireScalar(left)
		return p.boolean(&Binary{Op: op, Left: left, Right: p.operand()}, t)
	}
	not := false
	if isWord(t, "NOT") && (isWord(p.peekAt(1), "LIKE") || isWord(p.peekAt(1), "IN") || isWord(p.peekAt(1), "BETWEEN")) {
		p.next()
		not = true
		t = p.peek()
	}
	switch {
	case isWord(t, "LIKE"):
		p.next()
		p.requireScalar(left)
		op := "LIKE"
		if not {
			op = "NOT LIKE"
		}
		e := p.boolean(&Binary{Op: op, Left: left, Right: p.operand()}, t)
		if p.atWord("ESCAPE") {
			p.unsupported("LIKE … ESCAPE", t.line)
		}
		return e
	case isWord(t, "IN"):
		p.next()
		p.requireScalar(left)
		return p.boolean(&In{Operand: left, List: p.inList(), Not: not}, t)
	case isWord(t, "BETWEEN"):
		p.next()
		p.requireScalar(left)
		lo := p.operand()
		p.expectWord("AND")
		return p.boolean(&Between{Operand: left, Lo: lo, Hi: p.operand(), Not: not}, t)
	case isWord(t, "IS"):
		p.next()
		p.requireScalar(left)
		isNot := p.acceptWord("NOT")
		p.expectWord("NULL")
		return p.boolean(&IsNull{Operand: left, Not: isNot}, t)
	}
	return left
}

// operand reads the right side of a comparison: a value, bound tighter than AND/OR.
func (p *parser) operand() Expr {
	e := p.additive()
	p.requireScalar(e)
	return e
}

// inList reads (a, b, …) or (SELECT …); a subquery is the list's only element.
func (p *parser) inList() []Expr {
	p.expectOp("(")
	if p.atWord("SELECT") {
		list := []Expr{&Subquery{Select: p.subquery()}}
		p.expectOp(")")
		return list
	}
	var list []Expr
	for {
		list = append(list, p.scalar())
		if !p.acceptOp(",") {
			break
		}
	}
	p.expectOp(")")
	return list
}

func (p *parser) additive() Expr {
	left := p.multiplicative()
	for {
		t := p.peek()
		switch {
		case isOp(t, "+"), isOp(t, "-"):
		case isOp(t, "&"), isOp(t, "|"), isOp(t, "^"):
			p.unsupported("bitwise operator "+t.text, t.line)
		case isWord(t, "COLLATE"):
			p.unsupported("COLLATE in expressions", t.line)
		default:
			return left
		}
		p.next()
		p.requireScalar(left)
		right := p.multiplicative()
		p.requireScalar(right)
		left = &Binary{Op: t.text, Left: left, Right: right}
	}
}

func (p *parser) multiplicative() Expr {
	left := p.unary()
	for {
		t := p.peek()
		if !isOp(t, "*") && !isOp(t, "/") && !isOp(t, "%") {
			return left
		}
		p.next()
		p.requireScalar(left)
		right := p.unary()
		p.requireScalar(right)
		left = &Binary{Op: t.text, Left: left, Right: right}
	}
}

func (p *parser) unary() Expr {
	p.enter()
	defer p.leave()
	t := p.peek()
	switch {
	case isOp(t, "-"), isOp(t, "+"):
		p.next()
		operand := p.unary()
		p.requireScalar(operand)
		return &Unary{Op: t.text, Operand: operand}
	case isOp(t, "~"):
		p.unsupported("bitwise operator ~", t.line)
	}
	return p.primary()
}

// niladic are the reserved words that are functions called without parentheses.
var niladic = toSet(`CURRENT_TIMESTAMP CURRENT_DATE CURRENT_TIME CURRENT_USER SESSION_USER SYSTEM_USER USER`)

func (p *parser) primary() Expr {
	t := p.next()
	switch t.kind {
	case tokNumber:
		return &NumberLit{Text: t.text}
	case tokString:
		return &StringLit{Value: t.val, Unicode: t.unicode}
	case tokBinary:
		return &BinaryLit{Hex: t.val}
	case tokVar:
		return &Variable{Name: t.text[1:]}
	case tokQuoted:
		return p.nameExpr(t)
	case tokOp:
		if t.text != "(" {
			break
		}
		if p.atWord("SELECT") {
			sub := &Subquery{Select: p.subquery()}
			p.expectOp(")")
			return sub
		}
		inner := p.or()
		p.expectOp(")")
		paren := &Paren{Inner: inner}
		if isBool(inner) {
			p.opTok[paren] = p.opTok[inner]
		}
		return paren
	case tokWord:
		switch word := strings.ToUpper(t.text); {
		case word == "NULL":
			return &NullLit{}
		case word == "CASE":
			return p.caseExpr()
		case word == "CAST":
			return p.cast()
		case word == "CONVERT":
			return p.convert()
		case word == "EXISTS":
			return p.existsRest(t)
		case word == "TRY_CAST" || word == "TRY_CONVERT":
			p.unsupported(word, t.line)
		case niladic[word]:
			return &FuncCall{Name: Name{Parts: []string{t.text}}}
		case word == "COALESCE" || word == "NULLIF" || word == "LEFT" || word == "RIGHT":
			if p.atOp("(") { // reserved words that are also ordinary functions
				return p.call(Name{Parts: []string{t.text}})
			}
		case !isReserved(t):
			return p.nameExpr(t)
		}
	}
	p.errNear(t)
	return nil
}

// nameExpr reads a column reference or a function call starting with identifier first.
func (p *parser) nameExpr(first token) Expr {
	name := p.nameFrom(first)
	if p.atOp("(") {
		return p.call(name)
	}
	return &ColumnRef{Name: name}
}

// call reads a function's parenthesised arguments.
func (p *parser) call(name Name) Expr {
	open := p.expectOp("(")
	f := &FuncCall{Name: name}
	if p.acceptWord("DISTINCT") { // aggregates: COUNT(DISTINCT x)
		f.Distinct = true
		if p.atOp(")") || p.atOp("*") {
			p.errNear(p.peek())
		}
	}
	f.Args = p.args(name)
	if p.atWord("OVER") || p.atWord("WITHIN") {
		p.unsupported("window and ordered-set functions ("+strings.ToUpper(p.peek().text)+")", open.line)
	}
	return f
}

// args reads (a, b, …) after the opening parenthesis, with COUNT(*), BINARY_CHECKSUM(*) and
// aggregate DISTINCT.
func (p *parser) args(name Name) []Expr {
	if p.acceptOp(")") {
		return nil
	}
	fn := strings.ToUpper(name.Last())
	if len(name.Parts) == 1 && (fn == "COUNT" || fn == "COUNT_BIG" || fn == "BINARY_CHECKSUM" || fn == "CHECKSUM") && p.atOp("*") {
		p.next()
		p.expectOp(")")
		return []Expr{&Star{}}
	}
	var args []Expr
	for {
		args = append(args, p.scalar())
		if !p.acceptOp(",") {
			break
		}
	}
	p.expectOp(")")
	return args
}

func (p *parser) exists() *Exists { return p.existsRest(p.expectWord("EXISTS")) }

// existsRest reads (SELECT …) after the EXISTS keyword kw.
func (p *parser) existsRest(kw token) *Exists {
	p.expectOp("(")
	if !p.atWord("SELECT") {
		p.errNear(p.peek())
	}
	e := &Exists{Select: p.subquery()}
	p.expectOp(")")
	p.opTok[e] = kw
	return e
}

func (p *parser) caseExpr() Expr {
	c := &Case{}
	if !p.atWord("WHEN") {
		c.Operand = p.scalar()
	}
	if !p.atWord("WHEN") {
		p.errNear(p.peek())
	}
	for p.acceptWord("WHEN") {
		var w When
		if c.Operand == nil {
			w.Cond = p.condition()
		} else {
			w.Cond = p.scalar()
		}
		p.expectWord("THEN")
		w.Result = p.scalar()
		c.Whens = append(c.Whens, w)
	}
	if p.acceptWord("ELSE") {
		c.Else = p.scalar()
	}
	p.expectWord("END")
	return c
}

func (p *parser) cast() Expr {
	p.expectOp("(")
	c := &Cast{Operand: p.scalar()}
	p.expectWord("AS")
	c.Type = p.typeName()
	p.expectOp(")")
	return c
}

func (p *parser) convert() Expr {
	p.expectOp("(")
	c := &Cast{Type: p.typeName()}
	p.expectOp(",")
	c.Operand = p.scalar()
	if p.acceptOp(",") {
		c.Style = p.scalar()
	}
	p.expectOp(")")
	return c
}

// typeName reads a data type: int, nvarchar(128), nvarchar(max), numeric(25,0), sys.sysname.
// A schema prefix is dropped; the name is lower-cased for the evaluator.
func (p *parser) typeName() TypeName {
	if !isIdent(p.peek()) {
		p.errNear(p.peek())
	}
	tn := TypeName{Name: strings.ToLower(p.nameFrom(p.next()).Last())}
	if !p.acceptOp("(") {
		return tn
	}
	for {
		t := p.next()
		switch {
		case isWord(t, "MAX") && !tn.Max && len(tn.Args) == 0:
			tn.Max = true
		case t.kind == tokNumber && !tn.Max:
			n, err := strconv.Atoi(t.text)
			if err != nil || n < 0 {
				p.errNear(t)
			}
			tn.Args = append(tn.Args, n)
		default:
			p.errNear(t)
		}
		if !p.acceptOp(",") {
			break
		}
	}
	p.expectOp(")")
	return tn
}
