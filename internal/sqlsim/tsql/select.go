package tsql

import "strings"

// selectStatement reads a SELECT statement. SELECT @a = x, @b = y without FROM becomes
// SetVariable statements, which is what it means.
func (p *parser) selectStatement() []Statement {
	start := p.peek()
	sel, assigns := p.selectCore(true)
	if len(assigns) == 0 {
		return one(sel)
	}
	if len(sel.List) > 0 {
		p.fail(newSyntaxError(errAssignAndSelect, start.line,
			"A SELECT statement that assigns a value to a variable must not be combined with data-retrieval operations."))
	}
	if sel.From != nil || sel.Where != nil || sel.GroupBy != nil || sel.Having != nil ||
		sel.OrderBy != nil || sel.Top != nil || sel.Distinct {
		p.unsupported("SELECT @variable = … with FROM, WHERE, TOP or other clauses", start.line)
	}
	out := make([]Statement, len(assigns))
	for i, a := range assigns {
		out[i] = a
	}
	return out
}

// subquery reads a SELECT nested in parentheses (the caller reads the parentheses).
func (p *parser) subquery() *Select {
	sel, _ := p.selectCore(false)
	return sel
}

// selectCore reads SELECT … up to the end of its clauses. With allowAssign, list items of the
// form @v = expr are returned as assignments instead of columns.
func (p *parser) selectCore(allowAssign bool) (*Select, []*SetVariable) {
	kw := p.expectWord("SELECT")
	s := &Select{}
	if p.acceptWord("DISTINCT") {
		s.Distinct = true
	} else {
		p.acceptWord("ALL")
	}
	if p.acceptWord("TOP") {
		s.Top = p.top()
	}
	var assigns []*SetVariable
	for {
		if t := p.peek(); allowAssign && t.kind == tokVar && isOp(p.peekAt(1), "=") {
			p.next()
			p.next()
			assigns = append(assigns, &SetVariable{Name: t.text[1:], Value: p.scalar()})
		} else {
			s.List = append(s.List, p.selectItem())
		}
		if !p.acceptOp(",") {
			break
		}
	}
	if p.atWord("INTO") {
		p.unsupported("SELECT … INTO", kw.line)
	}
	if p.acceptWord("FROM") {
		s.From = p.tableSources()
	}
	if p.acceptWord("WHERE") {
		s.Where = p.condition()
	}
	if p.acceptWord("GROUP") {
		p.expectWord("BY")
		for {
			s.GroupBy = append(s.GroupBy, p.scalar())
			if !p.acceptOp(",") {
				break
			}
		}
	}
	if p.acceptWord("HAVING") {
		s.Having = p.condition()
	}
	if p.acceptWord("ORDER") {
		p.expectWord("BY")
		for {
			item := OrderItem{Expr: p.scalar()}
			if p.acceptWord("DESC") {
				item.Desc = true
			} else {
				p.acceptWord("ASC")
			}
			s.OrderBy = append(s.OrderBy, item)
			if !p.acceptOp(",") {
				break
			}
		}
		if p.atWord("OFFSET") {
			p.unsupported("ORDER BY … OFFSET/FETCH", p.peek().line)
		}
	}
	for _, w := range []string{"UNION", "EXCEPT", "INTERSECT", "FOR", "OPTION"} {
		if p.atWord(w) {
			p.unsupported("SELECT … "+strings.ToUpper(p.peek().text), p.peek().line)
		}
	}
	return s, assigns
}

// top reads TOP (expr) or TOP n.
func (p *parser) top() Expr {
	var e Expr
	if p.acceptOp("(") {
		e = p.scalar()
		p.expectOp(")")
	} else if t := p.next(); t.kind == tokNumber {
		e = &NumberLit{Text: t.text}
	} else {
		p.errNear(t)
	}
	if p.atWord("PERCENT") || p.atWord("WITH") && isWord(p.peekAt(1), "TIES") {
		p.unsupported("TOP … "+strings.ToUpper(p.peek().text), p.peek().line)
	}
	return e
}

// selectItem reads *, t.*, alias = expr, or expr [[AS] alias].
func (p *parser) selectItem() SelectItem {
	if p.acceptOp("*") {
		return SelectItem{Expr: &Star{}}
	}
	if q, ok := p.starQualifier(); ok {
		return SelectItem{Expr: &Star{Qualifier: q}}
	}
	if t := p.peek(); (isIdent(t) || t.kind == tokString) && isOp(p.peekAt(1), "=") {
		p.next()
		p.next()
		return SelectItem{Alias: t.val, Expr: p.scalar()}
	}
	item := SelectItem{Expr: p.scalar()}
	if p.acceptWord("AS") {
		if t := p.peek(); t.kind != tokString && !isIdent(t) {
			p.errNear(t)
		}
		item.Alias = p.next().val
	} else if t := p.peek(); t.kind == tokString || isIdent(t) {
		item.Alias = p.next().val
	}
	return item
}

// starQualifier reads a.* or a.b.* if that is what comes next; the qualifier is the name
// before the star, parts joined with dots.
func (p *parser) starQualifier() (string, bool) {
	var parts []string
	for i := 0; isIdent(p.peekAt(i)) && isOp(p.peekAt(i+1), "."); i += 2 {
		parts = append(parts, p.peekAt(i).val)
		if isOp(p.peekAt(i+2), "*") {
			p.pos += i + 3
			return strings.Join(parts, "."), true
		}
	}
	return "", false
}

// tableSources reads the FROM list: comma-separated sources, each with its joins.
func (p *parser) tableSources() []TableSource {
	var out []TableSource
	for {
		out = append(out, p.joined())
		if !p.acceptOp(",") {
			return out
		}
	}
}

func (p *parser) joined() TableSource {
	left := p.tablePrimary()
	for {
		kind, ok := p.joinKind()
		if !ok {
			return left
		}
		j := &Join{Kind: kind, Left: left, Right: p.tablePrimary()}
		if kind != "CROSS" && kind != "CROSS APPLY" && kind != "OUTER APPLY" {
			p.expectWord("ON")
			j.On = p.condition()
		}
		left = j
	}
}

// joinKind reads a join operator, if one is next, and returns its Join.Kind.
func (p *parser) joinKind() (string, bool) {
	t := p.peek()
	switch {
	case isWord(t, "JOIN"):
		p.next()
		return "INNER", true
	case isWord(t, "INNER"):
		p.next()
	case isWord(t, "LEFT"), isWord(t, "RIGHT"), isWord(t, "FULL"):
		p.next()
		p.acceptWord("OUTER")
	case isWord(t, "CROSS"):
		p.next()
		if p.acceptWord("APPLY") {
			return "CROSS APPLY", true
		}
		p.expectWord("JOIN")
		return "CROSS", true
	case isWord(t, "OUTER"):
		p.next()
		p.expectWord("APPLY")
		return "OUTER APPLY", true
	default:
		return "", false
	}
	// Join hints choose a physical algorithm; they do not change the result.
	for _, hint := range []string{"LOOP", "HASH", "MERGE", "REMOTE"} {
		if p.acceptWord(hint) {
			break
		}
	}
	p.expectWord("JOIN")
	return strings.ToUpper(t.text), true
}

func (p *parser) tablePrimary() TableSource {
	p.enter()
	defer p.leave()
	t := p.peek()
	if p.acceptOp("(") {
		if p.atWord("SELECT") {
			d := &DerivedTable{Select: p.subquery()}
			p.expectOp(")")
			d.Alias = p.tableAlias()
			if d.Alias == "" {
				p.errNear(p.peek()) // a derived table needs a name
			}
			return d
		}
		inner := p.joined()
		p.expectOp(")")
		return inner
	}
	if t.kind == tokVar {
		p.unsupported("table variables", t.line)
	}
	if !isIdent(t) {
		p.errNear(t)
	}
	ref := &TableRef{Name: p.nameFrom(p.next())}
	if p.atOp("(") && !p.atHintList() {
		open := p.next()
		ref.Args = p.args(ref.Name)
		if ref.Args == nil {
			ref.Args = []Expr{} // non-nil marks a table-valued function call
		}
		if p.atWord("OVER") {
			p.unsupported("OVER", open.line)
		}
	}
	p.skipTableHints()
	ref.Alias = p.tableAlias()
	p.skipTableHints()
	return ref
}

// tableAlias reads [AS] alias if present.
func (p *parser) tableAlias() string {
	if p.acceptWord("AS") {
		return p.ident()
	}
	if isIdent(p.peek()) {
		return p.next().val
	}
	return ""
}

// skipTableHints skips WITH (NOLOCK, …) or the old (NOLOCK) form. Hints steer locking and
// plans; the simulator's reads are consistent either way.
func (p *parser) skipTableHints() {
	if p.atWord("WITH") && isOp(p.peekAt(1), "(") {
		p.next()
	} else if !p.atHintList() {
		return
	}
	p.skipParens()
}

func (p *parser) atHintList() bool {
	return p.atOp("(") && p.peekAt(1).kind == tokWord && tableHints[strings.ToUpper(p.peekAt(1).text)]
}

// skipParens consumes a balanced parenthesised group and returns the source text inside it.
func (p *parser) skipParens() string {
	open := p.expectOp("(")
	depth := 1
	for {
		t := p.next()
		switch {
		case t.kind == tokEOF || t.kind == tokError:
			p.errNear(t)
		case isOp(t, "("):
			depth++
		case isOp(t, ")"):
			depth--
			if depth == 0 {
				return strings.TrimSpace(p.src[open.end:t.pos])
			}
		}
	}
}
