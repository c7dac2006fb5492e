package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sqlvault/sqlvault/internal/vault"
)

// InstrumentStore wraps a vault store so that every call is timed
// (sqlvault_vault_operation_duration_seconds) and every failure counted by class
// (sqlvault_vault_operation_errors_total). Error texts never become labels: a class is one
// of a fixed few (errorClass).
func InstrumentStore(s vault.Store, reg prometheus.Registerer) vault.Store {
	return StoreInstrument(reg)(s)
}

// StoreInstrument registers the vault store series on reg once and returns what wraps any
// number of stores into them: the process's own store, and the stores an agent opens per
// step from its grants (package grant).
func StoreInstrument(reg prometheus.Registerer) func(vault.Store) vault.Store {
	latency, errs := MustDef(VaultOperationDuration).HistogramVec(reg), MustDef(VaultOperationErrors).CounterVec(reg)
	return func(s vault.Store) vault.Store { return &instrumentedStore{Store: s, latency: latency, errs: errs} }
}

type instrumentedStore struct {
	vault.Store
	latency *prometheus.HistogramVec
	errs    *prometheus.CounterVec
}

func (s *instrumentedStore) done(op string, start time.Time, err error) {
	s.latency.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err != nil {
		s.errs.WithLabelValues(op, errorClass(err)).Inc()
	}
}

// errorClass names an error by the vault's own sentinels (vault.ErrNotFound …).
func errorClass(err error) string {
	for _, c := range []struct {
		err  error
		name string
	}{
		{vault.ErrNotFound, "not_found"}, {vault.ErrExists, "exists"}, {vault.ErrChanged, "changed"},
		{vault.ErrRange, "range"}, {vault.ErrInvalidBlockList, "invalid_block_list"}, {vault.ErrAuth, "auth"},
		{vault.ErrUnavailable, "unavailable"}, {context.Canceled, "canceled"}, {context.DeadlineExceeded, "unavailable"},
	} {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	return "other"
}

func (s *instrumentedStore) StageBlock(ctx context.Context, blob, id string, data []byte) error {
	start := time.Now()
	err := s.Store.StageBlock(ctx, blob, id, data)
	s.done("stage_block", start, err)
	return err
}

func (s *instrumentedStore) CommitBlocks(ctx context.Context, blob string, ids []string, o vault.CommitOptions) error {
	start := time.Now()
	err := s.Store.CommitBlocks(ctx, blob, ids, o)
	s.done("commit_blocks", start, err)
	return err
}

func (s *instrumentedStore) BlockList(ctx context.Context, blob string) ([]vault.Block, error) {
	start := time.Now()
	out, err := s.Store.BlockList(ctx, blob)
	s.done("block_list", start, err)
	return out, err
}

func (s *instrumentedStore) ReadRange(ctx context.Context, blob string, off, n int64) ([]byte, error) {
	start := time.Now()
	out, err := s.Store.ReadRange(ctx, blob, off, n)
	s.done("read_range", start, err)
	return out, err
}

func (s *instrumentedStore) Put(ctx context.Context, blob string, data []byte, o vault.PutOptions) error {
	start := time.Now()
	err := s.Store.Put(ctx, blob, data, o)
	s.done("put", start, err)
	return err
}

func (s *instrumentedStore) Get(ctx context.Context, blob string) ([]byte, error) {
	start := time.Now()
	out, err := s.Store.Get(ctx, blob)
	s.done("get", start, err)
	return out, err
}

func (s *instrumentedStore) Props(ctx context.Context, blob string) (vault.Props, error) {
	start := time.Now()
	out, err := s.Store.Props(ctx, blob)
	s.done("props", start, err)
	return out, err
}

// List is timed whole, every page and the callback's work included: a listing's latency as
// its caller waits for it. An error the callback returns is the caller's, not the vault's,
// but it ends the listing, so it is counted as the class it has (usually "other").
func (s *instrumentedStore) List(ctx context.Context, prefix string, fn func(vault.BlobInfo) error) error {
	start := time.Now()
	err := s.Store.List(ctx, prefix, fn)
	s.done("list", start, err)
	return err
}

func (s *instrumentedStore) ListPrefixes(ctx context.Context, prefix, delimiter string, fn func(string) error) error {
	start := time.Now()
	err := s.Store.ListPrefixes(ctx, prefix, delimiter, fn)
	s.done("list_prefixes", start, err)
	return err
}

func (s *instrumentedStore) Delete(ctx context.Context, blob string) error {
	start := time.Now()
	err := s.Store.Delete(ctx, blob)
	s.done("delete", start, err)
	return err
}

func (s *instrumentedStore) DeleteIfMatch(ctx context.Context, blob, etag string) error {
	start := time.Now()
	err := s.Store.DeleteIfMatch(ctx, blob, etag)
	s.done("delete", start, err)
	return err
}
