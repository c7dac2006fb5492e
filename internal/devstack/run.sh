#!/usr/bin/env bash
# Starts the embedded default stack on loopback and keeps it in the foreground; Ctrl-C stops
# everything. State lives under .run/ (deleted by `make clean`).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .run/azurite .run/logs
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

./bin/temporal server start-dev --db-filename .run/temporal.db --port 7233 --ui-port 8233 \
  --search-attribute SqlvaultInstance=Keyword --search-attribute SqlvaultDatabase=Keyword \
  --search-attribute SqlvaultBackupType=Keyword --search-attribute SqlvaultVM=Keyword \
  >.run/logs/temporal.log 2>&1 &
pids+=($!)
./node_modules/.bin/azurite-blob --blobHost 127.0.0.1 --blobPort 10000 --location .run/azurite \
  --skipApiVersionCheck --disableProductStyleUrl >.run/logs/azurite.log 2>&1 &
pids+=($!)
go build -o bin/sqlsim ./internal/sqlsim/cmd/sqlsim
./bin/sqlsim --listen 127.0.0.1:14330 --workload 50 >.run/logs/sqlsim.log 2>&1 &
pids+=($!)

for i in $(seq 1 60); do
  if (echo >/dev/tcp/127.0.0.1/7233) 2>/dev/null && (echo >/dev/tcp/127.0.0.1/10000) 2>/dev/null \
     && (echo >/dev/tcp/127.0.0.1/14330) 2>/dev/null; then break; fi
  sleep 1
done
cat <<MSG

sqlvault stack is up (logs in .run/logs):
  Temporal Web UI    http://127.0.0.1:8233   (frontend 127.0.0.1:7233, namespace default)
  Azurite blob       http://127.0.0.1:10000/devstoreaccount1
  SQL Server (sim)   127.0.0.1:14330  login sa / Sim-Passw0rd  (encrypt=disable)

Try:  go run ./internal/sqlsim/cmd/sqlq -e "SELECT name, recovery_model_desc FROM sys.databases"
Ctrl-C stops everything.
MSG
wait -n "${pids[@]}"
