package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// DecodeStrict decodes a public workflow input (the JSON people type into the Temporal CLI
// or Web UI) and refuses what the SDK's lenient decoding lets through: an unknown field
// (a typo such as "strpes" would otherwise start a backup with the default), a value of
// the wrong JSON type, trailing data, and fields given explicitly with a value the input
// does not allow (into's presenceChecker). The error names the field and says what to
// write; an empty or null input decodes as {}.
func DecodeStrict(raw []byte, into any) error {
	data := bytes.TrimSpace(raw)
	if len(data) == 0 || string(data) == "null" {
		data = []byte("{}")
	}
	if data[0] != '{' {
		return fmt.Errorf("the input must be a JSON object, e.g. %s", exampleOf(into))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return describeDecodeError(err, data, into)
	}
	if dec.More() {
		return errors.New("the input has data after its JSON object: give exactly one object")
	}
	if pc, ok := into.(presenceChecker); ok {
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(data, &keys); err == nil {
			if problems := pc.presenceProblems(keys); len(problems) > 0 {
				return errors.New(strings.Join(problems, "; "))
			}
		}
	}
	return nil
}

// presenceChecker is an input with rules about fields given explicitly (an explicit 0 is
// not the same as leaving a field out).
type presenceChecker interface {
	presenceProblems(keys map[string]json.RawMessage) []string
}

func describeDecodeError(err error, data []byte, into any) error {
	known := jsonFields(into)
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		msg := fmt.Sprintf("unknown field %q", name)
		if near := closest(name, known); near != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", near)
		}
		return fmt.Errorf("%s; the fields are %s", msg, strings.Join(known, ", "))
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return fmt.Errorf("the input must be a JSON object, e.g. %s", exampleOf(into))
		}
		return fmt.Errorf("field %q must be %s, not a JSON %s", te.Field, jsonKind(te.Type), te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("the input is not valid JSON (at byte %d): %v", se.Offset, err)
	}
	// A value whose own decoder refused it (a time that is not an RFC 3339 string, …)
	// does not say which field it was: find it by decoding each field alone.
	if field, kind := fieldRefusing(data, into); field != "" {
		return fmt.Errorf("field %q must be %s: %v", field, kind, err)
	}
	return fmt.Errorf("the input could not be read: %v", err)
}

// fieldRefusing decodes each top-level field of data alone into its Go type and returns
// the first that fails, with what it expects.
func fieldRefusing(data []byte, into any) (string, string) {
	var keys map[string]json.RawMessage
	if json.Unmarshal(data, &keys) != nil {
		return "", ""
	}
	t := reflect.TypeOf(into)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return "", ""
	}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		raw, ok := explicitly(keys, name)
		if !ok {
			continue
		}
		if json.Unmarshal(raw, reflect.New(f.Type).Interface()) != nil {
			return name, jsonKind(f.Type)
		}
	}
	return "", ""
}

// jsonKind says in JSON terms what a Go type expects.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a JSON array"
	case reflect.Struct:
		if t.String() == "time.Time" {
			return `a string with an RFC 3339 instant (e.g. "2026-11-26T10:15:30Z")`
		}
		return "a JSON object"
	}
	return "a " + t.String()
}

// jsonFields lists the JSON names of into's top-level fields.
func jsonFields(into any) []string {
	t := reflect.TypeOf(into)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}

func exampleOf(into any) string {
	if e, ok := into.(interface{ jsonExample() string }); ok {
		return e.jsonExample()
	}
	return "{}"
}

// closest is the known field within edit distance 2 of name (case-insensitive), if any.
func closest(name string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(name), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = slices.Min([]int{prev[j] + 1, cur[j-1] + 1, prev[j-1] + cost})
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// explicitly reports whether keys holds field (JSON field names match case-insensitively,
// as encoding/json matches them) with a value other than null.
//
// An exact match wins; otherwise the keys are tried in sorted order, so that the answer
// never depends on map order (this runs in workflow code, which must be deterministic).
func explicitly(keys map[string]json.RawMessage, field string) (json.RawMessage, bool) {
	set := func(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) != "null" }
	if v, ok := keys[field]; ok {
		return v, set(v)
	}
	names := slices.Sorted(maps.Keys(keys))
	for _, k := range names {
		if strings.EqualFold(k, field) {
			return keys[k], set(keys[k])
		}
	}
	return nil, false
}
