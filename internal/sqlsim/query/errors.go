package query

import "github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"

// errf builds a user error (class 16) with SQL Server's number and message text; every
// error the evaluator raises goes through it so the TDS layer sees the numbers clients
// (and sqlvault's error mapping) expect.
func errf(number int32, format string, args ...any) *sqltypes.Error {
	return sqltypes.Errorf(number, 16, format, args...)
}

func errInvalidColumn(name string) error {
	return errf(207, "Invalid column name '%s'.", name)
}

func errAmbiguousColumn(name string) error {
	return errf(209, "Ambiguous column name '%s'.", name)
}

func errNotBound(name string) error {
	return errf(4104, "The multi-part identifier \"%s\" could not be bound.", name)
}

func errOverflow(typ string) error {
	return errf(8115, "Arithmetic overflow error converting expression to data type %s.", typ)
}

func errOverflowFrom(from, to string) error {
	return errf(8115, "Arithmetic overflow error converting %s to data type %s.", from, to)
}

func errDivideByZero() error {
	return errf(8134, "Divide by zero error encountered.")
}

func errTypeClash(from, to sqltypes.Type) error {
	return errf(206, "Operand type clash: %s is incompatible with %s", typeName(from), typeName(to))
}

func errExplicitConversion(from, to sqltypes.Type) error {
	return errf(529, "Explicit conversion from data type %s to %s is not allowed.", typeName(from), typeName(to))
}

func errSubqueryRows() error {
	return errf(512, "Subquery returned more than 1 value. This is not permitted when the subquery follows =, !=, <, <= , >, >= or when the subquery is used as an expression.")
}

func errSubqueryColumns() error {
	return errf(116, "Only one expression can be specified in the select list when the subquery is not introduced with EXISTS.")
}

func errSyntax(near string) error {
	return errf(102, "Incorrect syntax near '%s'.", near)
}

func errArgCount(name string, min, max int) error {
	if min == max {
		return errf(174, "The %s function requires %d argument(s).", name, min)
	}
	return errf(189, "The %s function requires %d to %d arguments.", name, min, max)
}

func errOperandInvalid(t sqltypes.Type, op string) error {
	return errf(8117, "Operand data type %s is invalid for %s operator.", typeName(t), op)
}
