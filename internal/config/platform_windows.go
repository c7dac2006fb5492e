package config

import (
	"os"
	"path/filepath"
)

func platformPaths() PlatformPaths {
	// %ProgramData% is C:\ProgramData unless the machine moved it.
	pd := os.Getenv("ProgramData")
	if pd == "" {
		pd = `C:\ProgramData`
	}
	base := filepath.Join(pd, "sqlvault")
	return PlatformPaths{
		ConfigDir:   base,
		ConfigFile:  filepath.Join(base, "agent.yaml"),
		KeyFile:     filepath.Join(base, "vault.key"),
		EndpointDir: filepath.Join(base, "endpoint"),
		StateDir:    filepath.Join(base, "state"),
		LogDir:      filepath.Join(base, "logs"),
	}
}
