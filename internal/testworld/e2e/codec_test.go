package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/payloadcodec"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/temporalx"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
	"github.com/sqlvault/sqlvault/worker"
)

// With the codec on (the worker processes and the client configured with codec.keyFile,
// made by `sqlvault codec init`), a backup, a restore as files and a refused restore leave
// histories whose payloads, fetched with the plain Temporal CLI, hold no database name,
// server name, file path or LSN — failure messages included — and the same histories
// through `sqlvault-worker codec-server` (the CLI's --codec-endpoint and --codec-auth) show
// them. The clear exception is exactly the search attributes (instance, database, type,
// VM) and the names Temporal itself keys on (workflow IDs, task queues), as documented.
func TestCodecHistoriesAreCiphertextWithoutTheCodecServer(t *testing.T) {
	s := newStack(t)
	codecFile := filepath.Join(t.TempDir(), "codec.keys")
	out, err := s.sqlvaultCLI("codec", "init", "--codec-key-file", codecFile)
	require.NoError(t, err, out)
	require.Contains(t, out, "active codec key codec-")

	// The test's own client encodes and decodes as the CLI does with codec.keyFile.
	codec, err := payloadcodec.FromConfig(context.Background(), config.Codec{KeyFile: codecFile}, config.Key{File: s.keyFile})
	require.NoError(t, err)
	opts := client.Options{HostPort: s.temporal.HostPort, Namespace: s.temporal.Namespace}
	temporalx.UseCodec(&opts, codec)
	s.tc, err = client.Dial(opts)
	require.NoError(t, err)
	t.Cleanup(s.tc.Close)

	codecYAML := fmt.Sprintf("codec:\n  keyFile: %s\n", codecFile)
	s.startWorkerProcessWith("control", "drillPlanner:\n  off: true\n"+codecYAML)
	restoreRoot := t.TempDir()
	// Indented: it continues the agent section startWorkerProcessWith writes last.
	s.startWorkerProcessWith("agent", fmt.Sprintf("  restoreRoots: [%s]\n", restoreRoot)+codecYAML)

	const db = "CodecSecretSales"
	src, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: db, DataPages: 128})
	require.NoError(t, err)
	s.clock.Advance(time.Minute)
	_, err = src.Write(20)
	require.NoError(t, err)
	backupRun := s.start(s.backupInput(db, protocol.Full))
	var backup protocol.BackupResult
	require.NoError(t, getWithin(backupRun, 3*time.Minute, &backup))
	rp := backup.RecoveryPoint
	require.NotEmpty(t, rp.LastLSN)

	recordWithCodecKeys(t, s, "backup-full-codec", backupRun, codecFile)

	dir := filepath.Join(restoreRoot, "codec-restore-folder")
	restoreRun := s.startRestore(protocol.RestoreInput{Instance: vm, Database: db, PointID: rp.PointID, TargetDatabase: db + "_files", AsFilesDir: dir})
	var restored protocol.RestoreResult
	require.NoError(t, getWithin(restoreRun, 3*time.Minute, &restored))
	require.NotNil(t, restored.Files)

	// Over the live source without overwrite: refused, with a failure that names the database.
	refusedRun := s.startRestore(protocol.RestoreInput{Instance: vm, Database: db, PointID: rp.PointID})
	err = getWithin(refusedRun, 3*time.Minute, nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), db, "the client decodes the failure message")

	secrets := map[string]string{"database": db, "server name": s.inst.ServerName(), "file path": dir, "LSN": rp.LastLSN}
	runs := []client.WorkflowRun{backupRun, restoreRun, refusedRun}

	// The plain CLI: every payload is ciphertext; nothing names a secret outside the
	// documented clear fields.
	clearFields, saKeys := map[string]bool{}, map[string]bool{}
	for _, run := range runs {
		doc := temporalShow(t, s, run.GetID())
		n := 0
		walkJSON(doc, nil, func(path []string, v any) {
			if p, ok := v.(map[string]any); ok && isPayload(p) && !under(path, "searchAttributes") {
				n++
				assert.Equal(t, payloadcodec.Encoding, payloadEncoding(p), "payload at %s", strings.Join(path, "."))
			}
			str, ok := v.(string)
			if !ok {
				return
			}
			text := str
			if len(path) > 0 && path[len(path)-1] == "data" {
				if b, err := base64.StdEncoding.DecodeString(str); err == nil {
					text = string(b)
				}
			}
			for name, secret := range secrets {
				if strings.Contains(text, secret) {
					clearFields[clearField(path)] = true
					if under(path, "searchAttributes") {
						saKeys[indexedField(path)] = true
					}
					assert.True(t, allowedClear(path), "%s %q in clear at %s", name, secret, strings.Join(path, "."))
				}
			}
		})
		assert.NotZero(t, n, "the history of %s has payloads", run.GetID())
	}
	t.Logf("fields that hold a name in clear: %v", keysOf(clearFields))
	assert.True(t, clearFields["searchAttributes"], "the search attributes are the documented exception, and they are there")
	documented := map[string]bool{protocol.SAInstance.GetName(): true, protocol.SADatabase.GetName(): true,
		protocol.SABackupType.GetName(): true, protocol.SAVM.GetName(): true}
	for k := range saKeys {
		assert.True(t, documented[k], "search attribute %s holds a name: only instance, database, type and VM are documented", k)
	}
	assert.True(t, saKeys[protocol.SADatabase.GetName()], "the database search attribute is in clear, as documented")

	// The codec server, as `sqlvault-worker codec-server` runs it.
	port, err := testenv.FreePort()
	require.NoError(t, err)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	t.Setenv("SQLVAULT_TEST_CODEC_TOKEN", "e2e-codec-token")
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		root := worker.NewRoot()
		root.SetArgs([]string{"codec-server", "--listen", addr, "--token-env", "SQLVAULT_TEST_CODEC_TOKEN",
			"--codec-key-file", codecFile, "--key-file", s.keyFile, "--serve-namespace", s.temporal.Namespace,
			"--allow-origin", "http://localhost:8233", "--log-level", "error"})
		served <- root.ExecuteContext(ctx)
	}()
	t.Cleanup(func() { stop(); require.NoError(t, <-served) })
	require.Eventually(t, func() bool {
		resp, err := http.Post("http://"+addr+"/decode", "application/json", strings.NewReader(`{"payloads":[]}`))
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusUnauthorized
	}, 30*time.Second, 50*time.Millisecond, "the codec server answers (401 without a token)")

	// A wrong token decodes nothing: the CLI fails or shows the payloads as stored.
	if text, err := temporalCLI(s, "workflow", "show", "-w", backupRun.GetID(), "--output", "json",
		"--codec-endpoint", "http://"+addr, "--codec-auth", "Bearer wrong"); err == nil {
		assert.NotContains(t, payloadTexts(t, text), db)
	}

	var decoded strings.Builder
	for _, run := range runs {
		text, err := temporalCLI(s, "workflow", "show", "-w", run.GetID(), "--output", "json",
			"--codec-endpoint", "http://"+addr, "--codec-auth", "Bearer e2e-codec-token")
		require.NoError(t, err, text)
		decoded.WriteString(payloadTexts(t, text))
	}
	for name, secret := range secrets {
		assert.Contains(t, decoded.String(), secret, "%s in the payloads through the codec server", name)
	}
}

// payloadTexts is the text of every payload of a `workflow show --output json` (data
// base64-decoded) outside the search attributes, and every failure message; it fails the
// test on a payload still encrypted.
func payloadTexts(t *testing.T, text string) string {
	var doc any
	require.NoError(t, json.Unmarshal([]byte(text), &doc), text)
	var b strings.Builder
	walkJSON(doc, nil, func(path []string, v any) {
		if under(path, "searchAttributes") {
			return
		}
		if p, ok := v.(map[string]any); ok && isPayload(p) {
			if enc := payloadEncoding(p); enc != "json/plain" {
				b.WriteString("[" + enc + "]")
			}
			data, _ := p["data"].(string)
			raw, err := base64.StdEncoding.DecodeString(data)
			require.NoError(t, err)
			b.Write(raw)
			b.WriteString("\n")
		}
		if str, ok := v.(string); ok && len(path) > 0 && path[len(path)-1] == "message" {
			b.WriteString(str + "\n")
		}
	})
	return b.String()
}

// recordWithCodecKeys records a history with encrypted payloads (record, under
// SQLVAULT_RECORD_HISTORIES) and the keys to read it: the test's vault key file (the KEK)
// and codec key file, as workflows/testdata/codec/ fixtures that the replay test decodes
// with. They are test keys, made for this run and protecting nothing else.
func recordWithCodecKeys(t *testing.T, s *stack, name string, run client.WorkflowRun, codecFile string) {
	if os.Getenv("SQLVAULT_RECORD_HISTORIES") == "" {
		return
	}
	record(t, name, s.history(run.GetID(), run.GetRunID()))
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	dir := filepath.Join(root, "workflows", "testdata", "codec")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for src, dst := range map[string]string{s.keyFile: "vault.key", codecFile: "codec.keys"} {
		b, err := os.ReadFile(src)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, dst), b, 0o600))
	}
}

func getWithin(run client.WorkflowRun, d time.Duration, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return run.Get(ctx, out)
}

func temporalCLI(s *stack, args ...string) (string, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return "", err
	}
	args = append(args, "--address", s.temporal.HostPort, "--namespace", s.temporal.Namespace)
	out, err := exec.Command(filepath.Join(root, "bin", "temporal"), args...).CombinedOutput()
	return string(out), err
}

// temporalShow is `temporal workflow show --output json` with no codec: what whoever can
// read the namespace sees.
func temporalShow(t *testing.T, s *stack, id string) any {
	t.Helper()
	text, err := temporalCLI(s, "workflow", "show", "-w", id, "--output", "json")
	require.NoError(t, err, text)
	var doc any
	require.NoError(t, json.Unmarshal([]byte(text), &doc), text)
	return doc
}

func walkJSON(v any, path []string, visit func(path []string, v any)) {
	visit(path, v)
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			walkJSON(c, append(append([]string(nil), path...), k), visit)
		}
	case []any:
		for _, c := range x {
			walkJSON(c, path, visit)
		}
	}
}

func isPayload(m map[string]any) bool {
	md, ok := m["metadata"].(map[string]any)
	return ok && md["encoding"] != nil
}

func payloadEncoding(m map[string]any) string {
	enc, _ := m["metadata"].(map[string]any)["encoding"].(string)
	if b, err := base64.StdEncoding.DecodeString(enc); err == nil {
		return string(b)
	}
	return enc
}

func under(path []string, key string) bool {
	for _, p := range path {
		if p == key {
			return true
		}
	}
	return false
}

// clearField names where a secret was found in clear: the search attributes, or the field.
func clearField(path []string) string {
	if under(path, "searchAttributes") {
		return "searchAttributes"
	}
	if len(path) == 0 {
		return ""
	}
	return strings.Join(path[max(0, len(path)-2):], ".")
}

// indexedField is the search attribute a path is under.
func indexedField(path []string) string {
	for i, p := range path {
		if p == "indexedFields" && i+1 < len(path) {
			return path[i+1]
		}
	}
	return ""
}

// allowedClear: the search attributes (instance, database, type, VM), and the identifiers
// Temporal itself keys on: workflow IDs (which name the item: protocol.BackupWorkflowID) and
// the agent task queue (which names the VM).
func allowedClear(path []string) bool {
	if under(path, "searchAttributes") {
		return true
	}
	last := path[len(path)-1]
	switch last {
	case "workflowId":
		return true
	case "name":
		return under(path, "taskQueue")
	}
	return false
}

func keysOf(m map[string]bool) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
