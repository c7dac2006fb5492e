package config

// PlatformPaths are where the agent keeps its files on this operating system: the
// configuration the service reads, the vault key, the endpoint's certificate, the state
// that setup records, and the log folder. Linux follows the FHS (/etc, /var/lib, /var/log);
// Windows keeps everything under %ProgramData%\sqlvault, whose ACL allows only the service
// account and Administrators.
type PlatformPaths struct {
	ConfigDir   string // holds ConfigFile, KeyFile and EndpointDir
	ConfigFile  string
	KeyFile     string
	EndpointDir string // the endpoint's certificate and key, and the CA setup makes the machine trust
	StateDir    string
	LogDir      string
	// VDILibrary is SQL Server's VDI client library where it is loaded from a path: Linux's
	// libsqlvdi.so. Empty on Windows, where sqlvdi.dll is found through its COM registration.
	VDILibrary string
}

// Platform returns the paths for the operating system the binary was built for.
func Platform() PlatformPaths { return platformPaths() }
