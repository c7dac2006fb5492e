package testenv

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
)

func TestTemporalDevServerHasSearchAttributes(t *testing.T) {
	tp := TemporalT(t)
	resp, err := tp.Client.OperatorService().ListSearchAttributes(context.Background(),
		&operatorservice.ListSearchAttributesRequest{Namespace: tp.Namespace})
	require.NoError(t, err)
	for _, name := range []string{"SqlvaultInstance", "SqlvaultDatabase", "SqlvaultBackupType", "SqlvaultVM"} {
		require.Equal(t, enums.INDEXED_VALUE_TYPE_KEYWORD, resp.CustomAttributes[name], name)
	}
}
