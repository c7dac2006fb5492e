package datapath_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/agent/datapath"
	"github.com/sqlvault/sqlvault/internal/agent/vdi"
)

type lib struct{}

func (lib) Describe() string               { return "libsqlvdi.so at /opt/mssql/lib/libsqlvdi.so" }
func (lib) NewSet() (vdi.DeviceSet, error) { return nil, vdi.ErrNoPlatform }

// The rule: a configured url or vdi wins; without one, vdi where the library opens, url
// where it does not; vdi configured without the library is an error that says what to do.
func TestChoose(t *testing.T) {
	present := func() (vdi.Platform, error) { return lib{}, nil }
	missing := errors.New("cannot load /opt/mssql/lib/libsqlvdi.so")
	absent := func() (vdi.Platform, error) { return nil, missing }
	for _, tc := range []struct {
		name       string
		open       func() (vdi.Platform, error)
		configured string
		want       datapath.Kind
		isDefault  bool
		why        string
	}{
		{"default with the library", present, "", datapath.VDI, true, "dataPath is not set and this machine has the VDI client library (libsqlvdi.so at /opt/mssql/lib/libsqlvdi.so), so vdi, the default where it is present"},
		{"default without the library", absent, " ", datapath.URL, true, "dataPath is not set and this machine has no VDI client library (cannot load /opt/mssql/lib/libsqlvdi.so), so url; vdi is the default where the library is present"},
		{"default without an opener", nil, "", datapath.URL, true, "dataPath is not set and this machine has no VDI client library (vdi: no VDI client library on this machine), so url; vdi is the default where the library is present"},
		{"url wins over the library", present, "url", datapath.URL, false, "dataPath: url in the configuration"},
		{"vdi with the library", present, "VDI", datapath.VDI, false, "dataPath: vdi in the configuration, through libsqlvdi.so at /opt/mssql/lib/libsqlvdi.so"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := datapath.NewLibrary(tc.open).Choose(tc.configured)
			require.NoError(t, err)
			assert.Equal(t, tc.want, c.Kind)
			assert.Equal(t, tc.isDefault, c.Default)
			assert.Equal(t, tc.why, c.Why)
			assert.Equal(t, tc.want == datapath.VDI, c.Platform != nil, "the platform comes with vdi only")
		})
	}

	_, err := datapath.NewLibrary(absent).Choose("vdi")
	require.ErrorIs(t, err, datapath.ErrNoVDI)
	assert.ErrorIs(t, err, missing)
	assert.Contains(t, err.Error(), "set agent.vdiLibrary to where it is), or set dataPath: url")
	_, err = datapath.NewLibrary(nil).Choose("vdi")
	assert.ErrorIs(t, err, vdi.ErrNoPlatform)
	_, err = datapath.NewLibrary(present).Choose("disk")
	assert.ErrorContains(t, err, `unknown data path "disk": use url or vdi`)
	_, err = datapath.NewLibrary(func() (vdi.Platform, error) { return nil, nil }).Choose("vdi")
	assert.ErrorIs(t, err, vdi.ErrNoPlatform, "an opener that returns nothing has no library")
}

// The library is opened once, however many instances ask, and not at all for url ones.
func TestLibraryOpensOnce(t *testing.T) {
	n := 0
	l := datapath.NewLibrary(func() (vdi.Platform, error) { n++; return lib{}, nil })
	_, err := l.Choose("url")
	require.NoError(t, err)
	assert.Equal(t, 0, n)
	for _, c := range []string{"", "vdi", ""} {
		_, err := l.Choose(c)
		require.NoError(t, err)
	}
	assert.Equal(t, 1, n)
}
