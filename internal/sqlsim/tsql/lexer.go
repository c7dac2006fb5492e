package tsql

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokKind uint8

const (
	tokEOF    tokKind = iota
	tokWord           // unquoted identifier or keyword
	tokQuoted         // [bracketed] or "double-quoted" identifier (QUOTED_IDENTIFIER ON)
	tokString         // '…' or N'…'
	tokNumber         // 42, 1.5, .5, 1e3
	tokBinary         // 0x…
	tokVar            // @name or @@name
	tokOp             // operators, punctuation and any character T-SQL has no use for
	tokError          // where lexing failed; reaching it reports the lexer's error
)

type token struct {
	kind     tokKind
	text     string // as written
	val      string // identifiers and strings: quotes and escapes removed; otherwise text
	unicode  bool   // N'…'
	line     int
	pos, end int // byte offsets of text in the batch
}

// lex splits a batch into tokens. It always ends the slice with a tokEOF or, when the batch
// cannot be tokenised, a tokError whose error it also returns. The parser reports that error
// only when it reaches the bad token, so an earlier syntax error wins, as in SQL Server.
func lex(src string) ([]token, *SyntaxError) {
	l := &lexer{src: src, line: 1}
	for {
		if err := l.skipBlanks(); err != nil {
			return l.fail(err)
		}
		if l.pos >= len(l.src) {
			l.toks = append(l.toks, token{kind: tokEOF, line: l.line, pos: l.pos, end: l.pos})
			return l.toks, nil
		}
		t, err := l.token()
		if err != nil {
			return l.fail(err)
		}
		l.toks = append(l.toks, t)
	}
}

type lexer struct {
	src  string
	pos  int
	line int
	toks []token
}

func (l *lexer) fail(err *SyntaxError) ([]token, *SyntaxError) {
	l.toks = append(l.toks, token{kind: tokError, line: err.Line, pos: l.pos, end: l.pos})
	return l.toks, err
}

func (l *lexer) byteAt(i int) byte {
	if i < len(l.src) {
		return l.src[i]
	}
	return 0
}

func (l *lexer) runeAt(i int) rune {
	r, _ := utf8.DecodeRuneInString(l.src[i:])
	return r
}

// skipBlanks skips whitespace and comments, counting lines.
func (l *lexer) skipBlanks() *SyntaxError {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == '\n':
			l.line++
			l.pos++
		case c == '-' && l.byteAt(l.pos+1) == '-':
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
		case c == '/' && l.byteAt(l.pos+1) == '*':
			if err := l.skipBlockComment(); err != nil {
				return err
			}
		default:
			r, size := utf8.DecodeRuneInString(l.src[l.pos:])
			if !unicode.IsSpace(r) {
				return nil
			}
			l.pos += size
		}
	}
	return nil
}

// skipBlockComment skips /* … */; T-SQL block comments nest.
func (l *lexer) skipBlockComment() *SyntaxError {
	startLine := l.line
	depth := 0
	for l.pos < len(l.src) {
		switch {
		case l.src[l.pos] == '/' && l.byteAt(l.pos+1) == '*':
			depth++
			l.pos += 2
		case l.src[l.pos] == '*' && l.byteAt(l.pos+1) == '/':
			depth--
			l.pos += 2
			if depth == 0 {
				return nil
			}
		default:
			if l.src[l.pos] == '\n' {
				l.line++
			}
			l.pos++
		}
	}
	return newSyntaxError(errMissingEndComment, startLine, "Missing end comment mark '*/'.")
}

func (l *lexer) token() (token, *SyntaxError) {
	start := l.pos
	c := l.src[l.pos]
	switch {
	case c == '[':
		return l.delimited(']', tokQuoted, false)
	case c == '"':
		return l.delimited('"', tokQuoted, false)
	case c == '\'':
		return l.delimited('\'', tokString, false)
	case (c == 'N' || c == 'n') && l.byteAt(l.pos+1) == '\'':
		l.pos++
		t, err := l.delimited('\'', tokString, true)
		t.pos, t.text = start, l.src[start:l.pos]
		return t, err
	case c == '0' && (l.byteAt(l.pos+1) == 'x' || l.byteAt(l.pos+1) == 'X'):
		l.pos += 2
		for isHexDigit(l.byteAt(l.pos)) {
			l.pos++
		}
		return l.make(tokBinary, start, l.src[start+2:l.pos]), nil
	case isDigit(c) || c == '.' && isDigit(l.byteAt(l.pos+1)):
		l.number()
		return l.make(tokNumber, start, ""), nil
	case c == '@':
		return l.variable()
	case isIdentStart(l.runeAt(l.pos)):
		_, size := utf8.DecodeRuneInString(l.src[l.pos:])
		l.pos += size
		l.identRest()
		t := l.make(tokWord, start, "")
		if identifierTooLong(t.text) {
			return t, tooLongError(t.text, t.line)
		}
		return t, nil
	}
	return l.operator(), nil
}

func (l *lexer) make(kind tokKind, start int, val string) token {
	text := l.src[start:l.pos]
	if val == "" && kind != tokString && kind != tokBinary {
		val = text
	}
	return token{kind: kind, text: text, val: val, line: l.line, pos: start, end: l.pos}
}

// delimited reads '…', […] or "…", where a doubled closing character stands for itself.
// The opening character is at l.pos. Strings may span lines; the token keeps its first line.
func (l *lexer) delimited(closer byte, kind tokKind, unicodeLit bool) (token, *SyntaxError) {
	start, line := l.pos, l.line
	l.pos++
	var val strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		if c == closer {
			if l.byteAt(l.pos+1) != closer {
				l.pos++
				t := token{kind: kind, text: l.src[start:l.pos], val: val.String(), unicode: unicodeLit,
					line: line, pos: start, end: l.pos}
				return t, l.checkIdentifier(t)
			}
			l.pos++ // the doubled closer stands for one
		}
		if c == '\n' {
			l.line++
		}
		val.WriteByte(c)
		l.pos++
	}
	// SQL Server uses 105 for an unclosed string and for an unclosed quoted identifier alike,
	// quoting everything after the opening quote.
	return token{}, newSyntaxError(errUnclosedQuote, line,
		"Unclosed quotation mark after the character string '%s'.", l.src[start+1:])
}

// checkIdentifier applies SQL Server's rules for delimited identifiers: not empty, not too long.
func (l *lexer) checkIdentifier(t token) *SyntaxError {
	if t.kind != tokQuoted {
		return nil
	}
	if t.val == "" {
		return newSyntaxError(errEmptyName, t.line, "An object or column name is missing or empty. "+
			"For SELECT INTO statements, verify each column has a name. For other statements, look for empty alias names. "+
			"Aliases defined as \"\" or [] are not allowed. Change the alias to a valid name.")
	}
	if identifierTooLong(t.val) {
		return tooLongError(t.val, t.line)
	}
	return nil
}

// number reads 42, 1.5, 1., .5 and 1e3 / 1.5E-3 forms.
func (l *lexer) number() {
	for isDigit(l.byteAt(l.pos)) {
		l.pos++
	}
	if l.byteAt(l.pos) == '.' {
		l.pos++
		for isDigit(l.byteAt(l.pos)) {
			l.pos++
		}
	}
	if c := l.byteAt(l.pos); c == 'e' || c == 'E' {
		l.pos++
		if s := l.byteAt(l.pos); (s == '+' || s == '-') && isDigit(l.byteAt(l.pos+1)) {
			l.pos++
		}
		for isDigit(l.byteAt(l.pos)) {
			l.pos++
		}
	}
}

// variable reads @name or @@name; a lone @ is left as an operator token for the parser to reject.
func (l *lexer) variable() (token, *SyntaxError) {
	start := l.pos
	l.pos++
	if l.byteAt(l.pos) == '@' {
		l.pos++
	}
	nameStart := l.pos
	l.identRest()
	if l.pos == nameStart {
		return l.make(tokOp, start, ""), nil
	}
	t := l.make(tokVar, start, "")
	if identifierTooLong(t.text) {
		return t, tooLongError(t.text, t.line)
	}
	return t, nil
}

func (l *lexer) identRest() {
	for l.pos < len(l.src) {
		r, size := utf8.DecodeRuneInString(l.src[l.pos:])
		if !isIdentPart(r) {
			return
		}
		l.pos += size
	}
}

// twoCharOps are the operators spelled with two characters. !< and !> are T-SQL's
// "not less than" / "not greater than".
var twoCharOps = []string{"<>", "<=", ">=", "!=", "!<", "!>"}

func (l *lexer) operator() token {
	start := l.pos
	for _, op := range twoCharOps {
		if strings.HasPrefix(l.src[l.pos:], op) {
			l.pos += 2
			return l.make(tokOp, start, "")
		}
	}
	_, size := utf8.DecodeRuneInString(l.src[l.pos:])
	l.pos += size
	return l.make(tokOp, start, "")
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHexDigit(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// isIdentStart and isIdentPart follow SQL Server's rules for regular identifiers: a letter,
// _ or # first (@ starts a variable instead), then letters, digits, _, @, # and $.
func isIdentStart(r rune) bool {
	return r == '_' || r == '#' || unicode.IsLetter(r)
}

func isIdentPart(r rune) bool {
	return isIdentStart(r) || r == '@' || r == '$' || unicode.IsDigit(r)
}
