package logging

import (
	"errors"
	"net/url"
	"testing"

	"github.com/microsoft/go-mssqldb/msdsn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
)

func TestNewBuildsLoggerAtLevel(t *testing.T) {
	for _, format := range []string{"json", "console", "JSON"} {
		for level, want := range map[string]zapcore.Level{
			"debug": zapcore.DebugLevel, "info": zapcore.InfoLevel,
			"warn": zapcore.WarnLevel, "error": zapcore.ErrorLevel, "INFO": zapcore.InfoLevel,
		} {
			l, err := New(level, format)
			require.NoError(t, err, "%s/%s", level, format)
			assert.True(t, l.Core().Enabled(want), "%s/%s enables %s", level, format, want)
			if want > zapcore.DebugLevel {
				assert.False(t, l.Core().Enabled(want-1), "%s/%s must not enable %s", level, format, want-1)
			}
		}
	}
}

func TestNewRejectsUnknownLevelAndFormat(t *testing.T) {
	_, err := New("verbose", "json")
	assert.EqualError(t, err, `log level "verbose": use debug, info, warn or error`)
	_, err = New("info", "text")
	assert.EqualError(t, err, `log format "text": use json or console`)
}

func TestRedact(t *testing.T) {
	const sas = "sv=2023-11-03&ss=b&srt=co&sp=rwdlac&se=2030-01-01T00:00:00Z&st=2024-01-01T00:00:00Z&spr=https&sig=AbC%2Bd%2Fef0123456789%3D"
	cases := []struct {
		name, in, want string
		secret         string // must not survive
	}{
		{
			name:   "SAS in a blob URL",
			in:     "PUT https://acct.blob.core.windows.net/sqlvault/db/full.bak?comp=block&" + sas + " failed",
			want:   "PUT https://acct.blob.core.windows.net/sqlvault/db/full.bak?comp=block&sv=2023-11-03&ss=b&srt=co&sp=rwdlac&se=2030-01-01T00:00:00Z&st=2024-01-01T00:00:00Z&spr=https&sig=REDACTED failed",
			secret: "AbC%2Bd",
		},
		{
			name:   "SAS as the first query parameter, unescaped base64",
			in:     "GET http://127.0.0.1:10000/devstoreaccount1/c/b?sig=ab+c/d==&se=2030-01-01",
			want:   "GET http://127.0.0.1:10000/devstoreaccount1/c/b?sig=REDACTED&se=2030-01-01",
			secret: "ab+c/d",
		},
		{
			name:   "SAS token alone (CREATE CREDENTIAL SECRET)",
			in:     "SECRET = '" + sas + "'",
			want:   "SECRET = 'sv=2023-11-03&ss=b&srt=co&sp=rwdlac&se=2030-01-01T00:00:00Z&st=2024-01-01T00:00:00Z&spr=https&sig=REDACTED'",
			secret: "0123456789",
		},
		{
			name:   "URL-encoded SAS inside another query (copy source)",
			in:     "x-ms-copy-source: " + url.QueryEscape("https://a.blob.core.windows.net/c/b?se=1&sig=SECRETSIG"),
			want:   "x-ms-copy-source: https%3A%2F%2Fa.blob.core.windows.net%2Fc%2Fb%3Fse%3D1%26sig%3DREDACTED",
			secret: "SECRETSIG",
		},
		{
			name:   "JSON-escaped ampersand",
			in:     `{"url":"https://a.blob.core.windows.net/c/b?se=1\u0026sig=SECRETSIG\u0026sp=r"}`,
			want:   `{"url":"https://a.blob.core.windows.net/c/b?se=1\u0026sig=REDACTED\u0026sp=r"}`,
			secret: "SECRETSIG",
		},
		{
			name:   "SAS in an Azure connection string",
			in:     "BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=" + sas,
			want:   "BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=sv=2023-11-03&ss=b&srt=co&sp=rwdlac&se=2030-01-01T00:00:00Z&st=2024-01-01T00:00:00Z&spr=https&sig=REDACTED",
			secret: "0123456789",
		},
		{
			name:   "Azure storage account key",
			in:     "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;EndpointSuffix=core.windows.net",
			want:   "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=REDACTED;EndpointSuffix=core.windows.net",
			secret: "Eby8vdM02",
		},
		{
			name:   "ADO connection string",
			in:     "server=sqlvm1;user id=sqlvault;Password=Hunter2!;database=master",
			want:   "server=sqlvm1;user id=sqlvault;Password=REDACTED;database=master",
			secret: "Hunter2",
		},
		{
			name:   "ADO connection string, braced password with ; and pwd spelling",
			in:     "server=sqlvm1;uid=sa;pwd={a;b}}c};encrypt=true",
			want:   "server=sqlvm1;uid=sa;pwd=REDACTED;encrypt=true",
			secret: "b}}c",
		},
		{
			name:   "ADO connection string, quoted password",
			in:     `Server=x;Password="p;w""d";App Name=sqlvault`,
			want:   `Server=x;Password=REDACTED;App Name=sqlvault`,
			secret: `w""d`,
		},
		{
			name:   "password in a sqlserver URL query",
			in:     "sqlserver://sqlvm1:1433?database=master&password=Hunter2",
			want:   "sqlserver://sqlvm1:1433?database=master&password=REDACTED",
			secret: "Hunter2",
		},
		{
			name:   "sqlserver URL userinfo",
			in:     "dial sqlserver://sqlvault:p%40ss%3Aw0rd@10.0.0.4:1433?database=master&encrypt=true: timeout",
			want:   "dial sqlserver://sqlvault:REDACTED@10.0.0.4:1433?database=master&encrypt=true: timeout",
			secret: "w0rd",
		},
		{
			name:   "url.Parse error quoting a URL with a raw @ in the password",
			in:     errorOf(url.Parse("sqlserver://sa:p@ss^w0rd@host:1433")),
			want:   `parse "sqlserver://sa:REDACTED@host:1433": net/url: invalid userinfo`,
			secret: "w0rd",
		},
		{
			name:   "bearer token",
			in:     "authorization: Bearer eyJhbGciOi.JSUzI1NiJ9.abc-_def",
			want:   "authorization: Bearer REDACTED",
			secret: "eyJhbGciOi",
		},
		{
			name: "nothing secret is left alone",
			in:   "https://acct.blob.core.windows.net/sqlvault/db/full.bak?comp=blocklist&design=1 Login failed for user 'sqlvault'.",
			want: "https://acct.blob.core.windows.net/sqlvault/db/full.bak?comp=blocklist&design=1 Login failed for user 'sqlvault'.",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Redact(tc.in)
			if tc.want != "" {
				assert.Equal(t, tc.want, got)
			}
			if tc.secret != "" {
				require.Contains(t, tc.in, tc.secret, "test case must contain its secret")
				assert.NotContains(t, got, tc.secret)
				assert.Contains(t, got, Redacted)
			}
		})
	}
}

// A go-mssqldb error that echoes the connection string it could not parse.
func TestRedactGoMssqldbError(t *testing.T) {
	dsn := "server=sqlvm1;user id=sa;password=S3cret;port=notaport"
	_, err := msdsn.Parse(dsn)
	require.Error(t, err)
	wrapped := errors.New("open " + dsn + ": " + err.Error())
	got := Redact(wrapped.Error())
	assert.NotContains(t, got, "S3cret")
	assert.Contains(t, got, "password=REDACTED")
	assert.Contains(t, got, "server=sqlvm1;user id=sa;")
}

func errorOf(_ *url.URL, err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
