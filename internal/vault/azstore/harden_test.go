package azstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vault harden's data-plane part against Azurite: soft delete is read, set, and read back;
// the rest of the service's settings stay as they were; a container SAS is refused by name.
func TestAccountProtection(t *testing.T) {
	st := newContainer(t, nil)
	name := st.c.URL()[strings.LastIndex(st.c.URL(), "/")+1:]
	cfg := Config{AccountURL: az.BlobEndpoint, Container: name, SharedKey: &SharedKey{Account: az.Account, Key: az.Key}}
	acct, err := NewAccount(cfg)
	require.NoError(t, err)
	ctx := ctxT(t)
	// The account is shared by the package's tests: leave soft delete as it was found.
	before, err := acct.svc.GetProperties(ctx, nil)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = acct.svc.SetProperties(context.Background(), &service.SetPropertiesOptions{DeleteRetentionPolicy: before.DeleteRetentionPolicy})
	})
	_, err = acct.svc.SetProperties(ctx, &service.SetPropertiesOptions{
		DeleteRetentionPolicy: &service.RetentionPolicy{Enabled: to.Ptr(false)},
		HourMetrics:           &service.Metrics{Enabled: to.Ptr(true), IncludeAPIs: to.Ptr(false), RetentionPolicy: &service.RetentionPolicy{Enabled: to.Ptr(true), Days: to.Ptr(int32(3))}},
	})
	require.NoError(t, err)

	p, err := acct.Protection(ctx)
	require.NoError(t, err)
	assert.Equal(t, Protection{}, p, "nothing on: Azurite has no version-level immutability")

	require.NoError(t, acct.SetSoftDelete(ctx, 14))
	p, err = acct.Protection(ctx)
	require.NoError(t, err)
	assert.Equal(t, Protection{SoftDelete: true, SoftDeleteDays: 14}, p)
	after, err := acct.svc.GetProperties(ctx, nil)
	require.NoError(t, err)
	require.NotNil(t, after.HourMetrics)
	assert.True(t, *after.HourMetrics.Enabled, "a setting harden does not name is left as it was")
	assert.Equal(t, int32(3), *after.HourMetrics.RetentionPolicy.Days)

	for _, days := range []int32{0, -1, 366} {
		assert.ErrorContains(t, acct.SetSoftDelete(ctx, days), "Azure allows 1 to 365", "days %d", days)
	}

	// A container SAS (what an agent may hold) cannot touch the account's settings.
	cred, err := service.NewSharedKeyCredential(az.Account, az.Key)
	require.NoError(t, err)
	q, err := sas.BlobSignatureValues{Protocol: sas.ProtocolHTTPSandHTTP, ExpiryTime: time.Now().Add(time.Hour), ContainerName: name,
		Permissions: to.Ptr(sas.ContainerPermissions{Read: true, Write: true, Create: true, List: true}).String()}.SignWithSharedKey(cred)
	require.NoError(t, err)
	sasAcct, err := NewAccount(Config{AccountURL: az.BlobEndpoint, Container: name, SASToken: q.Encode()})
	require.NoError(t, err)
	_, err = sasAcct.Protection(ctx)
	require.ErrorIs(t, err, ErrAccountSettings)
	assert.Contains(t, err.Error(), "Storage Account Contributor")
	assert.NotContains(t, err.Error(), q.Signature(), "the SAS is never in an error")
	require.ErrorIs(t, sasAcct.SetSoftDelete(ctx, 14), ErrAccountSettings)
}
