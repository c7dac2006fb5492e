package blobfake_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim/blobfake"
	"github.com/sqlvault/sqlvault/internal/testworld/blobconformance"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
)

// TestBlobConformance runs the raw-request suite that the agent's blob endpoint runs too, so
// that the fake Azure and the endpoint cannot drift apart on what SQL Server sends. The fake
// follows Azure where the endpoint is deliberately more lenient (an acquire without a
// duration).
func TestBlobConformance(t *testing.T) {
	const host = "blob.conformance.test"
	ca, err := testenv.NewCA()
	require.NoError(t, err)
	certFile, keyFile, err := ca.Issue(t.TempDir(), host)
	require.NoError(t, err)
	fake := blobfake.New()
	var offset atomic.Int64
	base := time.Now()
	fake.SetClock(func() time.Time { return base.Add(time.Since(base) + time.Duration(offset.Load())) })
	ln, err := testenv.ListenLoopback443()
	require.NoError(t, err)
	ts, err := blobfake.NewTLSServer(ln, fake, certFile, keyFile)
	require.NoError(t, err)
	t.Cleanup(ts.Close)
	u, err := url.Parse(ts.URL)
	require.NoError(t, err)
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		TLSClientConfig: tlsConfig(ca),
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, u.Host)
		},
	}}

	// One container per blob, each with a write token (backup) and a read-only one (restore).
	var mu sync.Mutex
	n := 0
	container := func() (name, write, read string) {
		mu.Lock()
		defer mu.Unlock()
		n++
		name = fmt.Sprintf("c%d", n)
		write = fmt.Sprintf("sv=2020-08-04&sr=c&sp=rwdl&se=2099-01-01T00%%3A00%%3A00Z&sig=w%d%%2Bsig%%3D", n)
		read = fmt.Sprintf("sv=2020-08-04&sr=c&sp=rl&se=2099-01-01T00%%3A00%%3A00Z&sig=r%d%%2Bsig%%3D", n)
		fake.AddContainer(name, write, read)
		return name, write, read
	}
	blobconformance.Run(t, blobconformance.Target{
		Client: client,
		NewWritable: func(t *testing.T) (string, string) {
			name, write, _ := container()
			return "https://" + host + "/" + name + "/db.bak", write
		},
		NewReadable: func(t *testing.T, content []byte) (string, string) {
			name, write, read := container()
			blobURL := "https://" + host + "/" + name + "/db.bak"
			// Written as a backup writes it: blocks, then the list.
			put := func(query string, body []byte) {
				req, err := http.NewRequest(http.MethodPut, blobURL+"?"+write+query, bytes.NewReader(body))
				require.NoError(t, err)
				resp, err := client.Do(req)
				require.NoError(t, err)
				_ = resp.Body.Close()
				require.Equal(t, http.StatusCreated, resp.StatusCode)
			}
			list := "<BlockList>"
			for i := 0; i*64<<10 < len(content); i++ {
				id := base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "restore%05d", i))
				put("&comp=block&blockid="+url.QueryEscape(id), content[i*64<<10:min((i+1)*64<<10, len(content))])
				list += "<Latest>" + id + "</Latest>"
			}
			put("&comp=blocklist", []byte(list+"</BlockList>"))
			return blobURL, read
		},
		Advance: func(d time.Duration) { offset.Add(int64(d)) },
	})
}
