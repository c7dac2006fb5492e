// Package azstore is the vault.Store on Azure Blob Storage (and Azurite), over azblob's
// container client. It adds nothing to the data; its jobs are the mapping to block-blob
// calls, retry tuning, and error hygiene: every error is typed (vault.ErrNotFound, ErrExists,
// ErrAuth, …) and no error message ever carries a SAS token, account key or signature.
package azstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/sqlvault/sqlvault/internal/vault"
)

// Config says where the vault container is and how to authenticate. Exactly one of
// Credential, SASToken, SharedKey and ConnectionString must be set. Its String method
// redacts every secret, so logging a Config is safe.
type Config struct {
	// AccountURL is the blob endpoint, e.g. https://acct.blob.core.windows.net or Azurite's
	// http://127.0.0.1:10000/devstoreaccount1. Unused with ConnectionString.
	AccountURL string
	Container  string

	// Credential is an Entra ID token credential, normally
	// azidentity.NewDefaultAzureCredential(nil) (managed identity, workload identity, Azure
	// CLI, …); it needs an RBAC data role on the container. It is taken as an interface so
	// this package does not pull azidentity's MSAL dependencies into every build.
	Credential azcore.TokenCredential
	// SASToken is a container (or account) SAS query string, with or without the leading '?'.
	SASToken string
	// SharedKey is an account name and key.
	SharedKey *SharedKey
	// ConnectionString is a storage connection string (what Azurite hands out).
	ConnectionString string
	// BlobSAS are blob-scoped SAS tokens (sr=b) by blob name: what a vault grant carries
	// (package grant). The store reaches only these blobs, each with its own token; any
	// other name, and every listing, is refused here with ErrNotGranted before a request.
	BlobSAS map[string]string
	// GrantExpiry is when BlobSAS's tokens expire: from then on every call fails with
	// ErrGrantExpired, which says what to do, instead of the service's bare 403.
	GrantExpiry time.Time

	// CreateContainer creates the container if it does not exist.
	CreateContainer bool

	// MaxRetries is how often one request is retried on transient failure (throttling, 5xx,
	// timeouts, network errors); 0 means 5.
	MaxRetries int32
	// TryTimeout bounds one attempt of one request; 0 means 2 minutes, enough to move a
	// 4 MiB block over a slow link, short enough to retry a stuck connection.
	TryTimeout time.Duration
	// ListPageSize is the listing page size (MaxResults); 0 means the service's 5000.
	ListPageSize int32
}

// SharedKey is an account name and its key.
type SharedKey struct {
	Account string
	Key     string
}

// String redacts the key.
func (k SharedKey) String() string { return "SharedKey{" + k.Account + ", key redacted}" }

// GoString redacts the key.
func (k SharedKey) GoString() string { return k.String() }

// String redacts secrets and says which kind of auth is configured.
func (c Config) String() string {
	auth := "none"
	switch {
	case c.Credential != nil:
		auth = "token-credential"
	case c.SASToken != "":
		auth = "sas(redacted)"
	case c.SharedKey != nil:
		auth = c.SharedKey.String()
	case c.ConnectionString != "":
		auth = "connection-string(redacted)"
	case len(c.BlobSAS) > 0:
		auth = fmt.Sprintf("blob-sas(%d blobs, redacted)", len(c.BlobSAS))
	}
	return fmt.Sprintf("azstore.Config{AccountURL: %s, Container: %s, Auth: %s}", c.AccountURL, c.Container, auth)
}

// GoString redacts secrets.
func (c Config) GoString() string { return c.String() }

// Store is a vault.Store on one blob container.
type Store struct {
	c *container.Client
	// granted holds one container client per granted blob, each carrying that blob's SAS
	// (grant mode: BlobSAS); nil otherwise.
	granted     map[string]*container.Client
	grantExpiry time.Time
	pageSize    int32
	secrets     []string // redacted from every error message
	// onPage is a test hook counting list pages.
	onPage func()
}

var _ vault.Store = (*Store)(nil)

// New connects to the container (creating it if asked). It makes one request only with
// CreateContainer; otherwise credentials are first checked by the first real call.
func New(ctx context.Context, cfg Config) (*Store, error) {
	n := 0
	for _, set := range []bool{cfg.Credential != nil, cfg.SASToken != "", cfg.SharedKey != nil, cfg.ConnectionString != "", len(cfg.BlobSAS) > 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, errors.New("azstore: configure exactly one of Credential, SASToken, SharedKey, ConnectionString, BlobSAS")
	}
	if cfg.Container == "" {
		return nil, errors.New("azstore: container name is required")
	}
	retries, try := cfg.MaxRetries, cfg.TryTimeout
	if retries == 0 {
		retries = 5
	}
	if try == 0 {
		try = 2 * time.Minute
	}
	opts := &container.ClientOptions{ClientOptions: azcore.ClientOptions{
		Retry: policy.RetryOptions{
			MaxRetries:    retries,
			TryTimeout:    try,
			RetryDelay:    500 * time.Millisecond,
			MaxRetryDelay: 30 * time.Second,
		},
	}}
	s := &Store{pageSize: cfg.ListPageSize}
	containerURL := strings.TrimSuffix(cfg.AccountURL, "/") + "/" + cfg.Container
	var err error
	switch {
	case cfg.ConnectionString != "":
		s.secrets = append(s.secrets, cfg.ConnectionString)
		if k := connStringKey(cfg.ConnectionString); k != "" {
			s.secrets = append(s.secrets, k)
		}
		s.c, err = container.NewClientFromConnectionString(cfg.ConnectionString, cfg.Container, opts)
		err = hideErr(err, "connection string is not valid")
	case cfg.SharedKey != nil:
		s.secrets = append(s.secrets, cfg.SharedKey.Key)
		var cred *container.SharedKeyCredential
		cred, err = container.NewSharedKeyCredential(cfg.SharedKey.Account, cfg.SharedKey.Key)
		if err == nil {
			s.c, err = container.NewClientWithSharedKeyCredential(containerURL, cred, opts)
		}
		err = hideErr(err, "shared key is not valid (want the base64 account key)")
	case len(cfg.BlobSAS) > 0:
		if cfg.CreateContainer {
			return nil, errors.New("azstore: a store of blob SAS tokens cannot create the container")
		}
		s.grantExpiry = cfg.GrantExpiry
		s.granted = make(map[string]*container.Client, len(cfg.BlobSAS))
		for name, tok := range cfg.BlobSAS {
			tok = strings.TrimPrefix(tok, "?")
			s.secrets = append(s.secrets, tok)
			var c *container.Client
			c, err = container.NewClientWithNoCredential(containerURL+"?"+tok, opts)
			if err != nil {
				break
			}
			s.granted[name] = c
		}
		if err == nil {
			// Container-level calls (listings) have no token: they fail before a request.
			s.c, err = container.NewClientWithNoCredential(containerURL, opts)
		}
		err = hideErr(err, "container URL with blob SAS is not valid")
	case cfg.SASToken != "":
		tok := strings.TrimPrefix(cfg.SASToken, "?")
		s.secrets = append(s.secrets, tok)
		s.c, err = container.NewClientWithNoCredential(containerURL+"?"+tok, opts)
		err = hideErr(err, "container URL with SAS is not valid")
	default:
		s.c, err = container.NewClient(containerURL, cfg.Credential, opts)
		err = hideErr(err, "container URL is not valid")
	}
	if err != nil {
		return nil, err
	}
	if cfg.CreateContainer {
		_, err := s.c.Create(ctx, nil)
		if err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
			return nil, s.mapErr("create container", cfg.Container, err)
		}
	}
	return s, nil
}

// hideErr replaces a constructor error, whose text may quote the secret it choked on.
func hideErr(err error, msg string) error {
	if err == nil {
		return nil
	}
	return errors.New("azstore: " + msg)
}

var accountKeyRe = regexp.MustCompile(`(?i)AccountKey=([^;]+)`)

func connStringKey(cs string) string {
	if m := accountKeyRe.FindStringSubmatch(cs); m != nil {
		return m[1]
	}
	return ""
}

func (s *Store) StageBlock(ctx context.Context, name, blockID string, data []byte) error {
	bb, err := s.blockBlob("stage block", name)
	if err != nil {
		return err
	}
	_, err = bb.StageBlock(ctx, blockID, streaming.NopCloser(bytes.NewReader(data)), nil)
	return s.mapErr("stage block", name, err)
}

func (s *Store) CommitBlocks(ctx context.Context, name string, blockIDs []string, o vault.CommitOptions) error {
	opts := &blockblob.CommitBlockListOptions{}
	if o.IfNoneMatch {
		opts.AccessConditions = ifNoneMatchAny()
	}
	bb, err := s.blockBlob("commit blocks", name)
	if err != nil {
		return err
	}
	_, err = bb.CommitBlockList(ctx, blockIDs, opts)
	return s.mapErr("commit blocks", name, err)
}

func ifNoneMatchAny() *blob.AccessConditions {
	return &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: to.Ptr(azcore.ETagAny)}}
}

func (s *Store) BlockList(ctx context.Context, name string) ([]vault.Block, error) {
	bb, err := s.blockBlob("block list", name)
	if err != nil {
		return nil, err
	}
	resp, err := bb.GetBlockList(ctx, blockblob.BlockListTypeCommitted, nil)
	if err != nil {
		return nil, s.mapErr("block list", name, err)
	}
	// A name with only staged blocks answers with an empty committed list (Azurite even
	// with an ETag); it is not a blob until committed, which Get Properties tells apart.
	if len(resp.CommittedBlocks) == 0 {
		if _, err := s.Props(ctx, name); err != nil {
			return nil, err
		}
	}
	out := make([]vault.Block, 0, len(resp.CommittedBlocks))
	for _, b := range resp.CommittedBlocks {
		out = append(out, vault.Block{ID: deref(b.Name), Size: deref(b.Size)})
	}
	return out, nil
}

func (s *Store) ReadRange(ctx context.Context, name string, off, n int64) ([]byte, error) {
	if off < 0 || n < 0 {
		return nil, fmt.Errorf("azstore: read %s: %w: negative offset or length", name, vault.ErrRange)
	}
	if n == 0 {
		// azblob reads Count 0 as "to the end"; the contract says nothing. Still check the
		// blob exists so a missing blob is reported the same way.
		if _, err := s.Props(ctx, name); err != nil {
			return nil, err
		}
		return []byte{}, nil
	}
	data, err := s.download(ctx, "read range", name, blob.HTTPRange{Offset: off, Count: n})
	if err == nil && len(data) == 0 {
		// Azure answers 416 for a range starting at the end; Azurite answers an empty 206.
		return nil, &Error{Op: "read range", Blob: name, Kind: vault.ErrRange, msg: fmt.Sprintf("offset %d is at or past the end", off)}
	}
	return data, err
}

func (s *Store) download(ctx context.Context, op, name string, rng blob.HTTPRange) ([]byte, error) {
	bc, err := s.blobClient(op, name)
	if err != nil {
		return nil, err
	}
	resp, err := bc.DownloadStream(ctx, &blob.DownloadStreamOptions{Range: rng})
	if err != nil {
		return nil, s.mapErr(op, name, err)
	}
	// The retry reader resumes a body that breaks mid-way with a new ranged request.
	body := resp.NewRetryReader(ctx, &blob.RetryReaderOptions{MaxRetries: 3})
	defer body.Close()
	var buf bytes.Buffer
	if resp.ContentLength != nil && *resp.ContentLength > 0 {
		buf.Grow(int(*resp.ContentLength))
	}
	if _, err := io.Copy(&buf, body); err != nil {
		return nil, s.mapErr(op, name, err)
	}
	return buf.Bytes(), nil
}

func (s *Store) Put(ctx context.Context, name string, data []byte, o vault.PutOptions) error {
	opts := &blockblob.UploadOptions{}
	if o.IfNoneMatch {
		opts.AccessConditions = ifNoneMatchAny()
	}
	if o.IfMatch != "" {
		e := azcore.ETag(o.IfMatch)
		opts.AccessConditions = &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: &e}}
	}
	if len(o.Metadata) > 0 {
		// Sent as x-ms-meta-* headers of the same Put Blob: content and metadata are one write.
		opts.Metadata = make(map[string]*string, len(o.Metadata))
		for k, v := range o.Metadata {
			opts.Metadata[k] = to.Ptr(v)
		}
	}
	bb, err := s.blockBlob("put", name)
	if err != nil {
		return err
	}
	_, err = bb.Upload(ctx, streaming.NopCloser(bytes.NewReader(data)), opts)
	if err = s.mapErr("put", name, err); err != nil && o.IfMatch != "" {
		var ae *Error
		if errors.As(err, &ae) && (ae.Status == http.StatusPreconditionFailed || errors.Is(err, vault.ErrNotFound)) {
			ae.Kind = vault.ErrChanged // written or deleted since the ETag was read
		}
	}
	return err
}

func (s *Store) Get(ctx context.Context, name string) ([]byte, error) {
	return s.download(ctx, "get", name, blob.HTTPRange{})
}

func (s *Store) Props(ctx context.Context, name string) (vault.Props, error) {
	bc, err := s.blobClient("properties", name)
	if err != nil {
		return vault.Props{}, err
	}
	resp, err := bc.GetProperties(ctx, nil)
	if err != nil {
		return vault.Props{}, s.mapErr("properties", name, err)
	}
	return vault.Props{Size: deref(resp.ContentLength), LastModified: deref(resp.LastModified), ETag: quotedETag(deref(resp.ETag))}, nil
}

func (s *Store) List(ctx context.Context, prefix string, fn func(vault.BlobInfo) error) error {
	if err := s.refuseListing("list", prefix); err != nil {
		return err
	}
	// With metadata: the listing then carries each manifest's summary (vault.PointSummary),
	// which spares a Get per recovery point; blobs without metadata cost nothing extra.
	opts := &container.ListBlobsFlatOptions{Prefix: &prefix, Include: container.ListBlobsInclude{Metadata: true}}
	if s.pageSize > 0 {
		opts.MaxResults = &s.pageSize
	}
	pager := s.c.NewListBlobsFlatPager(opts)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return s.mapErr("list", prefix, err)
		}
		if s.onPage != nil {
			s.onPage()
		}
		for _, item := range page.Segment.BlobItems {
			info := vault.BlobInfo{Name: deref(item.Name)}
			if p := item.Properties; p != nil {
				info.Size, info.LastModified, info.ETag = deref(p.ContentLength), deref(p.LastModified), quotedETag(deref(p.ETag))
			}
			for k, v := range item.Metadata {
				if info.Metadata == nil {
					info.Metadata = make(map[string]string, len(item.Metadata))
				}
				// Names are case-insensitive in Azure; the contract says lower case.
				info.Metadata[strings.ToLower(k)] = deref(v)
			}
			if err := fn(info); err != nil {
				return err
			}
		}
	}
	return nil
}

// ListPrefixes lists with azblob's hierarchy pager (List Blobs with a delimiter): the
// service returns each folder as one BlobPrefix and nothing below it, so a page holds up to
// ListPageSize (5,000) folders and blobs directly under prefix, whatever the folders hold.
// Blobs are requested without metadata: only the prefixes are used. A folder repeated at the
// head of the next page is reported once.
func (s *Store) ListPrefixes(ctx context.Context, prefix, delimiter string, fn func(string) error) error {
	if delimiter == "" {
		return fmt.Errorf("azstore: list prefixes %s: %w", prefix, vault.ErrEmptyDelimiter)
	}
	if err := s.refuseListing("list prefixes", prefix); err != nil {
		return err
	}
	opts := &container.ListBlobsHierarchyOptions{Prefix: &prefix}
	if s.pageSize > 0 {
		opts.MaxResults = &s.pageSize
	}
	pager := s.c.NewListBlobsHierarchyPager(delimiter, opts)
	last := ""
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return s.mapErr("list prefixes", prefix, err)
		}
		if s.onPage != nil {
			s.onPage()
		}
		if page.Segment == nil {
			continue
		}
		for _, p := range page.Segment.BlobPrefixes {
			name := deref(p.Name)
			if name == "" || name == last {
				continue
			}
			last = name
			if err := fn(name); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Store) Delete(ctx context.Context, name string) error {
	bc, err := s.blobClient("delete", name)
	if err != nil {
		return err
	}
	_, err = bc.Delete(ctx, nil)
	return s.mapErr("delete", name, err)
}

// DeleteIfMatch is Delete Blob with If-Match: the service refuses with 412 ConditionNotMet
// when the blob was written since etag was read
// (https://learn.microsoft.com/rest/api/storageservices/specifying-conditional-headers-for-blob-service-operations).
func (s *Store) DeleteIfMatch(ctx context.Context, name, etag string) error {
	if etag == "" {
		return fmt.Errorf("azstore: delete %s: %w (no ETag to match)", name, vault.ErrChanged)
	}
	e := azcore.ETag(etag)
	bc, err := s.blobClient("delete", name)
	if err != nil {
		return err
	}
	_, err = bc.Delete(ctx, &blob.DeleteOptions{AccessConditions: &blob.AccessConditions{
		ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: &e}}})
	if err = s.mapErr("delete", name, err); err != nil {
		var ae *Error
		if errors.As(err, &ae) && ae.Status == http.StatusPreconditionFailed {
			ae.Kind = vault.ErrChanged
		}
	}
	return err
}

// quotedETag gives ETags one form: the service quotes them in headers ("0x8D…") but not in
// List Blobs' <Etag> element (0x8D…), and If-Match takes the quoted form.
func quotedETag(e azcore.ETag) string {
	s := string(e)
	if s == "" || strings.HasPrefix(s, `"`) || strings.HasPrefix(s, `W/"`) {
		return s
	}
	return `"` + s + `"`
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// Error is a failed storage call. Its message is built from the operation, blob name,
// HTTP status and service error code only: never the response body (403 bodies echo the
// string-to-sign) nor the request URL's query (which holds a SAS signature).
type Error struct {
	Op     string
	Blob   string
	Status int    // HTTP status, 0 for transport errors
	Code   string // service error code, e.g. "BlobNotFound"
	Kind   error  // vault.ErrNotFound, ErrExists, ErrAuth, ErrRange, ErrInvalidBlockList, ErrUnavailable, or nil
	cause  error  // context errors only; other causes may carry secrets
	msg    string // redacted detail for transport errors
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "azstore: %s %s", e.Op, e.Blob)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Kind != nil {
		fmt.Fprintf(&b, " (%v)", e.Kind)
	}
	if e.msg != "" {
		fmt.Fprintf(&b, ": %s", e.msg)
	}
	return b.String()
}

// Unwrap exposes the kind (for errors.Is with the vault sentinels) and context errors.
func (e *Error) Unwrap() []error {
	var out []error
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.cause != nil {
		out = append(out, e.cause)
	}
	return out
}

func (s *Store) mapErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	e := &Error{Op: op, Blob: name}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		e.Status, e.Code = re.StatusCode, re.ErrorCode
		switch {
		case re.StatusCode == http.StatusNotFound:
			e.Kind = vault.ErrNotFound
		case bloberror.HasCode(err, bloberror.BlobAlreadyExists, bloberror.ConditionNotMet) ||
			re.StatusCode == http.StatusPreconditionFailed:
			e.Kind = vault.ErrExists
		case re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden:
			e.Kind = vault.ErrAuth
			if s.grantLive(op, name) != nil {
				e.Kind, e.msg = ErrGrantExpired, grantExpiredHint
			}
		case re.StatusCode == http.StatusRequestedRangeNotSatisfiable:
			e.Kind = vault.ErrRange
		case bloberror.HasCode(err, bloberror.InvalidBlockList):
			e.Kind = vault.ErrInvalidBlockList
		case re.StatusCode >= 500 || re.StatusCode == http.StatusTooManyRequests:
			e.Kind = vault.ErrUnavailable
		}
		return e
	}
	switch {
	case errors.Is(err, context.Canceled):
		e.cause = context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		e.cause = context.DeadlineExceeded
	default:
		e.Kind = vault.ErrUnavailable
	}
	e.msg = s.redact(err.Error())
	return e
}

// queryRe matches a URL query string: transport errors quote the request URL, and with SAS
// auth its query is the credential.
var queryRe = regexp.MustCompile(`\?[^\s"']*`)

func (s *Store) redact(msg string) string {
	for _, secret := range s.secrets {
		if secret != "" {
			msg = strings.ReplaceAll(msg, secret, "[REDACTED]")
		}
	}
	return queryRe.ReplaceAllString(msg, "?[REDACTED]")
}

// ErrNotGranted is what a store of blob SAS tokens (Config.BlobSAS) returns for a blob its
// grant does not name, and for listings, which no blob-scoped grant allows. It is an
// ErrAuth: the agent asked for more than the control side granted it.
var ErrNotGranted = fmt.Errorf("not in this operation's vault grant: %w", vault.ErrAuth)

// ErrGrantExpired is what a store of blob SAS tokens returns once Config.GrantExpiry has
// passed. A grant lasts the step's timeout plus a margin, so it expires only for a step that
// ran over its timeout or for clocks that disagree.
var ErrGrantExpired = fmt.Errorf("the vault grant (blob SAS) for this operation has expired: %w", vault.ErrAuth)

// grantExpiredHint is ErrGrantExpired's what-to-do.
const grantExpiredHint = "start the backup or restore again, which mints a new grant; if it recurs, check that the clocks of the agent VM and the control worker agree"

// blockBlob is the block blob client for name: the container's, or in grant mode the one
// holding name's own SAS.
func (s *Store) blockBlob(op, name string) (*blockblob.Client, error) {
	c, err := s.clientFor(op, name)
	if err != nil {
		return nil, err
	}
	return c.NewBlockBlobClient(name), nil
}

// blobClient is blockBlob for the operations of every blob type.
func (s *Store) blobClient(op, name string) (*blob.Client, error) {
	c, err := s.clientFor(op, name)
	if err != nil {
		return nil, err
	}
	return c.NewBlobClient(name), nil
}

func (s *Store) clientFor(op, name string) (*container.Client, error) {
	if s.granted == nil {
		return s.c, nil
	}
	if err := s.grantLive(op, name); err != nil {
		return nil, err
	}
	c, ok := s.granted[name]
	if !ok {
		return nil, &Error{Op: op, Blob: name, Kind: ErrNotGranted, msg: "the control side granted this operation other blobs only"}
	}
	return c, nil
}

// grantLive refuses every call once the grant has expired (nil outside grant mode).
func (s *Store) grantLive(op, name string) error {
	if s.granted == nil || s.grantExpiry.IsZero() || time.Now().Before(s.grantExpiry) {
		return nil
	}
	return &Error{Op: op, Blob: name, Kind: ErrGrantExpired,
		msg: "it expired at " + s.grantExpiry.UTC().Format(time.RFC3339) + ": " + grantExpiredHint}
}

// refuseListing is what List and ListPrefixes answer in grant mode.
func (s *Store) refuseListing(op, prefix string) error {
	if s.granted == nil {
		return nil
	}
	if err := s.grantLive(op, prefix); err != nil {
		return err
	}
	return &Error{Op: op, Blob: prefix, Kind: ErrNotGranted, msg: "a blob-scoped grant allows no listing"}
}

// SignBlob returns a blob-scoped SAS query string (sr=b) for name with perms ("r", "rcw"…),
// valid from start to expiry. Only a store opened with the account key (SharedKey, or a
// connection string carrying AccountKey) can sign: ErrCannotSign otherwise.
func (s *Store) SignBlob(name string, perms sas.BlobPermissions, start, expiry time.Time) (string, error) {
	if s.granted != nil {
		return "", ErrCannotSign
	}
	u, err := s.c.NewBlobClient(name).GetSASURL(perms, expiry, &blob.GetSASURLOptions{StartTime: &start})
	if err != nil {
		if errors.Is(err, bloberror.MissingSharedKeyCredential) {
			return "", ErrCannotSign
		}
		return "", fmt.Errorf("azstore: sign %s: %s", name, s.redact(err.Error()))
	}
	_, query, _ := strings.Cut(u, "?")
	return query, nil
}

// ErrCannotSign: the store does not hold the account key, which signing a SAS needs.
var ErrCannotSign = errors.New("azstore: this vault credential cannot sign blob SAS grants (it needs the account key: vault.auth sharedKey or connectionString with AccountKey)")

// ContainerURL is the container's URL (no query): what a grant names as its target.
func (s *Store) ContainerURL() string {
	u, _, _ := strings.Cut(s.c.URL(), "?")
	return u
}
