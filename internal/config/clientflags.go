package config

import (
	"fmt"

	"github.com/spf13/pflag"
)

// clientFlagNames are the overrides the CLI (cmd/sqlvault) uses: how to reach Temporal and
// the vault, the keys (deep verify, key rotate, key status), and its log level. The agent's settings (VM,
// endpoint, stream tuning) and the worker's role and log format mean nothing to it.
var clientFlagNames = []string{
	"temporal-address", "namespace", "temporal-tls", "temporal-tls-ca-file", "temporal-tls-cert-file",
	"temporal-tls-key-file", "temporal-tls-server-name", "temporal-allow-plaintext", "control-task-queue",
	"vault-account-url", "vault-container", "vault-auth", "key-file", "key-provider", "key-vault-url", "key-vault-key", "codec-key-file", "log-level",
}

// clientOnlyFlags name, by environment variable, the overrides that have a flag on the CLI
// only: the Temporal API key reference (the worker takes it from its file or environment).
// The flag names the variable or file that holds the key, never the key itself.
var clientOnlyFlags = map[string]string{
	"SQLVAULT_TEMPORAL_API_KEY_ENV":  "temporal-api-key-env",
	"SQLVAULT_TEMPORAL_API_KEY_FILE": "temporal-api-key-file",
}

// boolFlags are the overrides whose value is true or false; they are bound as boolean flags
// so that a bare --temporal-tls means true and a bad value is refused while parsing.
var boolFlags = map[string]bool{"temporal-tls": true, "temporal-allow-plaintext": true}

// BindClientFlags defines --config and the CLI's override flags (clientFlagNames and
// clientOnlyFlags) on fs, typed. As with BindFlags, a flag overrides the file and the
// environment only when given on the command line; Load reads both sets.
func BindClientFlags(fs *pflag.FlagSet) {
	fs.String("config", "", "YAML configuration file, the worker's format; only temporal, vault, key and log are used (env SQLVAULT_CONFIG)")
	byFlag := map[string]override{}
	for _, o := range overrides {
		if o.flag != "" {
			byFlag[o.flag] = o
		}
	}
	for _, name := range clientFlagNames {
		o, ok := byFlag[name]
		if !ok {
			panic("config: client flag --" + name + " has no override") // a typo in clientFlagNames; TestBindClientFlags catches it
		}
		usage := fmt.Sprintf("%s (env %s)", o.usage, o.env)
		if boolFlags[name] {
			fs.Bool(name, false, usage)
			continue
		}
		fs.String(name, "", usage)
	}
	for _, o := range overrides {
		if name := clientOnlyFlags[o.env]; name != "" {
			fs.String(name, "", fmt.Sprintf("%s (env %s)", o.usage, o.env))
		}
	}
}

// flagFor is the command-line flag that sets o, on the worker or the CLI ("" for none).
func flagFor(o override) string {
	if o.flag != "" {
		return o.flag
	}
	return clientOnlyFlags[o.env]
}
