package blobfake_test

import (
	"crypto/tls"

	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
)

func tlsConfig(ca *testenv.CA) *tls.Config { return &tls.Config{RootCAs: ca.Pool()} }
