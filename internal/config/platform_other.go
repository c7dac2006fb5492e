//go:build !windows

package config

func platformPaths() PlatformPaths {
	return PlatformPaths{
		ConfigDir:   "/etc/sqlvault",
		ConfigFile:  "/etc/sqlvault/agent.yaml",
		KeyFile:     "/etc/sqlvault/vault.key",
		EndpointDir: "/etc/sqlvault/endpoint",
		StateDir:    "/var/lib/sqlvault",
		LogDir:      "/var/log/sqlvault",
		VDILibrary:  "/opt/mssql/lib/libsqlvdi.so", // where mssql-server installs it
	}
}
