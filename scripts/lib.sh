# Shared by scripts/demo.sh, scripts/test.sh and scripts/bench.sh: set-up of
# everything missing, building and installing the extension, and throwaway
# clusters. Source it; do not run it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="$ROOT/.run"
SYSTEM_PG_BIN=/usr/lib/postgresql/15/bin
# PG_BIN may point at another PostgreSQL 15 installation (e.g. a relocated
# copy, to benchmark a build without touching the system's); cargo pgrx init
# always registers the system's.
PG_BIN="${PG_BIN:-$SYSTEM_PG_BIN}"
PG_CONFIG="$PG_BIN/pg_config"
PGRX_VERSION=0.18.1
DEB_PACKAGES=(postgresql-15 postgresql-server-dev-15 postgresql-client-15 clang libclang-dev pgbouncer sudo python3-venv)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
    if is_root; then "$@";
    elif command -v sudo >/dev/null 2>&1; then sudo "$@";
    else die "need root for: $* (install sudo or run as root)"; fi
}

ensure_debian_packages() {
    local missing=()
    for p in "${DEB_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install: ${missing[*]}"
        log "installing Debian packages: ${missing[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    [ -x "$PG_CONFIG" ] || die "$PG_CONFIG not found after installing postgresql-server-dev-15"
}

ensure_cargo_pgrx() {
    command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust (rustup) first"
    if [ "$(cargo pgrx --version 2>/dev/null | awk '{print $2}')" != "$PGRX_VERSION" ]; then
        log "installing cargo-pgrx $PGRX_VERSION (takes a few minutes, once)"
        cargo install cargo-pgrx --version "$PGRX_VERSION" --locked --force
    fi
    local config="${PGRX_HOME:-$HOME/.pgrx}/config.toml"
    if ! grep -qs "pg15 = \"$SYSTEM_PG_BIN/pg_config\"" "$config"; then
        log "cargo pgrx init --pg15=$SYSTEM_PG_BIN/pg_config"
        cargo pgrx init --pg15="$SYSTEM_PG_BIN/pg_config" >/dev/null
    fi
}

ensure_prereqs() {
    ensure_debian_packages
    ensure_cargo_pgrx
}

# Builds the extension and installs it into the system PostgreSQL 15.
install_extension() {
    log "building and installing pg_sharing"
    mkdir -p "$RUN_DIR"
    local sudo_flag=()
    is_root || [ -w "$($PG_CONFIG --pkglibdir)" ] || sudo_flag=(--sudo)
    if ! (cd "$ROOT" && cargo pgrx install --pg-config "$PG_CONFIG" "${sudo_flag[@]}" "$@") >"$RUN_DIR/install.log" 2>&1; then
        tail -n 60 "$RUN_DIR/install.log" >&2
        die "building or installing the extension failed (full log: $RUN_DIR/install.log)"
    fi
}

# ensure_venv: the virtualenv .run/venv with examples/python/requirements.txt
# (the client examples and the benchmark use it). Installs again only when
# requirements.txt changed since the last time. Sets VENV.
ensure_venv() {
    local requirements="$ROOT/examples/python/requirements.txt"
    VENV="$RUN_DIR/venv"
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating the virtualenv $VENV"
        python3 -m venv "$VENV"
    fi
    if ! cmp -s "$requirements" "$VENV/installed-requirements.txt"; then
        log "installing Python packages into $VENV"
        "$VENV/bin/pip" install -q -r "$requirements"
        cp "$requirements" "$VENV/installed-requirements.txt"
    fi
}

# The OS user that runs servers: postgres when we are root (initdb refuses
# root), else ourselves.
server_user() { if is_root; then echo postgres; else id -un; fi; }

as_server_user() {
    if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on. Chosen below
# the kernel's ephemeral range (ip_local_port_range), where outgoing
# connections take their local ports: a port there can look free and still be
# refused by bind(). The start is PID-dependent so parallel runs rarely collide.
free_port() {
    local low=32768 port span
    if [ -r /proc/sys/net/ipv4/ip_local_port_range ]; then
        read -r low _ </proc/sys/net/ipv4/ip_local_port_range
    fi
    [ "$low" -gt 11000 ] || low=65000
    span=$((low - 1 - 10000))
    for port in $(seq $((10000 + ($$ + RANDOM) % span)) $((low - 1))) $(seq 10000 $((low - 1))); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"; return
        fi
    done
    die "no free TCP port found"
}

# pg_start_on_free_port DIR OPTS: starts the server whose data directory is
# DIR/data on a free port (sets STARTED_PORT). A port taken between the check
# and bind() is not an error: it tries another one, up to five times.
pg_start_on_free_port() {
    local dir="$1" opts="$2" attempt
    for attempt in 1 2 3 4 5; do
        STARTED_PORT="$(free_port)"
        if as_server_user "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" \
                -o "-p $STARTED_PORT $opts" -w start >/dev/null; then
            return 0
        fi
        grep -q "Address already in use" "$dir/server.log" 2>/dev/null || break
        log "port $STARTED_PORT was taken meanwhile; trying another"
    done
    cat "$dir/server.log" >&2
    return 1
}

# A directory the server user can write: under .run/ when it can reach it,
# else a fresh one under /tmp.
cluster_dir() {
    local name="$1"
    local dir="$RUN_DIR/$name"
    mkdir -p "$RUN_DIR"
    rm -rf "$dir"
    mkdir -p "$dir"
    if is_root; then
        chown postgres: "$dir"
        if ! runuser -u postgres -- test -w "$dir"; then
            rm -rf "$dir"
            dir="$(mktemp -d "/tmp/pg_sharing-$name.XXXXXX")"
            chown postgres: "$dir"
        fi
    fi
    echo "$dir"
}

# start_cluster NAME [postgres -c settings...]: initdb + start on a free port.
# Sets PGHOST, PGPORT, PGUSER, CLUSTER_DIR; stop_cluster stops it.
start_cluster() {
    local name="$1"; shift
    CLUSTER_DIR="$(cluster_dir "$name")"
    as_server_user "$PG_BIN/initdb" -D "$CLUSTER_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    local opts="-c listen_addresses=127.0.0.1 -c unix_socket_directories=$CLUSTER_DIR -c fsync=off"
    for setting in "$@"; do opts="$opts -c $setting"; done
    pg_start_on_free_port "$CLUSTER_DIR" "$opts" || die "cluster $name did not start"
    PGPORT="$STARTED_PORT"
    export PGHOST=127.0.0.1 PGPORT PGUSER=postgres CLUSTER_DIR
    log "cluster $name running on port $PGPORT ($CLUSTER_DIR)"
}

stop_cluster() {
    if [ -n "${CLUSTER_DIR:-}" ] && [ -d "$CLUSTER_DIR/data" ]; then
        as_server_user "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
}

# start_standby NAME: a hot standby of the cluster of start_cluster, made with
# pg_basebackup -R and started on a free port. Sets STANDBY_PORT, STANDBY_DIR;
# stop_standby stops it. The primary needs wal_level=replica (the default).
start_standby() {
    local name="$1"
    STANDBY_DIR="$(cluster_dir "$name")"
    as_server_user "$PG_BIN/pg_basebackup" -h "$PGHOST" -p "$PGPORT" -U postgres \
        -D "$STANDBY_DIR/data" -R -X stream -c fast >/dev/null \
        || die "pg_basebackup of the cluster on port $PGPORT failed"
    local opts="-c listen_addresses=127.0.0.1 -c unix_socket_directories=$STANDBY_DIR -c fsync=off -c hot_standby=on"
    pg_start_on_free_port "$STANDBY_DIR" "$opts" || die "standby $name did not start"
    STANDBY_PORT="$STARTED_PORT"
    export STANDBY_PORT STANDBY_DIR
    log "standby $name of port $PGPORT running on port $STANDBY_PORT ($STANDBY_DIR)"
}

# wait_for_standby [SECONDS]: waits until the standby has replayed everything
# the primary has written so far (polls, at most SECONDS, default 60).
wait_for_standby() {
    local lsn tries=$(( ${1:-60} * 10 ))
    lsn="$(psql -X -At -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -c "SELECT pg_current_wal_lsn()")"
    while [ "$(psql -X -At -h "$PGHOST" -p "$STANDBY_PORT" -U postgres -d postgres \
                -c "SELECT coalesce(pg_last_wal_replay_lsn() >= '$lsn', false)")" != t ]; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || die "standby on port $STANDBY_PORT did not replay up to $lsn in ${1:-60}s"
        sleep 0.1
    done
}

stop_standby() {
    if [ -n "${STANDBY_DIR:-}" ] && [ -d "$STANDBY_DIR/data" ]; then
        as_server_user "$PG_BIN/pg_ctl" -D "$STANDBY_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
}

# ---------------------------------------------------------------- Citus

# Where the Citus source and its build script are: CITUS_DIR, else the
# team's shared folder next to the repository (../shared/citus).
CITUS_DIR="${CITUS_DIR:-$ROOT/../shared/citus}"

# ensure_citus: Citus installed into the system PostgreSQL 15, built from
# CITUS_DIR/build.sh when missing (idempotent; a few minutes the first time).
ensure_citus() {
    if [ -f "$($PG_CONFIG --pkglibdir)/citus.so" ] && [ -f "$($PG_CONFIG --sharedir)/extension/citus.control" ]; then
        return 0
    fi
    [ -x "$CITUS_DIR/build.sh" ] || [ -f "$CITUS_DIR/build.sh" ] \
        || die "Citus is not installed and $CITUS_DIR/build.sh is missing: set CITUS_DIR to a folder with Citus' source and build.sh, or install Citus 13 for PostgreSQL 15"
    log "building and installing Citus from $CITUS_DIR (a few minutes, once)"
    as_root bash "$CITUS_DIR/build.sh" >"$RUN_DIR/citus-build.log" 2>&1 \
        || { tail -n 40 "$RUN_DIR/citus-build.log" >&2; die "building Citus failed (log: $RUN_DIR/citus-build.log)"; }
}

# start_citus_cluster NAME DB [WORKERS [settings...]]: a coordinator and
# WORKERS (default 2) workers, each a throwaway cluster with Citus preloaded
# (room for the maintenance worker Citus starts per database, and the
# postgres -c settings given) and database DB with extension citus; the coordinator knows itself and the workers. Sets COORD_PORT,
# WORKER_PORTS (array) and CITUS_DIRS (for stop_citus_cluster).
start_citus_cluster() {
    local name="$1" db="$2" workers="${3:-2}" n extra="" setting
    shift 2; [ $# -eq 0 ] || shift
    for setting in "$@"; do extra="$extra -c $setting"; done
    COORD_PORT="" WORKER_PORTS=() CITUS_DIRS=()
    for n in $(seq 0 "$workers"); do
        local node="coord"; [ "$n" -eq 0 ] || node="worker$n"
        local dir; dir="$(cluster_dir "$name-$node")"
        as_server_user "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
        pg_start_on_free_port "$dir" "-c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -c fsync=off \
            -c shared_preload_libraries=citus -c max_prepared_transactions=100 -c wal_level=logical \
            -c max_worker_processes=40$extra" \
            || die "Citus node $node of $name did not start"
        CITUS_DIRS+=("$dir")
        if [ "$n" -eq 0 ]; then COORD_PORT="$STARTED_PORT"; else WORKER_PORTS+=("$STARTED_PORT"); fi
    done
    export COORD_PORT
    citus_database "$db"
    log "Citus cluster $name: coordinator on port $COORD_PORT, workers on ${WORKER_PORTS[*]}"
}

# citus_database DB: database DB on every node of the cluster of
# start_citus_cluster, with extension citus, the coordinator knowing itself
# and the workers (Citus keeps its nodes per database).
citus_database() {
    local db="$1" port
    for port in "$COORD_PORT" "${WORKER_PORTS[@]}"; do
        psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db" >/dev/null
        psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d "$db" -v ON_ERROR_STOP=1 -c "CREATE EXTENSION citus" >/dev/null
    done
    psql -X -q -h 127.0.0.1 -p "$COORD_PORT" -U postgres -d "$db" -v ON_ERROR_STOP=1 \
        -c "SELECT citus_set_coordinator_host('127.0.0.1', $COORD_PORT)" >/dev/null
    for port in "${WORKER_PORTS[@]}"; do
        psql -X -q -h 127.0.0.1 -p "$COORD_PORT" -U postgres -d "$db" -v ON_ERROR_STOP=1 \
            -c "SELECT citus_add_node('127.0.0.1', $port)" >/dev/null
    done
}

stop_citus_cluster() {
    local dir
    for dir in "${CITUS_DIRS[@]}"; do
        as_server_user "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    done
}
