// Package urlpath is the URL data path: SQL Server runs BACKUP … TO URL / RESTORE … FROM URL
// against the agent's own HTTPS endpoint (package endpoint), which speaks the part of the
// Blob REST API SQL Server uses and hands each stripe's blocks to a sink or serves them from
// a source. SQL Server authenticates with a SAS credential named after the session's
// container URL: the session creates it and drops it again.
package urlpath

import (
	"context"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/agent/datapath"
	"github.com/sqlvault/sqlvault/internal/agent/endpoint"
	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/protocol"
)

// sessionTTL bounds a session's token: longer than any activity's StartToClose (24 h), so a
// token never expires under a running statement.
const sessionTTL = 25 * time.Hour

// Path is the URL data path over one endpoint. One Path serves every instance of an agent:
// it knows the credentials of its live sessions, so that dropping those an earlier process
// left behind never drops a live one.
type Path struct {
	endpoint *endpoint.Server
	log      *zap.Logger

	mu    sync.Mutex
	creds map[string]bool // credentials of this process's live sessions
}

// New returns the URL data path over a started endpoint.
func New(ep *endpoint.Server, log *zap.Logger) *Path {
	if log == nil {
		log = zap.NewNop()
	}
	return &Path{endpoint: ep, log: log, creds: map[string]bool{}}
}

// Kind is datapath.URL.
func (p *Path) Kind() datapath.Kind { return datapath.URL }

// OpenBackup opens an endpoint backup session with one blob per stripe and creates the
// session's credential in SQL Server.
func (p *Path) OpenBackup(ctx context.Context, conn *sqlserver.Conn, stripes []datapath.BackupStripe) (datapath.BackupSession, error) {
	sinks := make(map[string]endpoint.BackupSink, len(stripes))
	for _, s := range stripes {
		sinks[s.Name] = s.Sink
	}
	sess, err := p.endpoint.OpenBackup(sinks, sessionTTL)
	if err != nil {
		return nil, protocol.RetryableError(protocol.ErrBackupFailed, err, "open the agent endpoint session: %v", err)
	}
	names := make([]string, len(stripes))
	for i, st := range stripes {
		names[i] = st.Name
	}
	return p.start(ctx, conn, sess, names)
}

// OpenRestore opens an endpoint restore session serving the stripes (read-only token) and
// creates the session's credential in SQL Server.
func (p *Path) OpenRestore(ctx context.Context, conn *sqlserver.Conn, stripes []datapath.RestoreStripe) (datapath.RestoreSession, error) {
	sources := make(map[string]endpoint.RestoreSource, len(stripes))
	for _, s := range stripes {
		sources[s.Name] = s.Source
	}
	sess, err := p.endpoint.OpenRestore(sources, sessionTTL)
	if err != nil {
		return nil, protocol.RetryableError(protocol.ErrBackupFailed, err, "open the endpoint restore session: %v", err)
	}
	names := make([]string, len(stripes))
	for i, st := range stripes {
		names[i] = st.Name
	}
	return p.start(ctx, conn, sess, names)
}

// endpointSession is what a backup and a restore session of the endpoint both offer.
type endpointSession interface {
	Progress() endpoint.Progress
	Err() error
	Close()
	ContainerURL() string
	URL(blobName string) string
	SAS() string
}

// start wraps an open endpoint session: one URL per stripe name, and the session's
// credential created in SQL Server.
func (p *Path) start(ctx context.Context, conn *sqlserver.Conn, sess endpointSession, names []string) (*session, error) {
	s := &session{path: p, conn: conn, progress: sess.Progress, err: sess.Err, closeEP: sess.Close,
		container: sess.ContainerURL()}
	for _, n := range names {
		s.urls = append(s.urls, sess.URL(n))
	}
	if err := s.setUp(ctx, sess.SAS()); err != nil {
		return nil, err
	}
	return s, nil
}

// session is a backup or restore session: the endpoint's session plus SQL Server's credential.
type session struct {
	path      *Path
	conn      *sqlserver.Conn
	container string
	urls      []string

	progress func() endpoint.Progress
	err      func() error
	closeEP  func()

	tracked, created bool
}

// setUp drops stale credentials, then creates this session's. On failure it has undone
// what it did, the endpoint session included, and returns SQL Server's error as it is.
func (s *session) setUp(ctx context.Context, sas string) error {
	s.path.dropStaleCredentials(ctx, s.conn)
	s.path.track(s.container, true)
	s.tracked = true
	if err := s.conn.CreateCredential(ctx, s.container, sas); err != nil {
		s.Close()
		return err
	}
	s.created = true
	return nil
}

func (s *session) DeviceType() sqlserver.DeviceType { return sqlserver.DeviceURL }
func (s *session) Devices() []string                { return append([]string(nil), s.urls...) }
func (s *session) Err() error                       { return s.err() }

// Finish has nothing to wait for: SQL Server's Put Block List committed every stripe before
// the BACKUP ended.
func (s *session) Finish(context.Context) error { return s.err() }

func (s *session) Progress() datapath.Progress {
	p := s.progress()
	return datapath.Progress{Bytes: p.Bytes, Blocks: p.Blocks}
}

func (s *session) FileList(ctx context.Context) ([]sqlserver.BackupFile, error) {
	return s.conn.FileList(ctx, s.urls)
}

// Close drops the credential (it holds a secret for this operation only: dropped even when
// the activity was cancelled), forgets it, and closes the endpoint session, in that order.
func (s *session) Close() {
	if s.created {
		s.created = false
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := s.conn.DropCredential(dctx, s.container); err != nil {
			s.path.log.Warn("could not drop the operation's credential", zap.Error(err))
		}
		cancel()
	}
	if s.tracked {
		s.tracked = false
		s.path.track(s.container, false)
	}
	s.closeEP()
}

// track records a live session's credential (on) or forgets it (off).
func (p *Path) track(name string, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.creds[name] = true
	} else {
		delete(p.creds, name)
	}
}

// dropStaleCredentials removes operation credentials an earlier agent process left behind
// when it died mid-backup: their SAS is useless (the endpoint's signing key died with it),
// but a secret should not linger in SQL Server.
func (p *Path) dropStaleCredentials(ctx context.Context, conn *sqlserver.Conn) {
	prefix := strings.TrimSuffix(p.endpoint.BaseURL(), "/")
	if i := strings.LastIndex(prefix, ":"); i > len("https://") {
		prefix = prefix[:i+1] // any port: the dead process may have listened elsewhere
	}
	names, err := conn.Credentials(ctx, prefix)
	if err != nil {
		p.log.Warn("could not list credentials", zap.Error(err))
		return
	}
	for _, n := range names {
		p.mu.Lock()
		live := p.creds[n]
		p.mu.Unlock()
		if live || !strings.Contains(n, "/op-") {
			continue
		}
		if err := conn.DropCredential(ctx, n); err != nil {
			p.log.Warn("could not drop a stale credential", zap.Error(err))
		} else {
			p.log.Info("dropped a credential left by an interrupted operation", zap.String("credential", n))
		}
	}
}
