package temporalx

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/sqlvault/sqlvault/internal/config"
)

// reverseCodec is a stand-in codec: it marks and reverses the data, enough to see that a
// payload went through it.
type reverseCodec struct{}

func (reverseCodec) Encode(ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(ps))
	for i, p := range ps {
		out[i] = &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("test/reversed")}, Data: reverse(p.Data)}
	}
	return out, nil
}

func (reverseCodec) Decode(ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(ps))
	for i, p := range ps {
		out[i] = &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: reverse(p.Data)}
	}
	return out, nil
}

func reverse(b []byte) []byte {
	r := make([]byte, len(b))
	for i := range b {
		r[len(b)-1-i] = b[i]
	}
	return r
}

// Without a codec the options keep the plain default converter; with one, both the data
// converter (every payload: inputs, results, heartbeats, memos, schedule actions, queries)
// and the failure converter (messages moved into an encoded attribute) go through it.
func TestUseCodec(t *testing.T) {
	opts, err := ClientOptions(config.Temporal{Address: "127.0.0.1:7233", Namespace: "default"}, nil)
	require.NoError(t, err)
	UseCodec(&opts, nil)
	assert.Equal(t, converter.GetDefaultDataConverter(), opts.DataConverter)
	assert.Nil(t, opts.FailureConverter)

	UseCodec(&opts, reverseCodec{})
	p, err := opts.DataConverter.ToPayload("Sales")
	require.NoError(t, err)
	assert.Equal(t, "test/reversed", string(p.Metadata["encoding"]))
	assert.NotContains(t, string(p.Data), "Sales")
	var back string
	require.NoError(t, opts.DataConverter.FromPayload(p, &back))
	assert.Equal(t, "Sales", back)

	require.NotNil(t, opts.FailureConverter)
	f := opts.FailureConverter.ErrorToFailure(errors.New("restore of Sales failed"))
	assert.False(t, strings.Contains(f.String(), "Sales"), "the failure's message is encoded: %s", f)
	assert.Contains(t, opts.FailureConverter.FailureToError(f).Error(), "restore of Sales failed")
}
