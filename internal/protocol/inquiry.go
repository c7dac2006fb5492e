package protocol

// Discovery: what is on a VM's SQL Server instances and what of it can be protected.
const (
	WorkflowInquiry  = "sqlvault.Inquiry"
	ActivityDiscover = "sqlvault.agent.Discover"
)

// The product's protection limits, from the reference (Azure Backup's SQL Server in VMs).
const (
	MaxDatabasesPerConfigure = 50
	MaxDatabasesPerVault     = 2000
	MaxFilesPerDatabase      = 1000
	MinLogIntervalMinutes    = 15
)

// InquiryInput starts sqlvault.Inquiry: {"vm": "SQLVM1"}.
type InquiryInput struct {
	VM string `json:"vm"`
}

// InquiryResult is every managed instance on the VM with its databases.
type InquiryResult struct {
	VM        string         `json:"vm"`
	Instances []InstanceInfo `json:"instances"`
}

// InstanceInfo describes one instance.
type InstanceInfo struct {
	Name           string         `json:"name"`
	ProductVersion string         `json:"productVersion"`
	Edition        string         `json:"edition"`
	Login          string         `json:"login"`
	Clustered      bool           `json:"clustered"` // a failover cluster instance: not supported
	Databases      []DatabaseInfo `json:"databases"`
}

// DatabaseInfo is what protection decisions need about one database.
type DatabaseInfo struct {
	Name          string  `json:"name"`
	ItemID        string  `json:"itemId"`
	State         string  `json:"state"`
	RecoveryModel string  `json:"recoveryModel"`
	ReadOnly      bool    `json:"readOnly"`
	SizeBytes     int64   `json:"sizeBytes"`
	Files         int     `json:"files"`
	Snapshot      bool    `json:"snapshot"`
	Mirrored      bool    `json:"mirrored"`
	AG            *AGInfo `json:"availabilityGroup,omitempty"`
	// Protectable is false when a support rule refuses the database; Reasons say which.
	Protectable bool     `json:"protectable"`
	Reasons     []string `json:"reasons,omitempty"`
	// BackupTypes are the types the rules allow (read-only: full and copy-only full only).
	BackupTypes []BackupType `json:"backupTypes,omitempty"`
}

// AGInfo is the database's availability group as one replica sees it. Every replica is
// listed (the group's metadata), but a secondary sees only its own role: the others' Role
// is "" there. Local names the replica that answered; LocalPreferred is its
// sys.fn_hadr_backup_is_preferred_replica for the database.
type AGInfo struct {
	Name           string      `json:"name"`
	Preference     string      `json:"preference"`
	Replicas       []AGReplica `json:"replicas"`
	Local          string      `json:"local,omitempty"`
	LocalPreferred bool        `json:"localPreferred,omitempty"`
}

// AGReplica is one replica.
type AGReplica struct {
	Server         string `json:"server"`
	Role           string `json:"role"` // PRIMARY, SECONDARY; "" when the answering replica cannot see it
	BackupPriority int    `json:"backupPriority"`
}
