package datapath

import (
	"fmt"
	"strings"
	"sync"

	"github.com/sqlvault/sqlvault/internal/agent/vdi"
)

// Library is the machine's VDI client library as the data-path rule needs it: opened at most
// once, on the first choice that asks for it, so a machine whose instances all say
// dataPath: url never loads it.
type Library struct {
	open     func() (vdi.Platform, error)
	once     sync.Once
	platform vdi.Platform
	err      error
}

// NewLibrary is the library open opens (sqlvdi.dll's COM class on Windows, libsqlvdi.so on
// Linux; nil: none on this machine).
func NewLibrary(open func() (vdi.Platform, error)) *Library { return &Library{open: open} }

// Get opens the library (once) and returns it, or why there is none: an error that wraps
// vdi.ErrNoPlatform, or the opener's own.
func (l *Library) Get() (vdi.Platform, error) {
	l.once.Do(func() {
		if l.open == nil {
			l.err = vdi.ErrNoPlatform
			return
		}
		l.platform, l.err = l.open()
		if l.err == nil && l.platform == nil {
			l.err = vdi.ErrNoPlatform
		}
		if l.err != nil {
			l.platform = nil
		}
	})
	return l.platform, l.err
}

// Choice is the data path an instance streams through, and why.
type Choice struct {
	Kind Kind
	// Platform is the VDI client library when Kind is VDI.
	Platform vdi.Platform
	// Default is true when the instance has no dataPath and the rule chose.
	Default bool
	// Why says, for the agent's start-up log and doctor, how the path was chosen.
	Why string
}

// Choose applies the rule for an instance's configured dataPath:
//   - url or vdi: that path. vdi without the library is ErrNoVDI (with the library's
//     reason): a configuration error to report at start, not at the first backup.
//   - empty: vdi where the library opens (no certificate, host name or port 443 for SQL
//     Server, and no TLS on every byte), else url.
func (l *Library) Choose(configured string) (Choice, error) {
	if strings.TrimSpace(configured) == "" {
		p, err := l.Get()
		if err != nil {
			return Choice{Kind: URL, Default: true,
				Why: fmt.Sprintf("dataPath is not set and this machine has no VDI client library (%v), so url; vdi is the default where the library is present", err)}, nil
		}
		return Choice{Kind: VDI, Platform: p, Default: true,
			Why: "dataPath is not set and this machine has the VDI client library (" + p.Describe() + "), so vdi, the default where it is present"}, nil
	}
	kind, err := ParseKind(configured)
	if err != nil {
		return Choice{}, err
	}
	if kind == URL {
		return Choice{Kind: URL, Why: "dataPath: url in the configuration"}, nil
	}
	p, err := l.Get()
	if err != nil {
		return Choice{}, fmt.Errorf("%w (%w)", ErrNoVDI, err)
	}
	return Choice{Kind: VDI, Platform: p, Why: "dataPath: vdi in the configuration, through " + p.Describe()}, nil
}
