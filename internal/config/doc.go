// Package config loads and checks the sqlvault worker's configuration.
//
// Sources, later ones winning: built-in defaults, the Temporal SDK's environment
// configuration for the temporal section (a Temporal CLI profile from TEMPORAL_CONFIG_FILE or
// <user config dir>/temporalio/temporal.toml, chosen by TEMPORAL_PROFILE, then TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS and TEMPORAL_TLS_*_PATH / _SERVER_NAME;
// see temporalenv.go), one YAML file, SQLVAULT_* environment variables, command-line flags. The file is decoded strictly — an unknown key is an error naming it
// — because a misspelt key would otherwise silently leave its default in place.
//
// The file is the path given to Load, else --config, else $SQLVAULT_CONFIG; without any of
// them the configuration is defaults plus environment plus flags.
//
// # Secrets
//
// Credentials are never written into the config as plain strings; each is a reference:
//
//	password: { env: SQLVAULT_SQL_PASSWORD }    # an environment variable
//	password: { file: /run/secrets/sql }        # a file (trailing newline ignored)
//	password: { value: "..." }                  # inline; works, but Warnings reports it
//
// Secret.Resolve reads the variable or file from the process at the moment of use, so the
// value never lives in Config; every rendering of a Secret (String, %#v, JSON, YAML, zap)
// shows the reference and masks inline values as [redacted].
//
// # Environment variables and flags
//
//	Variable                              Flag                        Sets
//	SQLVAULT_CONFIG                       --config                    the YAML file to read
//	SQLVAULT_ROLE                         --role                      role (control|agent|both)
//	SQLVAULT_TEMPORAL_ADDRESS             --temporal-address          temporal.address
//	SQLVAULT_TEMPORAL_NAMESPACE           --namespace                 temporal.namespace
//	SQLVAULT_TEMPORAL_TLS                 --temporal-tls              temporal.tls.enabled (true|false)
//	SQLVAULT_TEMPORAL_TLS_CA_FILE         --temporal-tls-ca-file      temporal.tls.caFile
//	SQLVAULT_TEMPORAL_TLS_CERT_FILE       --temporal-tls-cert-file    temporal.tls.certFile
//	SQLVAULT_TEMPORAL_TLS_KEY_FILE        --temporal-tls-key-file     temporal.tls.keyFile
//	SQLVAULT_TEMPORAL_TLS_SERVER_NAME     --temporal-tls-server-name  temporal.tls.serverName
//	SQLVAULT_TEMPORAL_ALLOW_PLAINTEXT     --temporal-allow-plaintext  temporal.allowPlaintext (labs only: non-loopback without TLS)
//	SQLVAULT_TEMPORAL_API_KEY_ENV         (sqlvault) --temporal-api-key-env   temporal.apiKey = {env: <value>}
//	SQLVAULT_TEMPORAL_API_KEY_FILE        (sqlvault) --temporal-api-key-file  temporal.apiKey = {file: <value>}
//	SQLVAULT_CONTROL_TASK_QUEUE           --control-task-queue        temporal.controlTaskQueue
//	SQLVAULT_VAULT_ACCOUNT_URL            --vault-account-url         vault.accountUrl
//	SQLVAULT_VAULT_CONTAINER              --vault-container           vault.container
//	SQLVAULT_VAULT_AUTH                   --vault-auth                vault.auth
//	SQLVAULT_VAULT_CREATE_CONTAINER       -                           vault.createContainer (true|false)
//	SQLVAULT_KEY_FILE                     --key-file                  key.file
//	SQLVAULT_KEY_PROVIDER                 --key-provider              key.provider (file|azurekeyvault)
//	SQLVAULT_KEY_VAULT_URL                --key-vault-url             key.azureKeyVault.vaultUrl
//	SQLVAULT_KEY_VAULT_KEY                --key-vault-key             key.azureKeyVault.keyName
//	SQLVAULT_CODEC_KEY_FILE               --codec-key-file            codec.keyFile (unset: Temporal payloads in clear)
//	SQLVAULT_AGENT_VM                     --vm                        agent.vm
//	SQLVAULT_AGENT_ENDPOINT_HOST          --endpoint-host             agent.endpoint.host
//	SQLVAULT_AGENT_ENDPOINT_LISTEN        --endpoint-listen           agent.endpoint.listen
//	SQLVAULT_AGENT_ENDPOINT_CERT_FILE     --endpoint-cert-file        agent.endpoint.certFile
//	SQLVAULT_AGENT_ENDPOINT_KEY_FILE      --endpoint-key-file         agent.endpoint.keyFile
//	SQLVAULT_AGENT_MAX_CONCURRENT_BACKUPS --max-concurrent-backups    agent.maxConcurrentBackups
//	SQLVAULT_AGENT_BLOCKS_IN_FLIGHT       --blocks-in-flight          agent.blocksInFlight
//	SQLVAULT_AGENT_MEMORY_LIMIT_MIB       --memory-limit-mib          agent.memoryLimitMiB (0: none)
//	SQLVAULT_AGENT_VAULT_ACCESS           --agent-vault-access        agent.vaultAccess (credential|grant)
//	SQLVAULT_AGENT_VDI_LIBRARY            --vdi-library               agent.vdiLibrary (Linux; default /opt/mssql/lib/libsqlvdi.so)
//	SQLVAULT_METRICS_LISTEN               --metrics-listen            metrics.listen (ip:port or off)
//	SQLVAULT_METRICS_CATALOG_REFRESH      --metrics-catalog-refresh   metrics.catalogRefresh (e.g. 2m)
//	SQLVAULT_WATCHDOG_INTERVAL            --watchdog-interval         watchdog.interval (e.g. 5m)
//	SQLVAULT_WATCHDOG_WEBHOOK_URL         --watchdog-webhook-url      watchdog.webhook.url
//	SQLVAULT_RETENTION_SOFT_DELETE_DAYS   --soft-delete-days          retention.softDeleteDays (1 to 180; default 14)
//	SQLVAULT_LOG_LEVEL                    --log-level                 log.level (debug|info|warn|error)
//	SQLVAULT_LOG_FORMAT                   --log-format                log.format (json|console)
//
// The worker (sqlvault-worker) binds every flag above that it has (BindFlags). The CLI
// (sqlvault) binds only those it uses (BindClientFlags): --config, the Temporal and vault
// flags, the key flags (--key-file, --key-provider, --key-vault-url, --key-vault-key), --codec-key-file and
// --log-level, plus the two API key references marked (sqlvault);
// --temporal-tls and --temporal-allow-plaintext are boolean flags there.
//
// These variables hold secrets by default, when the file names none:
//
//	SQLVAULT_VAULT_SAS                 vault.sas (vault.auth: sas)
//	SQLVAULT_VAULT_KEY                 vault.sharedKey.key (vault.auth: sharedKey)
//	SQLVAULT_VAULT_CONNECTION_STRING   vault.connectionString (vault.auth: connectionString)
//
// agent.restoreRoots (the folders restores may write to, see Agent.RestoreRoots) comes from
// the file only.
//
// metrics.listen not set means a loopback address by role: 127.0.0.1:9741 for control (and
// both), 127.0.0.1:9742 for agent; "off" serves no /metrics.
//
// SQL Server instances (agent.instances) come from the file only; their passwords are
// references such as {env: SQLVAULT_SQL_PASSWORD}.
package config
