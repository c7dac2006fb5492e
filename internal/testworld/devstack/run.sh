#!/usr/bin/env bash
# The embedded default stack (`make run`): the Temporal dev server with its Web UI, Azurite,
# the SQL Server simulator and a sqlvault worker (control and agent roles in one process),
# all as plain processes on loopback, in the foreground. Ctrl-C or SIGTERM stops everything
# it started.
#
# State lives in $SQLVAULT_DEV_DIR (default .run/, removed by `make clean`): the vault key,
# the agent endpoint's certificate, the worker config, Temporal's database, Azurite's data,
# the VDI sets' sockets (vdi/) and one log per service in logs/. The key and certificate are made once and reused; the
# vault key especially, because backups already in Azurite can only be read with it.
#
# Environment (defaults in brackets); the ports and the endpoint address let a second stack
# (a test) run beside one:
#   SQLVAULT_DEV_DIR            state directory [.run]
#   SQLVAULT_DEV_TEMPORAL_PORT  Temporal frontend (gRPC) [7233]
#   SQLVAULT_DEV_UI_PORT        Temporal Web UI [8233]
#   SQLVAULT_DEV_AZURITE_PORT   Azurite blob service [10000]
#   SQLVAULT_DEV_SQL_PORT       SQL Server simulator (TDS) [14330]
#   SQLVAULT_DEV_CODEC_PORT     the codec server the Web UI decrypts payloads through [8234]
#   SQLVAULT_DEV_ENDPOINT_ADDR  loopback address of the agent's HTTPS blob endpoint [127.0.0.5]
#   SQLVAULT_DEV_ENDPOINT_PORT  the port it binds [443, or 8443 when 443 is not allowed]
#   SQLVAULT_DEV_START_TIMEOUT  seconds each service may take to become ready [90]
#   SQLVAULT_SQL_PASSWORD       the simulator's sa password [Sim-Passw0rd]
#
# The agent endpoint: SQL Server accepts a backup URL only as https://<DNS name>/… with no
# port, so SQL Server (here the simulator) always connects to port 443 of the address its
# hosts file gives for sqlvault-agent.local (--resolve). Port 443 is privileged on Linux: as
# root, or with net.ipv4.ip_unprivileged_port_start <= 443, the endpoint binds 443. As an
# ordinary user the script says so and binds 8443 instead, and the simulator forwards 443
# there (--forward), as a port redirect (iptables REDIRECT) would on a VM: the URLs keep
# having no port. A real agent never does this by itself (see README, "The endpoint address").
#
# The data path: the agent backs up and restores through VDI (BACKUP … TO VIRTUAL_DEVICE), the
# default where SQL Server's VDI client library is present. Here the library is the project's
# stand-in libsqlvdi.so (`sqlsim vdi-library` builds it with g++), which the agent loads
# through its real dlopen path (agent.vdiLibrary) and which reaches the simulator through Unix
# sockets in SQLSIM_VDI_DIR, set for both. Without g++, or with a worker built without cgo,
# the stack says so and the agent takes the URL path.
#
# internal/testworld/devstack/devstack_test.go runs this script the way a person does and backs up
# through it, so a change here is tested by `go test ./internal/testworld/devstack`.
set -euo pipefail

cd "$(dirname "$0")/../../.."
root=$PWD

die() {
  printf 'sqlvault run: %s\n' "$*" >&2
  exit 1
}

# A port must be a number: it is pasted into URLs, a YAML file and /dev/tcp paths.
port_var() {
  local name=$1 def=$2 v
  v=${!name:-$def}
  [[ $v =~ ^[0-9]+$ ]] && ((v > 0 && v < 65536)) || die "$name=$v is not a TCP port number"
  printf '%s' "$v"
}
temporal_port=$(port_var SQLVAULT_DEV_TEMPORAL_PORT 7233)
ui_port=$(port_var SQLVAULT_DEV_UI_PORT 8233)
azurite_port=$(port_var SQLVAULT_DEV_AZURITE_PORT 10000)
sql_port=$(port_var SQLVAULT_DEV_SQL_PORT 14330)
codec_port=$(port_var SQLVAULT_DEV_CODEC_PORT 8234)
endpoint_addr=${SQLVAULT_DEV_ENDPOINT_ADDR:-127.0.0.5}
[[ $endpoint_addr =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] ||
  die "SQLVAULT_DEV_ENDPOINT_ADDR=$endpoint_addr is not a loopback address 127.x.y.z (the endpoint binds only loopback)"

# can_bind_443: root, or a kernel that lets ordinary processes bind 443. The worker binary is
# rebuilt on every start, so a capability set on it (setcap) would not last.
can_bind_443() {
  ((EUID == 0)) && return 0
  local start
  start=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null) || return 0 # not Linux: no privileged-port rule to predict
  ((start <= 443))
}
endpoint_note=
if [[ -n ${SQLVAULT_DEV_ENDPOINT_PORT:-} ]]; then
  endpoint_port=$(port_var SQLVAULT_DEV_ENDPOINT_PORT 443)
elif can_bind_443; then
  endpoint_port=443
else
  endpoint_port=8443
  endpoint_note="note: port 443 is privileged on Linux and this shell is not root, so the agent endpoint
      listens on $endpoint_addr:8443 and the simulator forwards $endpoint_addr:443 to it, as a port
      redirect would on a VM. Backup URLs still carry no port, as SQL Server requires. To run it
      on 443 as a real agent runs: sudo make run, or allow ordinary processes to bind 443 with
        sudo sysctl -w net.ipv4.ip_unprivileged_port_start=443
      A real agent never moves to another port by itself: it stops and says how to get 443."
fi
if [[ -z $endpoint_note ]] && ((endpoint_port != 443)); then
  endpoint_note="note: the agent endpoint listens on $endpoint_addr:$endpoint_port (SQLVAULT_DEV_ENDPOINT_PORT) and the
      simulator forwards $endpoint_addr:443 to it, as a port redirect would on a VM; backup URLs
      carry no port, as SQL Server requires."
fi
start_timeout=${SQLVAULT_DEV_START_TIMEOUT:-90}
[[ $start_timeout =~ ^[0-9]+$ ]] || die "SQLVAULT_DEV_START_TIMEOUT=$start_timeout is not a number of seconds"

dir=${SQLVAULT_DEV_DIR:-.run}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd) # absolute: the worker config names files in it, wherever it is read from
logs=$dir/logs
mkdir -p "$logs" "$dir/azurite"

sql_password=${SQLVAULT_SQL_PASSWORD:-Sim-Passw0rd}
agent_host=sqlvault-agent.local
vm=SQLVM1
# Azurite's well-known development account (public, documented by Microsoft).
azurite_account=devstoreaccount1
azurite_key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
blob_endpoint=http://127.0.0.1:$azurite_port/$azurite_account
connection_string="DefaultEndpointsProtocol=http;AccountName=$azurite_account;AccountKey=$azurite_key;BlobEndpoint=$blob_endpoint;"

# SQLVAULT_* variables override the config file (internal/config), so one left in the shell
# from another setup (say SQLVAULT_TEMPORAL_ADDRESS of a real cluster) would silently point
# this stack's worker somewhere else. The stack is configured by its own file only. The same
# goes for the Temporal SDK's environment configuration, which sqlvault reads under its own
# settings: TEMPORAL_* variables and the Temporal CLI's profile file (say, a Cloud profile
# with an API key and TLS) would reach this stack's worker and the CLI calls below.
while IFS= read -r v; do
  case $v in
  SQLVAULT_DEV_* | SQLVAULT_SQL_PASSWORD) ;;
  SQLVAULT_* | TEMPORAL_*) unset "$v" ;;
  esac
done < <(compgen -e)
export TEMPORAL_CONFIG_FILE=/dev/null
export SQLVAULT_VAULT_CONNECTION_STRING=$connection_string
export SQLVAULT_SQL_PASSWORD=$sql_password

# --- prerequisites -------------------------------------------------------------------------

temporal_bin=$root/bin/temporal
azurite_bin=$root/node_modules/.bin/azurite-blob
[[ -x $temporal_bin ]] || die "$temporal_bin not found: run make tools (it builds the Temporal CLI), or use make run"
[[ -x $azurite_bin ]] || die "$azurite_bin not found: run make tools (it installs Azurite with npm ci), or use make run"
command -v node >/dev/null || die "node is not on PATH: Azurite needs Node.js 20 or later"

# Fail before starting anything if a port is taken: otherwise the service would die with a
# bind error in its log, or worse, the stack would talk to whatever already listens there.
check_port() { # port, what, variable
  local alt=$(($1 + 10000))
  ((alt < 65536)) || alt=$(($1 - 10000))
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
    die "port $1 ($2) is already in use: stop what listens there (another make run?), or choose another port, e.g. $3=$alt make run"
  fi
}
if (exec 3<>"/dev/tcp/$endpoint_addr/$endpoint_port") 2>/dev/null; then
  die "$endpoint_addr:$endpoint_port (agent endpoint) is already in use: stop what listens there (another make run?), or choose another loopback address, e.g. SQLVAULT_DEV_ENDPOINT_ADDR=127.0.0.6 make run"
fi
check_port "$temporal_port" "Temporal frontend" SQLVAULT_DEV_TEMPORAL_PORT
check_port "$ui_port" "Temporal Web UI" SQLVAULT_DEV_UI_PORT
check_port "$azurite_port" "Azurite" SQLVAULT_DEV_AZURITE_PORT
check_port "$sql_port" "SQL Server simulator" SQLVAULT_DEV_SQL_PORT
check_port "$codec_port" "codec server" SQLVAULT_DEV_CODEC_PORT
if [[ $(printf '%s\n' "$temporal_port" "$ui_port" "$azurite_port" "$sql_port" "$codec_port" | sort -u | wc -l) -ne 5 ]]; then
  die "two SQLVAULT_DEV_*_PORT variables name the same port; every service needs its own"
fi

[[ -z $endpoint_note ]] || echo "$endpoint_note"

# --- build and one-time set-up -------------------------------------------------------------

echo ">> building bin/sqlvault-worker, bin/sqlvault, bin/sqlsim"
"${GO:-go}" build -o "$root/bin/" ./cmd/sqlvault-worker ./cmd/sqlvault ./internal/sqlsim/cmd/sqlsim

# The VDI sets' sockets: a Unix socket path holds at most 107 bytes, and a set's socket name
# up to 68 (vdistandin.SocketName: a name of up to 64 characters, then ".vdi"), so a state
# directory deeper than .run/ usually is gets a short one of its own, removed at the end.
vdi_dir=$dir/vdi
vdi_tmp=
if ((${#vdi_dir} > 107 - 69)); then
  vdi_dir=$(mktemp -d /tmp/sqlvault-vdi.XXXXXX) # not $TMPDIR: it may be deep too
  vdi_tmp=$vdi_dir
fi
mkdir -p "$vdi_dir"
chmod 0700 "$vdi_dir"
export SQLSIM_VDI_DIR=$vdi_dir
vdi_library= vdi_note=
if [[ $("${GO:-go}" env CGO_ENABLED) != 1 ]]; then
  vdi_note="note: Go builds without cgo here (CGO_ENABLED=0, or no C compiler), and the agent's Linux VDI
      client needs it: the agent backs up and restores through the URL path. Install gcc and g++
      (Debian/Ubuntu: apt-get install g++) for the VDI path."
elif vdi_library=$("$root/bin/sqlsim" vdi-library 2>"$logs/vdi-library.log"); then
  echo "built the stand-in VDI client library $vdi_library"
else
  vdi_library=
  vdi_note="note: the stand-in VDI client library did not build ($(head -c 300 "$logs/vdi-library.log")),
      so the agent backs up and restores through the URL path."
fi

key_file=$dir/vault.key
if [[ ! -f $key_file ]]; then
  "$root/bin/sqlvault-worker" key generate --file "$key_file"
fi

# The codec key file: Temporal payloads are encrypted under its key, which is wrapped under
# the vault key (the KEK). Made once and kept, like the vault key: histories it encrypted
# are read with it.
codec_file=$dir/codec.keys
if [[ ! -f $codec_file ]]; then
  "$root/bin/sqlvault" codec init --codec-key-file "$codec_file" --key-file "$key_file" >"$logs/codec-init.log"
  echo "wrote the codec key file $codec_file (Temporal payloads are encrypted under it)"
fi

cert_dir=$dir/certs
cert_file=$cert_dir/sqlvault-endpoint.crt
cert_key=$cert_dir/sqlvault-endpoint.key
ca_file=$cert_dir/sqlvault-endpoint-ca.crt
if [[ ! -f $cert_file && ! -f $cert_key && ! -f $ca_file ]]; then
  # The instructions it prints are for real SQL Servers; the simulator is told below.
  "$root/bin/sqlvault-worker" cert generate --host "$agent_host" --dir "$cert_dir" >"$logs/cert-generate.log"
  echo "wrote the agent endpoint certificate for $agent_host into $cert_dir"
elif [[ ! -f $cert_file || ! -f $cert_key || ! -f $ca_file ]]; then
  die "$cert_dir has only part of the endpoint certificate (want $(basename "$cert_file"), $(basename "$cert_key") and $(basename "$ca_file")): delete $cert_dir to make a new one"
fi

# YAML single-quoted scalar: the only escape is '' for ', so any path survives.
yq() { printf "'%s'" "${1//\'/\'\'}"; }

# agent.vdiLibrary: the stand-in; the instance below has no dataPath, so the agent takes vdi
# when it loads (its log says so at start: "instance data path").
vdi_library_setting() {
  [[ -n $vdi_library ]] || return 0
  echo "  # SQL Server's VDI client library: here the stand-in, reaching the simulator through"
  echo "  # sockets in SQLSIM_VDI_DIR. With it, instances without a dataPath use VDI."
  echo "  vdiLibrary: $(yq "$vdi_library")"
}

config=$dir/worker.yaml
marker='# generated by internal/testworld/devstack/run.sh'
render_config() {
  cat <<YAML
$marker; it rewrites this file on every start while this line is here.
# Delete this line to keep your own edits (then ports given as SQLVAULT_DEV_* no longer reach it).
# Secrets are references: the values come from the environment run.sh gives the worker.
role: both
temporal:
  address: 127.0.0.1:$temporal_port
  namespace: default
vault:
  container: sqlvault
  auth: connectionString
  connectionString: {env: SQLVAULT_VAULT_CONNECTION_STRING}
  createContainer: true
key:
  file: $(yq "$key_file")
# Temporal payloads encrypted; the Web UI reads them through the codec server below, which
# listens on loopback without a token because the dev Web UI sends none (never elsewhere).
codec:
  keyFile: $(yq "$codec_file")
  server:
    listen: 127.0.0.1:$codec_port
    noAuth: true
    allowedOrigins: [http://127.0.0.1:$ui_port, http://localhost:$ui_port]
    namespaces: [default]
agent:
  vm: $vm
  endpoint:
    host: $agent_host
    listen: $endpoint_addr:$endpoint_port
    certFile: $(yq "$cert_file")
    keyFile: $(yq "$cert_key")
  # Folders a restore may write to when asked (--as-files, --data-path, --log-path).
  restoreRoots: [$(yq "$dir/restores")]
$(vdi_library_setting)
  instances:
    - name: $vm
      host: 127.0.0.1
      port: $sql_port
      user: sa
      password: {env: SQLVAULT_SQL_PASSWORD}
      encrypt: disable
log:
  level: info
  format: console
YAML
}
# Rewritten while generated, so a changed SQLVAULT_DEV_*_PORT or a moved checkout is picked
# up; a file the user took over (marker removed) is left alone.
if [[ ! -f $config ]] || [[ $(head -n 1 "$config") == "$marker"* ]]; then
  render_config >"$config"
else
  echo "note: $config is yours (no generated-by line), so run.sh does not rewrite it"
fi
"$root/bin/sqlvault-worker" config show --config "$config" >"$logs/config-show.log" 2>&1 ||
  die "the worker config $config has problems:"$'\n'"$(cat "$logs/config-show.log")"

# --- processes -----------------------------------------------------------------------------

names=() pids=()
stopping=

# stop ends every started service, the worker first (so it is not left retrying against a
# Temporal that went away), then the rest in reverse start order. Each service runs in its
# own process group (launch), so a signal to the group also reaches anything it forked.
stop() {
  [[ -n $stopping ]] && return
  stopping=1
  # Finish the clean-up whatever happens: not on the first failing command (set -e), and
  # not killed by SIGPIPE when whoever read our output has gone away.
  set +e
  trap '' PIPE
  ((${#pids[@]})) || return 0
  echo
  echo ">> stopping the stack"
  local i p deadline
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    p=${pids[i]}
    kill -TERM -- "-$p" 2>/dev/null || continue
    deadline=$((SECONDS + 10))
    while kill -0 -- "-$p" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    if kill -0 -- "-$p" 2>/dev/null; then
      echo "${names[i]} did not stop within 10 s; killing it"
      kill -KILL -- "-$p" 2>/dev/null || true
    fi
    wait "$p" 2>/dev/null || true
  done
  [[ -z $vdi_tmp ]] || rm -rf -- "$vdi_tmp"
  echo ">> stopped"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# launch starts a service in the background with its output in logs/<name>.log. Job control
# (set -m) is on only while it forks, which puts the service in a process group of its own:
# stop can then signal the whole group, and Ctrl-C at the terminal reaches only this script,
# which stops the services in order. Foreground commands keep the script's group, so Ctrl-C
# during a wait still interrupts the script.
launch() {
  local name=$1
  shift
  set -m
  "$@" </dev/null >"$logs/$name.log" 2>&1 &
  pids+=($!)
  set +m
  names+=("$name")
}

# owns_port tells whether the service whose process group is $1 (launch makes each service
# lead one) has a socket listening on TCP port $2, from /proc (Linux). A probe that answers
# only says something listens there: with another stack on the same ports, it was the other
# stack's server that answered while this one's had died with "address already in use".
# Where /proc cannot tell (not Linux), it says yes, and only the liveness check remains.
owns_port() { # pgid, port
  [[ -r /proc/net/tcp ]] || return 0
  local inodes p fd link i
  inodes=$(awk -v port="$(printf ':%04X' "$2")" '$4 == "0A" && substr($2, length($2) - 4) == port { print $10 }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null)
  [[ -n $inodes ]] || return 1
  for p in $(pgrep -g "$1" 2>/dev/null || echo "$1"); do
    for fd in /proc/"$p"/fd/*; do
      link=$(readlink "$fd" 2>/dev/null) || continue
      for i in $inodes; do
        [[ $link == "socket:[$i]" ]] && return 0
      done
    done
  done
  return 1
}

# port_conflict names the first of a service's ports that something else holds, if any.
port_conflict() { # pgid, ports
  local p
  for p in $2; do
    if listening "$p" && ! owns_port "$1" "$p"; then
      printf '%s' "$p"
      return 0
    fi
  done
  return 1
}

# wait_ready polls probe until it succeeds, the service exits, or the timeout passes; then
# checks that it is this stack's service that is ready: alive, and holding its ports.
wait_ready() { # name, ports (space-separated; "" for none), probe...
  local name=$1 ports=$2 pid=${pids[${#pids[@]} - 1]} taken
  shift 2
  local deadline=$((SECONDS + start_timeout))
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      if taken=$(port_conflict "$pid" "$ports"); then
        fail_port "$name" "$taken"
      fi
      fail_service "$name" "exited during start-up"
    fi
    if ((SECONDS >= deadline)); then
      fail_service "$name" "was not ready after ${start_timeout}s (slow machine? SQLVAULT_DEV_START_TIMEOUT raises the limit)"
    fi
    sleep 0.2
  done
  if taken=$(port_conflict "$pid" "$ports"); then
    fail_port "$name" "$taken"
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    fail_service "$name" "exited during start-up"
  fi
  echo "   $name ready"
}

fail_service() {
  {
    if [[ -s $logs/$1.log ]]; then
      echo "sqlvault run: $1 $2; its log is $logs/$1.log, which ends:"
      tail -n 20 "$logs/$1.log" | sed 's/^/    /'
    else
      echo "sqlvault run: $1 $2; its log $logs/$1.log is empty"
    fi
  } >&2
  exit 1
}

# fail_port: another process took a service's port after the check before start-up (a
# second make run started at the same moment, say), and the service could not bind it.
fail_port() { # name, port
  fail_service "$1" "could not have port $2: another process listens there (another make run?). Stop it, or move this stack's ports with SQLVAULT_DEV_*_PORT"
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
logged() { grep -q -- "$2" "$logs/$1.log"; }

echo ">> starting the stack (logs in $logs)"

launch temporal "$temporal_bin" server start-dev --ip 127.0.0.1 \
  --port "$temporal_port" --ui-port "$ui_port" --db-filename "$dir/temporal.db" \
  --ui-codec-endpoint "http://127.0.0.1:$codec_port" \
  --search-attribute SqlvaultInstance=Keyword --search-attribute SqlvaultDatabase=Keyword \
  --search-attribute SqlvaultBackupType=Keyword --search-attribute SqlvaultVM=Keyword \
  --search-attribute SqlvaultRPOState=Keyword
# The frontend port opens before the namespace is usable; the health check and a namespace
# lookup are what a client needs.
temporal_ready() {
  "$temporal_bin" operator namespace describe --address "127.0.0.1:$temporal_port" --namespace default \
    --command-timeout 5s --disable-config-file --disable-config-env &&
    listening "$ui_port"
}
wait_ready temporal "$temporal_port $ui_port" temporal_ready

launch azurite "$azurite_bin" --blobHost 127.0.0.1 --blobPort "$azurite_port" --location "$dir/azurite" \
  --skipApiVersionCheck --disableProductStyleUrl --disableTelemetry
wait_ready azurite "$azurite_port" listening "$azurite_port"

# The password goes through the environment, not argv, where ps would show it.
# The simulated VM's hosts file maps the agent's name to the endpoint's address; URLs carry no
# port, so it connects to 443 there (forwarded when the endpoint could not bind 443).
forward=()
if ((endpoint_port != 443)); then
  forward=(--forward "$endpoint_addr:443=$endpoint_addr:$endpoint_port")
fi
launch sqlsim env SQLSIM_PASSWORD="$sql_password" "$root/bin/sqlsim" --listen "127.0.0.1:$sql_port" \
  --trust-ca "$ca_file" --resolve "$agent_host=$endpoint_addr" "${forward[@]}" --workload 20
# sqlsim prints its "listening" line after the sample databases exist; the port opens earlier.
wait_ready sqlsim "$sql_port" logged sqlsim "listening on"

worker_cmd=("$root/bin/sqlvault-worker" --config "$config")
launch worker "${worker_cmd[@]}"
worker_i=$((${#pids[@]} - 1))
wait_ready worker "" logged worker "worker running"

launch codec-server "$root/bin/sqlvault-worker" codec-server --config "$config"
wait_ready codec-server "$codec_port" listening "$codec_port"

# --- what to do next ------------------------------------------------------------------------

# What the agent chose for the instance, from its start-up line (one per instance).
data_path=$(grep -o '"dataPath": "[a-z]*"' "$logs/worker.log" | head -n 1 | cut -d'"' -f4) || true
case $data_path in
vdi) data_path="vdi: BACKUP … TO VIRTUAL_DEVICE through the stand-in libsqlvdi.so (sockets in $vdi_dir)" ;;
url) data_path="url: BACKUP … TO URL into the agent endpoint" ;;
*) data_path="see $logs/worker.log (\"instance data path\")" ;;
esac

# Shell single quotes: safe for any value, including the connection string's ; and =.
sq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
env_file=$dir/env
{
  echo "# source this file to point bin/sqlvault at the stack run.sh started"
  echo "export SQLVAULT_CONFIG=$(sq "$config")"
  echo "export SQLVAULT_VAULT_CONNECTION_STRING=$(sq "$connection_string")"
  echo "# for the stock Temporal CLI (bin/temporal): this stack's frontend"
  echo "export TEMPORAL_ADDRESS=127.0.0.1:$temporal_port"
} >"$env_file"

if [[ $sql_password == Sim-Passw0rd ]]; then
  login="login sa / Sim-Passw0rd"
  dsn_password=Sim-Passw0rd
else
  login='login sa / $SQLVAULT_SQL_PASSWORD'
  dsn_password='<password>'
fi
sqlq='go run ./internal/sqlsim/cmd/sqlq'
if [[ $sql_port != 14330 || $dsn_password != Sim-Passw0rd ]]; then
  sqlq="SQLQ_DSN='sqlserver://sa:$dsn_password@127.0.0.1:$sql_port?encrypt=disable' $sqlq"
fi

cat <<MSG

sqlvault stack is up (state in $dir, logs in $logs):
  Temporal Web UI    http://127.0.0.1:$ui_port
  Temporal frontend  127.0.0.1:$temporal_port, namespace default
  Azurite blob       $blob_endpoint  (vault container sqlvault)
  SQL Server (sim)   127.0.0.1:$sql_port  $login  (encrypt=disable), instance $vm
  sqlvault worker    control + agent for $vm, endpoint https://$agent_host/ (listening on $endpoint_addr:$endpoint_port)
  codec server       http://127.0.0.1:$codec_port (payloads are encrypted; the Web UI decrypts through it)
  data path          $data_path
  worker config      $config
  logs               $logs/{temporal,azurite,sqlsim,worker,codec-server}.log

Next, in another terminal in $root:
  export SQLVAULT_CONFIG=$(sq "$config")
  export SQLVAULT_VAULT_CONNECTION_STRING=$(sq "$connection_string")
  export TEMPORAL_ADDRESS=127.0.0.1:$temporal_port
  bin/sqlvault backup --instance $vm --database SalesDB --type full --wait
  bin/sqlvault list --instance $vm --database SalesDB
  bin/sqlvault restore --instance $vm --database SalesDB --point POINT --as-name SalesDB_copy --wait
  bin/temporal workflow list
(POINT: the recovery point the backup printed. Backups and restores go through the data path
above; each recovery point records its own, which backup --wait and list show. The exports
are also in $env_file: source it instead; TEMPORAL_ADDRESS points the Temporal CLI,
bin/temporal, at this stack)

Payloads are encrypted (codec.keyFile in the worker config): the Web UI decrypts them
through the codec server; with the Temporal CLI add --codec-endpoint http://127.0.0.1:$codec_port
to workflow show.

Query the simulator:  $sqlq -e "SELECT name, recovery_model_desc FROM sys.databases"
MSG
[[ -z $endpoint_note ]] || printf '%s\n\n' "$endpoint_note"
[[ -z $vdi_note ]] || printf '%s\n\n' "$vdi_note"
echo "Ctrl-C stops everything."

# restart_worker starts the worker again after it crashed, its output appended to its log
# (the crash stays readable above the new start). The worker holds no state a restart
# loses: Temporal retries what it was running, as it would on a VM.
restart_worker() {
  set -m
  "${worker_cmd[@]}" </dev/null >>"$logs/worker.log" 2>&1 &
  pids[worker_i]=$!
  set +m
}

# exit_reason describes a wait status: "exit status N" or "killed by signal NAME".
exit_reason() {
  if (($1 > 128)); then
    printf 'killed by signal %s' "$(kill -l $(($1 - 128)) 2>/dev/null || echo $(($1 - 128)))"
  else
    printf 'exit status %s' "$1"
  fi
}

# Stay in the foreground. A crashed worker is restarted, as a service manager would, so the
# product's crash resilience can be seen on this stack; after crash_limit crashes within a
# minute it is left down and the stack stops. Any other service that dies takes the stack
# down (Temporal's history, say, lives in that process), with a pointer to its log.
crash_limit=5
crashes=()
while :; do
  for i in "${!pids[@]}"; do
    if kill -0 "${pids[i]}" 2>/dev/null; then
      continue
    fi
    if ((i != worker_i)); then
      fail_service "${names[i]}" "exited unexpectedly"
    fi
    status=0
    wait "${pids[i]}" 2>/dev/null || status=$?
    recent=()
    for c in "${crashes[@]}"; do
      ((SECONDS - c < 60)) && recent+=("$c")
    done
    crashes=("${recent[@]}" "$SECONDS")
    if ((${#crashes[@]} >= crash_limit)); then
      fail_service worker "crashed $crash_limit times within a minute (last: $(exit_reason "$status")); not restarting it"
    fi
    delay=$((1 << (${#crashes[@]} - 1)))
    echo "sqlvault run: the worker exited ($(exit_reason "$status")); restarting it in ${delay}s (crash ${#crashes[@]} of $crash_limit allowed within a minute; log $logs/worker.log)" >&2
    sleep "$delay"
    restart_worker
    echo "   worker restarted (pid ${pids[worker_i]})"
  done
  sleep 1
done
