package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
)

// DSN returns the go-mssqldb connection string for the instance: the resolved dsn secret
// if one is configured, or else a sqlserver:// URL built from host, port, user and
// password. The URL is built with net/url so that any character in the user name or
// password (@ : / ? # % & or non-ASCII) survives intact. It connects to master, because
// BACKUP and RESTORE are issued from there. The result holds the password: never log it
// (logging.Redact exists for errors that might echo it). With no user and no password the
// URL carries no credentials, and go-mssqldb uses Windows authentication (SSPI) as the
// account the agent runs as — on Windows, its service account.
func (i Instance) DSN() (string, error) {
	if !i.ConnectionString.IsZero() {
		dsn, err := i.ConnectionString.Resolve()
		if err != nil {
			return "", fmt.Errorf("instance %s: dsn: %w", i.Name, err)
		}
		return dsn, nil
	}
	var user *url.Userinfo
	if i.User != "" || !i.Password.IsZero() {
		pw, err := i.Password.Resolve()
		if err != nil {
			return "", fmt.Errorf("instance %s: password: %w", i.Name, err)
		}
		user = url.UserPassword(i.User, pw)
	} // else no user: go-mssqldb logs in with Windows authentication as the process's account
	port := i.Port
	if port == 0 {
		port = DefaultSQLPort
	}
	encrypt := i.Encrypt
	if encrypt == "" {
		encrypt = DefaultEncrypt
	}
	q := url.Values{}
	q.Set("database", "master")
	q.Set("encrypt", encrypt)
	q.Set("TrustServerCertificate", strconv.FormatBool(i.TrustServerCertificate))
	q.Set("app name", "sqlvault") // lets a DBA tell sqlvault's sessions apart
	u := url.URL{
		Scheme:   "sqlserver",
		User:     user,
		Host:     net.JoinHostPort(i.Host, strconv.Itoa(port)),
		RawQuery: q.Encode(),
	}
	return u.String(), nil
}
