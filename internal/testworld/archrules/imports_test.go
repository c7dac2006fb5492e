// Package archrules holds the import rules of the tree (ARCHITECTURE.md, "Import rules") as
// a test that make lint runs: a rule broken by a new import fails the build's lint step,
// naming the package, the import and the rule.
package archrules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
)

const module = "github.com/sqlvault/sqlvault"

// pkg is what `go list -json` says of one package of the module.
type pkg struct {
	ImportPath   string
	Deps         []string // every package it links, transitively (not its tests)
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// rel is a package path relative to the module ("workflows", "internal/vault", …).
func rel(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }

func under(path string, roots ...string) bool {
	for _, r := range roots {
		if path == r || strings.HasPrefix(path, r+"/") {
			return true
		}
	}
	return false
}

// ours lists the module's own packages among paths, relative to the module.
func ours(paths []string) []string {
	var out []string
	for _, p := range paths {
		if p == module || strings.HasPrefix(p, module+"/") {
			out = append(out, rel(p))
		}
	}
	return out
}

// testWorld is everything that exists to test the product: the SQL Server simulator and
// the harnesses. The rest of the module is the product.
var testWorld = []string{"internal/sqlsim", "internal/testworld"}

// A rule is checked against one package's imports; it returns what breaks it.
type rule struct {
	name string
	why  string
	// applies says whether the rule governs the package.
	applies func(p string) bool
	// check returns the offending imports (relative for ours, full for others).
	check func(p pkg) []string
}

// agentSide and controlSide are the two roles (ARCHITECTURE.md, "Roles").
var (
	agentSide   = []string{"activities/agent", "internal/agent"}
	controlSide = []string{"activities/control", "internal/control"}
	// forbiddenInWorkflows: workflow code must not reach the outside world; the SDK
	// replays it, so time, randomness and I/O come only through its APIs.
	forbiddenInWorkflows = []string{"os", "os/exec", "net", "net/http", "io/fs", "io/ioutil", "path/filepath",
		"crypto/rand", "math/rand", "math/rand/v2", "database/sql", "sync", "go.uber.org/zap"}
)

var rules = []rule{
	{
		name:    "workflows import only the SDK, the wire types and the domain",
		why:     "histories hold what workflows pass around; storage schemas and I/O packages must not leak into them",
		applies: func(p string) bool { return under(p, "workflows") },
		check: func(p pkg) []string {
			var bad []string
			for _, d := range ours(p.Deps) {
				if !under(d, "internal/protocol", "internal/domain") {
					bad = append(bad, d)
				}
			}
			for _, i := range p.Imports {
				if slices.Contains(forbiddenInWorkflows, i) {
					bad = append(bad, i)
				}
			}
			return bad
		},
	},
	{
		name:    "the domain imports nothing of ours",
		why:     "it is the bottom of the tree: the backup record and the chain rules everyone uses",
		applies: func(p string) bool { return under(p, "internal/domain") },
		check:   func(p pkg) []string { return ours(p.Imports) },
	},
	{
		name:    "the wire types import only the domain",
		why:     "protocol is what workers of different builds exchange; it holds no logic that needs the rest",
		applies: func(p string) bool { return under(p, "internal/protocol") },
		check: func(p pkg) []string {
			var bad []string
			for _, d := range ours(p.Deps) {
				if !under(d, "internal/protocol", "internal/domain") {
					bad = append(bad, d)
				}
			}
			return bad
		},
	},
	{
		name:    "no product package links the simulator or the test world",
		why:     "the product must talk to SQL Server only as it would to a real one",
		applies: func(p string) bool { return !under(p, testWorld...) },
		check: func(p pkg) []string {
			var bad []string
			for _, d := range ours(p.Deps) {
				if under(d, testWorld...) {
					bad = append(bad, d)
				}
			}
			return bad
		},
	},
	{
		name: "the simulator imports no product package",
		why: "the simulator is evidence only while it is independent: sharing the product's code would make " +
			"the two agree by construction (internal/sqlsim/FIDELITY.md)",
		applies: func(p string) bool { return under(p, "internal/sqlsim") },
		check: func(p pkg) []string {
			var bad []string
			// Its tests may use the test world's harnesses (testenv, the blob conformance suite).
			for _, i := range ours(slices.Concat(p.Deps, p.TestImports, p.XTestImports)) {
				if !under(i, testWorld...) {
					bad = append(bad, i)
				}
			}
			return bad
		},
	},
	{
		name:    "the agent role does not link the control role",
		why:     "the agent runs on every SQL Server VM with the least it needs; the control side hands it what it must know",
		applies: func(p string) bool { return under(p, agentSide...) },
		check: func(p pkg) []string {
			var bad []string
			for _, d := range ours(p.Deps) {
				if under(d, controlSide...) || under(d, "workflows") {
					bad = append(bad, d)
				}
			}
			return bad
		},
	},
	{
		name:    "the control role does not link the agent role",
		why:     "the control side never touches SQL Server or backup bytes; only the agent on the VM does",
		applies: func(p string) bool { return under(p, controlSide...) },
		check: func(p pkg) []string {
			var bad []string
			for _, d := range ours(p.Deps) {
				if under(d, agentSide...) {
					bad = append(bad, d)
				}
			}
			return bad
		},
	},
	{
		name:    "the CLI links no activity and no agent package",
		why:     "the CLI only starts and reads workflows and reads the vault; it must not carry the SQL Server client",
		applies: func(p string) bool { return under(p, "starter", "cmd/sqlvault") },
		check: func(p pkg) []string {
			var bad []string
			for _, d := range ours(p.Deps) {
				if under(d, "activities", "internal/agent") {
					bad = append(bad, d)
				}
			}
			for _, d := range p.Deps {
				if strings.HasPrefix(d, "github.com/microsoft/go-mssqldb") {
					bad = append(bad, d)
					break
				}
			}
			return bad
		},
	},
	{
		name:    "nothing below imports upward",
		why:     "internal packages are libraries; activities, workflows and the commands are built on them, not the other way",
		applies: func(p string) bool { return under(p, "internal") && !under(p, testWorld...) },
		check: func(p pkg) []string {
			var bad []string
			for _, d := range ours(p.Deps) {
				if under(d, "activities", "workflows", "starter", "worker", "cmd") {
					bad = append(bad, d)
				}
			}
			return bad
		},
	},
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-json=ImportPath,Deps,Imports,TestImports,XTestImports", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// violations applies every rule to every package.
func violations(pkgs []pkg, rules []rule) []string {
	var out []string
	for _, p := range pkgs {
		path := rel(p.ImportPath)
		for _, r := range rules {
			if !r.applies(path) {
				continue
			}
			if bad := r.check(p); len(bad) > 0 {
				out = append(out, fmt.Sprintf("%s: %s\n\tbreaks %q (%s)", path, strings.Join(bad, ", "), r.name, r.why))
			}
		}
	}
	return out
}

func TestImportRules(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 20 {
		t.Fatalf("go list found %d packages: not the whole module", len(pkgs))
	}
	for _, v := range violations(pkgs, rules) {
		t.Error(v)
	}
}

// Each rule catches the import it forbids: a package that breaks it, made up from the real
// tree, is reported. (Rules that could never fire would pass the test above for nothing.)
func TestEachRuleFires(t *testing.T) {
	cases := map[string]pkg{
		"workflows import only the SDK, the wire types and the domain": {ImportPath: module + "/workflows", Deps: []string{module + "/internal/vault"}},
		"the domain imports nothing of ours":                           {ImportPath: module + "/internal/domain", Imports: []string{module + "/internal/protocol"}},
		"the wire types import only the domain":                        {ImportPath: module + "/internal/protocol", Deps: []string{module + "/internal/vault"}},
		"no product package links the simulator or the test world":     {ImportPath: module + "/internal/vault", Deps: []string{module + "/internal/sqlsim/blobfake"}},
		"the simulator imports no product package":                     {ImportPath: module + "/internal/sqlsim/blobfake", Deps: []string{module + "/internal/blocklist"}},
		"the agent role does not link the control role":                {ImportPath: module + "/activities/agent", Deps: []string{module + "/internal/control/policy"}},
		"the control role does not link the agent role":                {ImportPath: module + "/internal/control/planner", Deps: []string{module + "/internal/agent/sqlserver"}},
		"the CLI links no activity and no agent package":               {ImportPath: module + "/starter", Deps: []string{module + "/activities/control"}},
		"nothing below imports upward":                                 {ImportPath: module + "/internal/vault", Deps: []string{module + "/workflows"}},
	}
	if len(cases) != len(rules) {
		t.Fatalf("%d cases for %d rules: give every rule a case", len(cases), len(rules))
	}
	for _, r := range rules {
		p, ok := cases[r.name]
		if !ok {
			t.Errorf("rule %q has no case", r.name)
			continue
		}
		if v := violations([]pkg{p}, []rule{r}); len(v) != 1 {
			t.Errorf("rule %q did not fire on %s importing %v", r.name, rel(p.ImportPath), slices.Concat(p.Deps, p.Imports))
		}
	}
}
