package starter

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
)

// readmeCommand is one `bin/sqlvault …` line of the README, where it was found.
type readmeCommand struct {
	line int
	text string
}

// readmeCommands extracts the `bin/sqlvault …` lines of the README's shell blocks (fences
// without a language, or sh/bash/shell), joining lines continued with a backslash.
func readmeCommands(readme string) []readmeCommand {
	return readmeLines(readme, "bin/sqlvault ")
}

// readmeLines extracts the lines of the README's shell blocks that start (after
// indentation) with one of prefixes, joining lines continued with a backslash.
func readmeLines(readme string, prefixes ...string) []readmeCommand {
	var cmds []readmeCommand
	inBlock, shell := false, false
	var pending strings.Builder
	pendingLine := 0
	for i, l := range strings.Split(readme, "\n") {
		if strings.HasPrefix(l, "```") {
			lang := strings.TrimSpace(strings.TrimPrefix(l, "```"))
			if !inBlock {
				inBlock, shell = true, lang == "" || lang == "sh" || lang == "bash" || lang == "shell"
			} else {
				inBlock = false
			}
			continue
		}
		if !inBlock || !shell {
			continue
		}
		t := strings.TrimSpace(l)
		if pending.Len() == 0 {
			if !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(t, p) }) {
				continue
			}
			pendingLine = i + 1
		}
		if strings.HasSuffix(t, `\`) {
			pending.WriteString(strings.TrimSuffix(t, `\`) + " ")
			continue
		}
		pending.WriteString(t)
		cmds = append(cmds, readmeCommand{line: pendingLine, text: pending.String()})
		pending.Reset()
	}
	return cmds
}

// shellWords splits a command line as the shell would for the README's simple lines: words,
// '…' and "…" quoting, backslash escapes outside single quotes, and a # comment at a word's
// start ending the line.
func shellWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words, inWord = append(words, w.String()), false
				w.Reset()
			}
		case c == '#' && !inWord:
			return words, nil
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("unterminated ' in %q", s)
			}
			w.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == '"':
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("unterminated \" in %q", s)
			}
			w.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == '\\' && i+1 < len(s):
			w.WriteByte(s[i+1])
			i++
			inWord = true
		case c == '<' && placeholderWord.MatchString(s[i:]):
			m := placeholderWord.FindString(s[i:])
			w.WriteString(m)
			i += len(m) - 1
			inWord = true
		case c == '$' || c == '`' || c == '|' || c == ';' || c == '&' || c == '>' || c == '<':
			return nil, fmt.Errorf("%q: a README command is one plain command (no %q); the test cannot check it", s, c)
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// placeholderWord is a stand-in such as <point-id>, not a redirection.
var placeholderWord = regexp.MustCompile(`^<[a-z][a-z-]*>`)

// placeholder turns the README's stand-ins into values the parser accepts: <point-id> and
// … (something of the reader's) become a word, and [--flag] (optional) the flag itself.
var optionalFlag = regexp.MustCompile(`^\[(--[a-z-]+)\]$`)

func fillPlaceholder(w string) string {
	switch {
	case strings.HasPrefix(w, "<") && strings.HasSuffix(w, ">"), w == "…":
		return "placeholder"
	case optionalFlag.MatchString(w):
		return optionalFlag.FindStringSubmatch(w)[1]
	}
	return w
}

// fileFlags are flags that name a file in the repository when a README command uses them.
var fileFlags = map[string]bool{"file": true}

// TestReadmeCommandsParse keeps the README's commands true: every `bin/sqlvault …` line of
// its shell blocks names a real command with flags that exist and the arguments it needs,
// and every file such a line names is in the repository and valid (a policy file passes
// the validator `policy create` runs). Running them for real is what the devstack and e2e
// tests do for the ones a fresh stack can run.
func TestReadmeCommandsParse(t *testing.T) {
	root := filepath.Join("..")
	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	cmds := readmeCommands(string(data))
	seen := map[string]bool{}
	for _, c := range cmds {
		words, err := shellWords(c.text)
		require.NoError(t, err, "README.md:%d", c.line)
		for i := range words {
			words[i] = fillPlaceholder(words[i])
		}
		cmd, rest, err := NewRoot().Find(words[1:])
		if !assert.NoError(t, err, "README.md:%d: %s", c.line, c.text) {
			continue
		}
		if !assert.True(t, cmd.Runnable(), "README.md:%d: %q is a group, not a command: %s", c.line, cmd.CommandPath(), c.text) {
			continue
		}
		if !assert.NoError(t, cmd.ParseFlags(rest), "README.md:%d: %s", c.line, c.text) {
			continue
		}
		assert.NoError(t, cmd.ValidateArgs(cmd.Flags().Args()), "README.md:%d: %s", c.line, c.text)
		assert.NoError(t, cmd.ValidateRequiredFlags(), "README.md:%d: %s", c.line, c.text)
		assert.NoError(t, cmd.ValidateFlagGroups(), "README.md:%d: %s", c.line, c.text)
		seen[strings.TrimPrefix(cmd.CommandPath(), "sqlvault ")] = true

		for name := range fileFlags {
			f := cmd.Flags().Lookup(name)
			if f == nil || !f.Changed {
				continue
			}
			path := filepath.Join(root, f.Value.String())
			if !assert.FileExists(t, path, "README.md:%d names a file that is not in the repository: %s", c.line, c.text) {
				continue
			}
			if strings.HasPrefix(cmd.CommandPath(), "sqlvault policy ") {
				_, err := readPolicyFile(path)
				assert.NoError(t, err, "README.md:%d: %s is not a valid policy", c.line, f.Value.String())
			}
		}
	}
	// The extraction itself must keep finding the README's sections.
	for _, want := range []string{"backup", "list", "show", "verify", "restore", "restorable", "discover", "policy create", "protect", "status"} {
		assert.True(t, seen[want], "no README command for %q was found: did the README or its extraction change? found %v", want, seen)
	}
}

// Every example policy in examples/policies is valid and named after its file, so one can
// be given to `policy create --file` as it is.
func TestExamplePoliciesAreValid(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "examples", "policies", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		in, err := readPolicyFile(f)
		if assert.NoError(t, err, f) {
			assert.Equal(t, strings.TrimSuffix(filepath.Base(f), ".json"), in.Name, "%s: the policy is named after its file", f)
		}
	}
}

// The checker refuses what it must: an unknown flag, a missing argument, a file not in the
// repository (run against a README of its own, so the test above cannot pass by checking
// nothing).
func TestReadmeCommandExtraction(t *testing.T) {
	readme := "intro\n```\nbin/sqlvault backup --instance A --database B \\\n  --type log   # a comment\nsource x\n```\n" +
		"```yaml\nbin/sqlvault not-a-shell-block\n```\n```sh\nbin/sqlvault restore --instance 'VM\\I' --database B --at … [--overwrite]\n```\n"
	cmds := readmeCommands(readme)
	require.Len(t, cmds, 2)
	assert.Equal(t, 3, cmds[0].line)
	w, err := shellWords(cmds[0].text)
	require.NoError(t, err)
	assert.Equal(t, []string{"bin/sqlvault", "backup", "--instance", "A", "--database", "B", "--type", "log"}, w)
	w, err = shellWords(cmds[1].text)
	require.NoError(t, err)
	for i := range w {
		w[i] = fillPlaceholder(w[i])
	}
	assert.Equal(t, []string{"bin/sqlvault", "restore", "--instance", `VM\I`, "--database", "B", "--at", "placeholder", "--overwrite"}, w)

	cmd, rest, err := NewRoot().Find([]string{"backup", "--instnce", "A"})
	require.NoError(t, err)
	assert.ErrorContains(t, cmd.ParseFlags(rest), "unknown flag: --instnce")
	cmd, rest, err = NewRoot().Find([]string{"show", "--instance", "A"})
	require.NoError(t, err)
	require.NoError(t, cmd.ParseFlags(rest))
	assert.Error(t, cmd.ValidateArgs(cmd.Flags().Args()), "show needs a point ID")
	_, _, err = NewRoot().Find([]string{"bakup"})
	assert.Error(t, err)
	_, err = shellWords("bin/sqlvault list | head")
	assert.Error(t, err)
}

// shellValue stands for what the shell would expand ($(date +%s), $a) in a README line the
// test parses but does not run.
var shellValue = regexp.MustCompile(`\$\([^)]*\)|\$[A-Za-z_][A-Za-z0-9_]*`)

// TestReadmeTemporalCommandsParse: every Temporal CLI line of the README's shell blocks
// (`bin/temporal …`, or `temporal …` for your own cluster) names a command and flags the
// Temporal CLI the project builds (bin/temporal) has. Cobra parses the flags before it
// answers --help, so `bin/temporal LINE --help` fails on an unknown command or flag and
// runs nothing.
func TestReadmeTemporalCommandsParse(t *testing.T) {
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	bin := filepath.Join(root, "bin", "temporal")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%v", testenv.ErrTemporalMissing)
	}
	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	lines := readmeLines(string(data), "bin/temporal ", "temporal ")
	require.GreaterOrEqual(t, len(lines), 4, "the README's Temporal CLI examples were found")
	for _, l := range lines {
		text := strings.TrimSuffix(strings.TrimSpace(shellValue.ReplaceAllString(l.text, "x")), "; done")
		words, err := shellWords(text)
		require.NoError(t, err, "README.md:%d", l.line)
		for i := range words {
			words[i] = fillPlaceholder(words[i])
		}
		out, err := exec.Command(bin, append(words[1:], "--help")...).CombinedOutput()
		assert.NoError(t, err, "README.md:%d: %s\n%s", l.line, l.text, out)
	}
	out, err := exec.Command(bin, "workflow", "start", "--task-queu", "q", "--help").CombinedOutput()
	assert.Error(t, err, "a misspelt flag fails the check:\n%s", out)
}
