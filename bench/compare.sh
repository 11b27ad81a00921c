#!/usr/bin/env bash
# Side-by-side benchmark: Palisade vs nginx vs nginx + ModSecurity + CRS, one run.
#
#   bench/compare.sh                 # full run (10 s per measurement)
#   DURATION=3s bench/compare.sh     # quick run
#
# Prints a markdown report and writes it to bench/results/<date>.md.
# See bench/README.md for every knob and how to read the figures.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
NGINX_WORKERS=${NGINX_WORKERS:-auto}
IDLE_CONNS=${IDLE_CONNS:-10000}
IDLE_HOLD=${IDLE_HOLD:-10}
PARANOIA=${PARANOIA:-1}
ROUNDS=${ROUNDS:-1}
# On / off pairs per mix for the identity and OpenAPI costs (0: skip).
PAIRS=${PAIRS:-15}
PAIR_DURATION=${PAIR_DURATION:-2s}
CRS_DIR=${CRS_DIR:-}
DEFAULT_MIXES="get post1k post16k"
DEFAULT_CONFIGS="direct palisade-monitor palisade-block palisade-identity palisade-identity-redis palisade-crs-pl1 palisade-openapi nginx-proxy nginx-modsec-crs"
MIXES=${MIXES:-$DEFAULT_MIXES}
CONFIGS=${CONFIGS:-$DEFAULT_CONFIGS}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}
PALISADE_BIN=${PALISADE_BIN:-}
# Requests counted per configuration and mix under cachegrind (0: skip).
INSTRUCTIONS=${INSTRUCTIONS:-0}

DEBIAN_CRS_RULES=/usr/share/modsecurity-crs/rules
DEBIAN_CRS_SETUP=/etc/modsecurity/crs/crs-setup.conf
MODSEC_MODULE=/usr/lib/nginx/modules/ngx_http_modsecurity_module.so

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- tools ----

install_missing_packages() {
    local missing=()
    command -v nginx >/dev/null || missing+=(nginx)
    command -v wrk >/dev/null || missing+=(wrk)
    command -v curl >/dev/null || missing+=(curl)
    command -v python3 >/dev/null || missing+=(python3)
    command -v pgrep >/dev/null || missing+=(procps)
    command -v redis-server >/dev/null || missing+=(redis-server)
    command -v openssl >/dev/null || missing+=(openssl)
    [ -f "$MODSEC_MODULE" ] || missing+=(libnginx-mod-http-modsecurity)
    [ -d "$DEBIAN_CRS_RULES" ] && [ -f "$DEBIAN_CRS_SETUP" ] || missing+=(modsecurity-crs)
    if [ "$INSTRUCTIONS" -gt 0 ] && ! command -v valgrind >/dev/null; then missing+=(valgrind); fi
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}); run as root or install them: apt-get install ${missing[*]}"
    command -v apt-get >/dev/null || die "missing packages (${missing[*]}) and no apt-get"
    log "installing ${missing[*]} with apt-get"
    # Installing nginx must not start the system service on port 80: this
    # benchmark runs its own instances. policy-rc.d 101 = "do not start".
    local policy_added=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        policy_added=1
    fi
    local status=0
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || status=$?
    [ $status -eq 0 ] && { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || status=$?; }
    [ $policy_added -eq 1 ] && rm -f /usr/sbin/policy-rc.d
    [ $status -eq 0 ] || die "apt-get failed"
}

# --------------------------------------------------------- process care ----

WORK=$(mktemp -d /tmp/palisade-bench.XXXXXX)
STARTED_PIDS=()

stop_pid() {
    local pid=$1
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    for pid in "${STARTED_PIDS[@]}"; do stop_pid "$pid"; done
    if [ "${KEEP_WORK:-0}" = 1 ] || [ $status -ne 0 ]; then
        log "work directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until something answers HTTP on the port (any status), while the process lives.
wait_http() {
    local port=$1 pid=$2 deadline=$((SECONDS + ${3:-60}))
    while [ $SECONDS -lt $deadline ]; do
        kill -0 "$pid" 2>/dev/null || return 1
        local code
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/" || true)
        [ -n "$code" ] && [ "$code" != 000 ] && return 0
        sleep 0.2
    done
    return 1
}

# The process and its children (nginx master + workers), one pid a line.
process_tree() {
    echo "$1"
    pgrep -P "$1" 2>/dev/null || true
}

# Sums a /proc status field (kB) over the process tree.
sum_status_kb() {
    local field=$1 root=$2 total=0 pid value
    for pid in $(process_tree "$root"); do
        value=$(awk -v f="$field:" '$1 == f { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
        total=$((total + ${value:-0}))
    done
    echo "$total"
}

# CPU time (user + system, clock ticks) used so far by the process tree.
cpu_ticks() {
    local total=0 pid value
    for pid in $(process_tree "$1"); do
        # Fields after the parenthesised command name; utime and stime are the 14th and 15th.
        value=$(sed -E 's/^.*\) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 }' || true)
        total=$((total + ${value:-0}))
    done
    echo "$total"
}
CLOCK_TICKS=$(getconf CLK_TCK 2>/dev/null || echo 100)

fill_template() {
    # fill_template IN OUT NAME=VALUE...
    local in=$1 out=$2
    shift 2
    cp "$in" "$out"
    local pair
    for pair in "$@"; do
        local name=${pair%%=*} value=${pair#*=}
        python3 - "$out" "@$name@" "$value" <<'EOF'
import sys
path, key, value = sys.argv[1:]
text = open(path).read().replace(key, value)
open(path, "w").write(text)
EOF
    done
}

NGINX_USER_LINE=""
[ "$(id -u)" -eq 0 ] && NGINX_USER_LINE="user root;"

# start_nginx NAME CONF -> sets STARTED_PID
start_nginx() {
    local name=$1 conf=$2 prefix=$WORK/$1
    nginx -t -q -p "$prefix" -c "$conf" -e "$prefix/error.log" -g 'daemon off;' >"$prefix/start.log" 2>&1 ||
        { cat "$prefix/start.log" >&2; return 1; }
    nginx -p "$prefix" -c "$conf" -e "$prefix/error.log" -g 'daemon off;' >>"$prefix/start.log" 2>&1 &
    STARTED_PID=$!
    STARTED_PIDS+=("$STARTED_PID")
}

# ---------------------------------------------------------------- setup ----

install_missing_packages
command -v cargo >/dev/null || [ -n "$PALISADE_BIN" ] || die "cargo not found: install Rust (https://rustup.rs) or set PALISADE_BIN"

ulimit -n 1048576 2>/dev/null || ulimit -n 200000 2>/dev/null || ulimit -n 65536 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((IDLE_CONNS + 1000)) ]; then
    log "open-file limit $(ulimit -n) is too low for $IDLE_CONNS idle connections"
    IDLE_CONNS=$(($(ulimit -n) - 1000))
fi

BUILD_LABEL="release build"
if [ -z "$PALISADE_BIN" ]; then
    log "building Palisade (release)"
    (cd "$REPO_DIR" && cargo build --release -p palisade >&2)
    target_dir=$(cd "$REPO_DIR" && cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
    PALISADE_BIN=$target_dir/release/palisade
fi
[ -x "$PALISADE_BIN" ] || die "no Palisade binary at $PALISADE_BIN"
[ -n "${target_dir:-}" ] || BUILD_LABEL="binary $PALISADE_BIN"

SERVE_HELP=$("$PALISADE_BIN" serve --help 2>&1 || true)
serve_supports() { grep -qE -- "(^|[[:space:]])$1([[:space:]=,]|$)" <<<"$SERVE_HELP"; }

# Palisade's --crs DIR reads DIR/crs-setup.conf and DIR/rules/*.conf. Debian splits
# the CRS between /etc (setup) and /usr/share (rules), so give it that layout.
if [ -z "$CRS_DIR" ]; then
    CRS_DIR=$WORK/crs-debian
    mkdir -p "$CRS_DIR"
    cp "$DEBIAN_CRS_SETUP" "$CRS_DIR/crs-setup.conf"
    ln -s "$DEBIAN_CRS_RULES" "$CRS_DIR/rules"
    CRS_LABEL="Debian modsecurity-crs $(dpkg-query -W -f='${Version}' modsecurity-crs 2>/dev/null || echo '?')"
else
    CRS_LABEL="$CRS_DIR"
fi
crs_version=$(grep -rhoE 'crs_setup_version=[0-9]+' "$CRS_DIR"/crs-setup.conf* 2>/dev/null | head -1 | cut -d= -f2 || true)
[ -n "$crs_version" ] && CRS_LABEL="$CRS_LABEL (crs_setup_version $crs_version)"

# ModSecurity's recommended configuration as Debian ships it for nginx, with the
# engine switched from DetectionOnly to On (blocking).
find_modsec_recommended() {
    local candidate
    for candidate in /usr/share/nginx/docs/modsecurity/modsecurity.conf /etc/nginx/modsecurity.conf \
        /etc/modsecurity/modsecurity.conf-recommended; do
        [ -f "$candidate" ] && { echo "$candidate"; return 0; }
    done
    return 1
}

prepare_modsec() {
    local dir=$1 recommended unicode
    recommended=$(find_modsec_recommended) || return 1
    unicode=$(dirname "$recommended")/unicode.mapping
    [ -f "$unicode" ] || unicode=/etc/nginx/unicode.mapping
    mkdir -p "$dir/modsec_tmp"
    sed -e 's/^SecRuleEngine .*/SecRuleEngine On/' \
        -e 's/^SecRequestBodyAccess .*/SecRequestBodyAccess On/' \
        -e "s|^SecAuditLog .*|SecAuditLog $dir/modsec_audit.log|" \
        -e "s|^SecTmpDir .*|SecTmpDir $dir/modsec_tmp/|" \
        -e "s|^SecDataDir .*|SecDataDir $dir/modsec_tmp/|" \
        -e "s|^SecUnicodeMapFile [^ ]*|SecUnicodeMapFile $unicode|" \
        -e 's/^SecStatusEngine .*/SecStatusEngine Off/' \
        "$recommended" >"$dir/modsecurity.conf"
    grep -q 'requestBodyProcessor=JSON' "$dir/modsecurity.conf" || cat >>"$dir/modsecurity.conf" <<'EOF'
SecRule REQUEST_HEADERS:Content-Type "^application/json" \
     "id:'200001',phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
EOF
    {
        echo "Include $dir/modsecurity.conf"
        echo "Include $DEBIAN_CRS_SETUP"
        [ -f /etc/modsecurity/crs/REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf ] &&
            echo "Include /etc/modsecurity/crs/REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf"
        echo "Include $DEBIAN_CRS_RULES/*.conf"
        [ -f /etc/modsecurity/crs/RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf ] &&
            echo "Include /etc/modsecurity/crs/RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf"
    } >"$dir/modsec-main.conf"
}

# ------------------------------------------------------------- upstream ----

UPSTREAM_PORT=$(free_port)
mkdir -p "$WORK/upstream"
fill_template "$BENCH_DIR/nginx/upstream.conf.in" "$WORK/upstream/nginx.conf" \
    "PREFIX=$WORK/upstream" "PORT=$UPSTREAM_PORT" "USER_DIRECTIVE=$NGINX_USER_LINE"
start_nginx upstream "$WORK/upstream/nginx.conf" || die "upstream nginx did not start"
UPSTREAM_PID=$STARTED_PID
wait_http "$UPSTREAM_PORT" "$UPSTREAM_PID" 20 || die "upstream nginx not answering (see $WORK/upstream)"
log "upstream nginx on 127.0.0.1:$UPSTREAM_PORT"

# ------------------------------------------------------------ identity ----

# palisade-identity and palisade-identity-redis verify an RS256 JWT on every
# request (the identity example's test issuer) and count a per-principal rate
# limit, in process or in Redis. The limit is set high enough never to refuse:
# what is measured is the cost of checking.
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
mint_bench_token() {
    local now header payload signature
    now=$(date +%s)
    header=$(printf '{"alg":"RS256","typ":"JWT","kid":"palisade-demo-test-1"}' | b64url)
    payload=$(printf '{"iss":"https://issuer.example","aud":"palisade-demo","sub":"bench","scope":"read","iat":%d,"nbf":%d,"exp":%d}' \
        "$now" "$now" $((now + 86400)) | b64url)
    signature=$(printf '%s.%s' "$header" "$payload" |
        openssl dgst -sha256 -sign "$REPO_DIR/examples/identity/keys/test-signing-key.pem" -binary | b64url)
    printf '%s.%s.%s' "$header" "$payload" "$signature"
}
BENCH_TOKEN=""
REDIS_PORT=""
# Every configuration gets the same requests, bearer token included, so that
# "identity on / off" compares verification with no verification of the same
# traffic (not a 600-byte header with none).
BENCH_TOKEN=$(mint_bench_token) || die "cannot mint the benchmark token with openssl"
if [[ " $CONFIGS " == *" palisade-identity-redis "* ]]; then
    REDIS_PORT=$(free_port)
    mkdir -p "$WORK/redis"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$WORK/redis" >"$WORK/redis/redis.log" 2>&1 &
    STARTED_PIDS+=("$!")
    for _ in $(seq 1 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null && break
        sleep 0.1
    done
    log "redis-server on 127.0.0.1:$REDIS_PORT"
fi

# identity_config FILE [REDIS_URL]
identity_config() {
    {
        cat <<EOF
[auth]
default_access = "anonymous"

[[auth.issuers]]
issuer = "https://issuer.example"
audiences = ["palisade-demo"]
algorithms = ["RS256"]
jwks_file = "$REPO_DIR/examples/identity/jwks.json"

[[auth.rules]]
path = "/api/**"
access = "authenticated"

[[rate_limits]]
name = "bench-per-principal"
path = "/api/**"
key = ["principal"]
rate = 100000000
per = "second"
EOF
        if [ -n "${2:-}" ]; then
            printf '\n[redis]\nurl = "%s"\nkey_prefix = "palisade:bench:"\non_error = "fail_closed"\n' "$2"
        fi
    } >"$1"
}

# ------------------------------------------------------ configurations ----

declare -A SKIPPED=()
MODSEC_SOURCE=$(find_modsec_recommended || true)
serve_supports --crs && serve_supports --paranoia ||
    SKIPPED[palisade-crs-pl1]="this palisade build has no --crs/--paranoia flags"
serve_supports --openapi ||
    SKIPPED[palisade-openapi]="this palisade build has no --openapi flag"
[ -f "$MODSEC_MODULE" ] || SKIPPED[nginx-modsec-crs]="no $MODSEC_MODULE"
find_modsec_recommended >/dev/null || SKIPPED[nginx-modsec-crs]="no ModSecurity recommended configuration found"

# start_proxy CONFIG -> sets PROXY_PID, PROXY_PORT; returns 1 with a reason in START_ERROR
# A command the gateway is started under (cachegrind, when counting instructions).
PROXY_WRAPPER=()
start_proxy() {
    local config=$1 dir=$WORK/$1
    mkdir -p "$dir"
    PROXY_PORT=$(free_port)
    START_ERROR=""
    case $config in
    palisade-*)
        local args=(serve --listen "127.0.0.1:$PROXY_PORT" --upstream "http://127.0.0.1:$UPSTREAM_PORT"
            --admin "127.0.0.1:$(free_port)" --events-db "$dir/events.db")
        case $config in
        palisade-monitor) args+=(--mode monitor) ;;
        palisade-block) args+=(--mode block) ;;
        palisade-crs-pl1) args+=(--mode block --crs "$CRS_DIR" --paranoia "$PARANOIA") ;;
        palisade-openapi) args+=(--mode block --openapi "$BENCH_DIR/openapi.yaml") ;;
        palisade-identity)
            identity_config "$dir/identity.toml"
            args+=(--mode block --config "$dir/identity.toml") ;;
        palisade-identity-redis)
            identity_config "$dir/identity.toml" "redis://127.0.0.1:$REDIS_PORT"
            args+=(--mode block --config "$dir/identity.toml") ;;
        palisade-idle) args+=(--mode block --config "$dir/limits.toml") ;;
        esac
        echo "${PROXY_WRAPPER[*]} $PALISADE_BIN ${args[*]}" >"$dir/command"
        "${PROXY_WRAPPER[@]}" "$PALISADE_BIN" "${args[@]}" >"$dir/palisade.log" 2>&1 &
        PROXY_PID=$!
        STARTED_PIDS+=("$PROXY_PID")
        ;;
    nginx-proxy | nginx-modsec-crs | nginx-idle)
        local load="" modsec=""
        if [ "$config" = nginx-modsec-crs ]; then
            prepare_modsec "$dir" || { START_ERROR="ModSecurity configuration"; return 1; }
            load="load_module $MODSEC_MODULE;"
            modsec="        modsecurity on;
        modsecurity_rules_file $dir/modsec-main.conf;"
        fi
        fill_template "$BENCH_DIR/nginx/proxy.conf.in" "$dir/nginx.conf" \
            "PREFIX=$dir" "PORT=$PROXY_PORT" "UPSTREAM_PORT=$UPSTREAM_PORT" \
            "WORKERS=$NGINX_WORKERS" "USER_DIRECTIVE=$NGINX_USER_LINE" \
            "LOAD_MODULE=$load" "MODSECURITY=$modsec"
        start_nginx "$config" "$dir/nginx.conf" || { START_ERROR="nginx -t failed (see $dir/start.log)"; return 1; }
        PROXY_PID=$STARTED_PID
        ;;
    esac
    if ! wait_http "$PROXY_PORT" "$PROXY_PID" 120; then
        START_ERROR="did not start (log in $dir)"
        tail -n 20 "$dir"/*.log >&2 2>/dev/null || true
        stop_pid "$PROXY_PID"
        return 1
    fi
}

# ------------------------------------------------------------ requests ----

mix_script() { echo "$BENCH_DIR/wrk/$1.lua"; }

# The Authorization header every request carries (see BENCH_TOKEN).
AUTH_ARGS=()
BENCH_AUTHORIZATION=""
export BENCH_AUTHORIZATION

# One request of the mix with curl: prints the status code.
probe_mix() {
    local mix=$1 port=$2 out=$3
    case $mix in
    get) curl -s -o "$out" -w '%{http_code}' --max-time 5 -H 'Accept: application/json' "${AUTH_ARGS[@]}" \
        "http://127.0.0.1:$port/api/products?q=desk&category=office&limit=20&page=2&sort=price" ;;
    post1k) curl -s -o "$out" -w '%{http_code}' --max-time 5 -H 'Content-Type: application/json' "${AUTH_ARGS[@]}" \
        --data-binary "@$BENCH_DIR/wrk/order-1k.json" "http://127.0.0.1:$port/api/orders" ;;
    post16k) curl -s -o "$out" -w '%{http_code}' --max-time 5 -H 'Content-Type: application/json' "${AUTH_ARGS[@]}" \
        --data-binary "@$BENCH_DIR/wrk/catalog-16k.json" "http://127.0.0.1:$port/api/products/import" ;;
    esac
}

# An obvious SQL injection and XSS: a WAF that lets these through is not measuring the same thing.
probe_attack() {
    local port=$1
    local sqli xss
    sqli=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${AUTH_ARGS[@]}" \
        "http://127.0.0.1:$port/api/products?q=1%27%20UNION%20SELECT%20password%20FROM%20users--")
    xss=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Content-Type: application/json' "${AUTH_ARGS[@]}" \
        --data-binary '{"note":"<script>alert(document.cookie)</script>"}' "http://127.0.0.1:$port/api/orders")
    echo "sqli $sqli, xss $xss"
}

# Latency as printed by wrk (e.g. 312.00us, 1.20ms, 2.01s) in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        printf "%.3f", n }'
}

# Keys: CONFIG/MIX/ROUND while measuring, CONFIG/MIX once aggregated over rounds.
declare -A RPS P50 P99 NON2XX ERRORS TOTAL RSS CPU_US NOTE ATTACK

run_wrk() {
    local key=$1 port=$2 out=$3 pid=${4:-} mix=${1#*/} ticks_before=""
    mix=${mix%%/*}
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$(mix_script "$mix")" "http://127.0.0.1:$port" >/dev/null 2>&1 || true
    # Let requests still queued from the warm-up drain before measuring.
    sleep 1
    [ -n "$pid" ] && ticks_before=$(cpu_ticks "$pid")
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 5s --latency -s "$(mix_script "$mix")" \
        "http://127.0.0.1:$port" >"$out" 2>&1 || true
    if [ -n "$pid" ]; then
        CPU_US[$key]=$(awk -v a="$(cpu_ticks "$pid")" -v b="$ticks_before" -v hz="$CLOCK_TICKS" \
            -v n="$(awk '/requests in/ { print $1 }' "$out")" 'BEGIN { if (n > 0) printf "%.0f", (a - b) / hz * 1e6 / n }')
    fi
    RPS[$key]=$(awk '/^Requests\/sec:/ { printf ($2 < 100 ? "%.1f" : "%.0f"), $2 }' "$out")
    P50[$key]=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
    P99[$key]=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
    NON2XX[$key]=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
    NON2XX[$key]=${NON2XX[$key]:-0}
    TOTAL[$key]=$(awk '/requests in/ { print $1 }' "$out")
    ERRORS[$key]=$(awk '/Socket errors:/ { s = 0; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) s += $i; print s }' "$out")
    ERRORS[$key]=${ERRORS[$key]:-0}
    [ -n "${RPS[$key]}" ] || { NOTE[$key]="wrk failed: $(head -c 200 "$out" | tr '\n' ' ')"; RPS[$key]=""; }
    if [ "${TOTAL[$key]:-}" = 0 ]; then
        # No response at all: wrk prints a zero latency distribution, which means nothing.
        P50[$key]="" P99[$key]=""
        NOTE[$key]="no request completed within $DURATION"
    fi
}

read -r -a CONFIG_LIST <<<"$CONFIGS"
read -r -a MIX_LIST <<<"$MIXES"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

for config in "${CONFIG_LIST[@]}"; do
    [ -n "${SKIPPED[$config]:-}" ] && log "$config skipped: ${SKIPPED[$config]}"
done

measure() {
    local config=$1 mix=$2 round=$3 key="$1/$2/$3" port pid status
    mkdir -p "$WORK/$config"
    BENCH_AUTHORIZATION="Bearer $BENCH_TOKEN"
    AUTH_ARGS=(-H "Authorization: $BENCH_AUTHORIZATION")
    if [ "$config" = direct ]; then
        port=$UPSTREAM_PORT
        pid=""
    else
        # A fresh proxy for every mix, so that the peak RSS belongs to that mix.
        if ! start_proxy "$config"; then
            NOTE[$key]="$START_ERROR"
            log "$config: $START_ERROR"
            return
        fi
        port=$PROXY_PORT
        pid=$PROXY_PID
    fi
    if [ -z "${ATTACK[$config]:-}" ]; then
        ATTACK[$config]=$(probe_attack "$port")
    fi
    status=$(probe_mix "$mix" "$port" "$WORK/$config/probe-$mix.out" || true)
    status=${status:-000}
    if [ "$status" != 200 ]; then
        NOTE[$key]="benign $mix request answered $status: $(head -c 160 "$WORK/$config/probe-$mix.out" | tr '\n' ' ')"
        log "$config/$mix: ${NOTE[$key]}"
    fi
    log "$config/$mix (round $round of $ROUNDS): wrk -t$THREADS -c$CONNECTIONS -d$DURATION (after $WARMUP warm-up)"
    run_wrk "$key" "$port" "$WORK/$config/wrk-$mix-$round.txt" "$pid"
    if [ -n "$pid" ]; then
        RSS[$key]=$(sum_status_kb VmHWM "$pid")
        kill -0 "$pid" 2>/dev/null || NOTE[$key]="${NOTE[$key]:+${NOTE[$key]}; }process died during the run"
        stop_pid "$pid"
    fi
    log "$config/$mix: ${RPS[$key]:-?} req/s, p50 ${P50[$key]:-?} ms, p99 ${P99[$key]:-?} ms, non-2xx ${NON2XX[$key]:-?}"
}

median() { # median of the arguments (the lower middle one for an even count)
    [ $# -gt 0 ] || return 0
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# Every round measures every (config, mix); the order of configurations rotates
# from round to round so that a slow drift of the machine does not favour one.
ACTIVE_CONFIGS=()
for config in "${CONFIG_LIST[@]}"; do
    [ -n "${SKIPPED[$config]:-}" ] || ACTIVE_CONFIGS+=("$config")
done
for round in $(seq 1 "$ROUNDS"); do
    count=${#ACTIVE_CONFIGS[@]}
    for i in $(seq 0 $((count - 1))); do
        config=${ACTIVE_CONFIGS[$(((i + round - 1) % count))]}
        for mix in "${MIX_LIST[@]}"; do
            measure "$config" "$mix" "$round"
        done
    done
done

for config in "${ACTIVE_CONFIGS[@]}"; do
    for mix in "${MIX_LIST[@]}"; do
        key="$config/$mix"
        rps=() p50=() p99=() cpu=() notes=""
        NON2XX[$key]=0 ERRORS[$key]=0 RSS[$key]=""
        for round in $(seq 1 "$ROUNDS"); do
            k="$key/$round"
            if [ -n "${NOTE[$k]:-}" ] && [[ "$notes" != *"${NOTE[$k]}"* ]]; then
                notes="${notes:+$notes; }${NOTE[$k]}"
            fi
            [ -n "${RPS[$k]:-}" ] || continue
            rps+=("${RPS[$k]}")
            [ -n "${CPU_US[$k]:-}" ] && cpu+=("${CPU_US[$k]}")
            [ -n "${P50[$k]}" ] && p50+=("${P50[$k]}") p99+=("${P99[$k]}")
            NON2XX[$key]=$((NON2XX[$key] + NON2XX[$k]))
            ERRORS[$key]=$((ERRORS[$key] + ERRORS[$k]))
            if [ -n "${RSS[$k]:-}" ] && { [ -z "${RSS[$key]}" ] || [ "${RSS[$k]}" -gt "${RSS[$key]}" ]; }; then
                RSS[$key]=${RSS[$k]}
            fi
        done
        NOTE[$key]=$notes
        if [ ${#rps[@]} -gt 0 ]; then
            RPS[$key]=$(median "${rps[@]}") P50[$key]=$(median "${p50[@]}") P99[$key]=$(median "${p99[@]}")
            CPU_US[$key]=$(median "${cpu[@]}")
        else
            unset "NON2XX[$key]" "ERRORS[$key]"
        fi
    done
done

# ---------------------------------------------------- on / off in pairs ----

# A feature's cost (identity, OpenAPI validation) is the throughput of one
# configuration of the same binary over another. Besides the rounds above, it
# is measured with both gateways running side by side: PAIRS short runs of
# each per mix (PAIR_DURATION apiece, which goes first alternating), so the
# two halves of a pair are seconds apart and the machine's drift and its
# neighbours' bursts weigh on both alike. The median of the per-pair ratios is
# the figure the bars use; the quartiles show the spread.
declare -A PAIR_MEDIAN PAIR_LOW PAIR_HIGH PAIR_COUNT PAIR_BAD
quick_run() { # quick_run PORT MIX -> "req/s non-2xx+errors"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$PAIR_DURATION" --timeout 5s -s "$(mix_script "$2")" \
        "http://127.0.0.1:$1" 2>&1 | awk '
            /^Requests\/sec:/ { rps = $2 }
            /Non-2xx or 3xx responses:/ { bad += $NF }
            /Socket errors:/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) bad += $i }
            END { printf "%s %d\n", (rps == "" ? 0 : rps), bad }'
}
quantile() { # quantile Q VALUES... -> the value at rank ceil(Q * n)
    local q=$1
    shift
    printf '%s\n' "$@" | sort -g | awk -v q="$q" '{ v[NR] = $1 } END { i = int(q * NR); if (i < q * NR) i++; if (i < 1) i = 1; print v[i] }'
}
measure_pairs() { # measure_pairs ON OFF
    local on=$1 off=$2 on_port on_pid off_port off_pid mix i first second on_rps off_rps bad ratios
    start_proxy "$off" || { log "pairs $on / $off: $off $START_ERROR"; return; }
    off_port=$PROXY_PORT off_pid=$PROXY_PID
    if ! start_proxy "$on"; then
        log "pairs $on / $off: $on $START_ERROR"
        stop_pid "$off_pid"
        return
    fi
    on_port=$PROXY_PORT on_pid=$PROXY_PID
    BENCH_AUTHORIZATION="Bearer $BENCH_TOKEN"
    for mix in "${MIX_LIST[@]}"; do
        log "pairs $on / $off, $mix: $PAIRS pairs of wrk -t$THREADS -c$CONNECTIONS -d$PAIR_DURATION"
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$(mix_script "$mix")" "http://127.0.0.1:$off_port" >/dev/null 2>&1 || true
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$(mix_script "$mix")" "http://127.0.0.1:$on_port" >/dev/null 2>&1 || true
        ratios=() bad=0
        for i in $(seq 1 "$PAIRS"); do
            if [ $((i % 2)) = 1 ]; then
                read -r off_rps first < <(quick_run "$off_port" "$mix")
                read -r on_rps second < <(quick_run "$on_port" "$mix")
            else
                read -r on_rps first < <(quick_run "$on_port" "$mix")
                read -r off_rps second < <(quick_run "$off_port" "$mix")
            fi
            bad=$((bad + first + second))
            awk -v a="$on_rps" -v b="$off_rps" 'BEGIN { exit !(a > 0 && b > 0) }' &&
                ratios+=("$(awk -v a="$on_rps" -v b="$off_rps" 'BEGIN { printf "%.4f", a / b }')")
        done
        PAIR_COUNT[$on/$mix]=${#ratios[@]}
        PAIR_BAD[$on/$mix]=$bad
        if [ ${#ratios[@]} -gt 0 ]; then
            PAIR_MEDIAN[$on/$mix]=$(printf '%.3f' "$(quantile 0.5 "${ratios[@]}")")
            PAIR_LOW[$on/$mix]=$(printf '%.3f' "$(quantile 0.25 "${ratios[@]}")")
            PAIR_HIGH[$on/$mix]=$(printf '%.3f' "$(quantile 0.75 "${ratios[@]}")")
            log "pairs $on / $off, $mix: median ${PAIR_MEDIAN[$on/$mix]} (quartiles ${PAIR_LOW[$on/$mix]}–${PAIR_HIGH[$on/$mix]}), $bad non-2xx or errors"
        fi
    done
    stop_pid "$on_pid"
    stop_pid "$off_pid"
}
# pair_figure ON MIX -> "median (q1–q3, n pairs)" or "n/a"
pair_figure() {
    local key=$1/$2
    [ -n "${PAIR_MEDIAN[$key]:-}" ] || { echo "n/a"; return; }
    echo "${PAIR_MEDIAN[$key]} (${PAIR_LOW[$key]}–${PAIR_HIGH[$key]}, ${PAIR_COUNT[$key]} pairs)"
}
if [ "$PAIRS" -gt 0 ] && [[ " ${ACTIVE_CONFIGS[*]} " == *" palisade-block "* ]]; then
    for on in palisade-identity palisade-identity-redis palisade-openapi; do
        [[ " ${ACTIVE_CONFIGS[*]} " == *" $on "* ]] && measure_pairs "$on" palisade-block
    done
fi

# ------------------------------------------------- idle connection memory ----

declare -A IDLE_OPEN IDLE_ALIVE IDLE_BEFORE IDLE_AFTER IDLE_NOTE
IDLE_CONFIGS=(palisade-idle nginx-idle)

measure_idle() {
    local config=$1 dir=$WORK/$1
    mkdir -p "$dir"
    if [ "$config" = palisade-idle ]; then
        cat >"$dir/limits.toml" <<'EOF'
[limits]
max_connections_per_ip = 20000
max_connections = 20000
header_read_timeout = "120s"
idle_timeout = "300s"
EOF
        if ! "$PALISADE_BIN" check-config "$dir/limits.toml" >"$dir/check-config.txt" 2>&1; then
            IDLE_NOTE[$config]="check-config refused the limits file: $(head -c 200 "$dir/check-config.txt" | tr '\n' ' ')"
            return
        fi
    fi
    start_proxy "$config" || { IDLE_NOTE[$config]="$START_ERROR"; return; }
    probe_mix get "$PROXY_PORT" /dev/null >/dev/null || true
    sleep 1
    IDLE_BEFORE[$config]=$(sum_status_kb VmRSS "$PROXY_PID")
    python3 "$BENCH_DIR/idle_conns.py" --port "$PROXY_PORT" --count "$IDLE_CONNS" --hold 900 >"$dir/idle.out" 2>"$dir/idle.err" &
    local client=$!
    STARTED_PIDS+=("$client")
    local deadline=$((SECONDS + 300))
    while [ $SECONDS -lt $deadline ] && ! grep -qs '^ready' "$dir/idle.out" && kill -0 "$client" 2>/dev/null; do
        sleep 0.5
    done
    if ! grep -qs '^ready' "$dir/idle.out"; then
        IDLE_NOTE[$config]="idle client did not finish opening connections: $(tail -c 200 "$dir/idle.err" | tr '\n' ' ')"
        stop_pid "$client"
        stop_pid "$PROXY_PID"
        return
    fi
    IDLE_OPEN[$config]=$(awk '/^ready/ { print $2 }' "$dir/idle.out")
    sleep "$IDLE_HOLD"
    IDLE_AFTER[$config]=$(sum_status_kb VmRSS "$PROXY_PID")
    kill -TERM "$client" 2>/dev/null || true
    wait "$client" 2>/dev/null || true
    IDLE_ALIVE[$config]=$(awk '/^alive/ { print $2 }' "$dir/idle.out")
    stop_pid "$PROXY_PID"
}

if [ "$IDLE_CONNS" -gt 0 ]; then
    for config in "${IDLE_CONFIGS[@]}"; do
        log "$config: opening $IDLE_CONNS idle keep-alive connections"
        measure_idle "$config"
        log "$config: open ${IDLE_OPEN[$config]:-?}, RSS ${IDLE_BEFORE[$config]:-?} -> ${IDLE_AFTER[$config]:-?} kB ${IDLE_NOTE[$config]:-}"
    done
fi

# ------------------------------------------------ instructions per request ----

# User-space instructions per request, counted by cachegrind: unlike req/s
# and CPU time, this count does not move with the machine's load. A figure is
# the difference between two runs of the gateway under cachegrind, one sent
# INSTR_WARM requests and one INSTR_WARM + INSTRUCTIONS, divided by
# INSTRUCTIONS, so that start-up, loading and shutdown cancel out. Kernel
# work (the loopback TCP both proxies pay) is not counted.
declare -A INSTR
INSTR_WARM=50

# send_mix MIX PORT COUNT: COUNT requests of the mix, one after another on
# one keep-alive connection.
send_mix() {
    local mix=$1 port=$2 count=$3 list path body=()
    case $mix in
    get) path="/api/products?q=desk&category=office&limit=20&page=2&sort=price" ;;
    post1k)
        path="/api/orders"
        body=(-H 'Content-Type: application/json' --data-binary "@$BENCH_DIR/wrk/order-1k.json") ;;
    post16k)
        path="/api/products/import"
        body=(-H 'Content-Type: application/json' --data-binary "@$BENCH_DIR/wrk/catalog-16k.json") ;;
    esac
    list=$(mktemp)
    for _ in $(seq 1 "$count"); do
        printf 'url = "http://127.0.0.1:%s%s"\noutput = "/dev/null"\n' "$port" "$path"
    done >"$list"
    curl -s --max-time 900 -H 'Accept: application/json' "${AUTH_ARGS[@]}" "${body[@]}" -K "$list" || true
    rm -f "$list"
}

# count_instructions CONFIG MIX REQUESTS: prints the gateway's instruction
# count for a run that served REQUESTS requests of the mix.
count_instructions() {
    local config=$1 mix=$2 requests=$3 out
    out="$WORK/$config/cachegrind-$mix-$requests.out"
    mkdir -p "$WORK/$config"
    PROXY_WRAPPER=(valgrind --tool=cachegrind --cache-sim=no "--cachegrind-out-file=$out")
    if ! start_proxy "$config"; then
        PROXY_WRAPPER=()
        return 1
    fi
    PROXY_WRAPPER=()
    send_mix "$mix" "$PROXY_PORT" "$requests"
    # SIGINT lets the gateway exit normally, which is when cachegrind writes.
    kill -INT "$PROXY_PID" 2>/dev/null || true
    for _ in $(seq 1 600); do
        kill -0 "$PROXY_PID" 2>/dev/null || break
        sleep 0.1
    done
    stop_pid "$PROXY_PID"
    awk '/^summary:/ { print $2 }' "$out" 2>/dev/null
}

if [ "$INSTRUCTIONS" -gt 0 ]; then
    BENCH_AUTHORIZATION="Bearer $BENCH_TOKEN"
    AUTH_ARGS=(-H "Authorization: $BENCH_AUTHORIZATION")
    for config in "${ACTIVE_CONFIGS[@]}"; do
        case $config in palisade-*) ;; *) continue ;; esac
        for mix in "${MIX_LIST[@]}"; do
            log "$config/$mix: counting instructions (cachegrind, $INSTR_WARM then $((INSTR_WARM + INSTRUCTIONS)) requests)"
            base=$(count_instructions "$config" "$mix" "$INSTR_WARM") || continue
            more=$(count_instructions "$config" "$mix" $((INSTR_WARM + INSTRUCTIONS))) || continue
            if [ -n "$base" ] && [ -n "$more" ]; then
                INSTR[$config/$mix]=$(((more - base) / INSTRUCTIONS))
                log "$config/$mix: ${INSTR[$config/$mix]} instructions per request"
            fi
        done
    done
fi
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# --------------------------------------------------------------- report ----

ratio() { # ratio A B -> A/B with two decimals, or "n/a"
    awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.3g", a / b }'
}
# Median over rounds of the ratio within each round: ON/MIX over OFF/MIX,
# measured minutes apart at most, so a drift of the machine over the whole
# run weighs on it less than on the ratio of medians.
paired_ratio() { # paired_ratio ON OFF MIX
    local round ratios=()
    for round in $(seq 1 "$ROUNDS"); do
        local on=${RPS[$1/$3/$round]:-} off=${RPS[$2/$3/$round]:-}
        [ -n "$on" ] && [ -n "$off" ] && ratios+=("$(ratio "$on" "$off")")
    done
    [ ${#ratios[@]} -gt 0 ] && median "${ratios[@]}" || echo "n/a"
}
# feature_figure KEY ROUNDS_RATIO -> FIGURE, FIGURE_BASIS: the side-by-side
# median when pairs were measured, else the ratio of the rounds' medians.
feature_figure() {
    if [ -n "${PAIR_MEDIAN[$1]:-}" ]; then
        FIGURE=${PAIR_MEDIAN[$1]}
        FIGURE_BASIS="median of ${PAIR_COUNT[$1]} side-by-side pairs, quartiles ${PAIR_LOW[$1]}–${PAIR_HIGH[$1]}; ratio of the rounds' medians $2"
    else
        FIGURE=$2
        FIGURE_BASIS="ratio of the rounds' medians"
    fi
}
at_least() { awk -v r="$1" -v m="$2" 'BEGIN { exit !(r != "n/a" && r + 0 >= m) }'; }
at_most() { awk -v r="$1" -v m="$2" 'BEGIN { exit !(r != "n/a" && r + 0 <= m) }'; }
mib() { [ -n "${1:-}" ] && awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }' || echo "—"; }
ran() { [ -n "${RPS[$1]:-}" ]; }

report() {
    local git_rev
    git_rev=$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
    [ -n "$(git -C "$REPO_DIR" status --porcelain 2>/dev/null | head -1)" ] && git_rev="$git_rev (with uncommitted changes)"
    echo "# Palisade side-by-side benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    local settings="DURATION=$DURATION CONNECTIONS=$CONNECTIONS"
    [ "$ROUNDS" = 1 ] || settings="$settings ROUNDS=$ROUNDS"
    [ "$CONFIGS" = "$DEFAULT_CONFIGS" ] || settings="$settings CONFIGS=\"$CONFIGS\""
    [ "$MIXES" = "$DEFAULT_MIXES" ] || settings="$settings MIXES=\"$MIXES\""
    [ "$IDLE_CONNS" = 10000 ] || settings="$settings IDLE_CONNS=$IDLE_CONNS"
    [ "$INSTRUCTIONS" = 0 ] || settings="$settings INSTRUCTIONS=$INSTRUCTIONS"
    [ "$PAIRS" = 15 ] || settings="$settings PAIRS=$PAIRS"
    [ "$PAIR_DURATION" = 2s ] || settings="$settings PAIR_DURATION=$PAIR_DURATION"
    echo "- command: \`$settings bench/compare.sh\` (wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency, after a $WARMUP warm-up that is not recorded; medians of $ROUNDS round(s) with the order of configurations rotated)"
    echo "- machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r); load average before $LOAD_BEFORE, after $LOAD_AFTER"
    echo "- palisade: $("$PALISADE_BIN" --version 2>/dev/null | head -1) at $git_rev, $BUILD_LABEL"
    echo "- nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), $NGINX_WORKERS worker processes for the proxies, 1 for the upstream; wrk $(wrk -v 2>&1 | awk 'NR == 1 { print $2 }'); libmodsecurity $(dpkg-query -W -f='${Version}' libmodsecurity3 2>/dev/null || echo '?')"
    if awk -v l="${LOAD_BEFORE%% *}" -v c="$(nproc)" 'BEGIN { exit !(l > c / 2) }'; then
        echo "- **warning**: the machine was busy when the run started (1-minute load average ${LOAD_BEFORE%% *} on $(nproc) cores): absolute figures and p99 above all are unreliable; compare ratios, or rerun on an idle machine"
    fi
    echo "- upstream: nginx returning 200 \`{\"ok\":true}\` on 127.0.0.1, keep-alive; every proxy reuses upstream connections"
    echo "- CRS: nginx-modsec-crs runs Debian's CRS 3.3.4 at PL1 in anomaly-scoring mode (inbound threshold 5, outbound 4) with ModSecurity's recommended configuration (${MODSEC_SOURCE:-n/a}), SecRuleEngine On; palisade-crs-pl1 runs $CRS_LABEL at PL$PARANOIA"
    echo
    echo "## Throughput and latency"
    echo
    echo "| config | mix | req/s | p50 ms | p99 ms | non-2xx | socket errors | proxy CPU µs/req | peak RSS MiB | note |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    local config mix key
    for config in "${CONFIG_LIST[@]}"; do
        if [ -n "${SKIPPED[$config]:-}" ]; then
            echo "| $config | all | — | — | — | — | — | — | — | skipped: ${SKIPPED[$config]} |"
            continue
        fi
        for mix in "${MIX_LIST[@]}"; do
            key="$config/$mix"
            echo "| $config | $mix | ${RPS[$key]:-—} | ${P50[$key]:-—} | ${P99[$key]:-—} | ${NON2XX[$key]:-—} | ${ERRORS[$key]:-—} | ${CPU_US[$key]:-—} | $(mib "${RSS[$key]:-}") | ${NOTE[$key]:-} |"
        done
    done
    echo
    echo "Peak RSS is VmHWM of the proxy process (for nginx: summed over master and workers, which counts shared pages more than once); \`direct\` has no proxy. Proxy CPU µs/req is the user + system CPU time the proxy process (nginx: all its processes) used during the recorded run divided by the requests completed: it depends much less on what else runs on the machine than req/s does. non-2xx is wrk's count of non-2xx/3xx answers: every mix is benign, so anything but 0 is a false positive or an error."
    echo
    echo "Attack probe (one SQL injection in the query, one XSS in a JSON body; expect 403 from a blocking WAF):"
    echo
    for config in "${CONFIG_LIST[@]}"; do
        [ -n "${ATTACK[$config]:-}" ] && echo "- $config: ${ATTACK[$config]}"
    done
    echo
    echo "## Ratios"
    echo
    echo "| mix | monitor / nginx req/s | block / nginx req/s | block p99 / nginx p99 | block / nginx CPU per req | crs-pl1 / nginx req/s | crs-pl1 / nginx-modsec req/s | nginx-modsec / nginx req/s | openapi / nginx req/s |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for mix in "${MIX_LIST[@]}"; do
        local n="nginx-proxy/$mix"
        echo "| $mix | $(ratio "${RPS[palisade-monitor/$mix]:-}" "${RPS[$n]:-}") | $(ratio "${RPS[palisade-block/$mix]:-}" "${RPS[$n]:-}") | $(ratio "${P99[palisade-block/$mix]:-}" "${P99[$n]:-}") | $(ratio "${CPU_US[palisade-block/$mix]:-}" "${CPU_US[$n]:-}") | $(ratio "${RPS[palisade-crs-pl1/$mix]:-}" "${RPS[$n]:-}") | $(ratio "${RPS[palisade-crs-pl1/$mix]:-}" "${RPS[nginx-modsec-crs/$mix]:-}") | $(ratio "${RPS[nginx-modsec-crs/$mix]:-}" "${RPS[$n]:-}") | $(ratio "${RPS[palisade-openapi/$mix]:-}" "${RPS[$n]:-}") |"
    done
    echo
    echo "Identity on / off (same binary, block mode; on = RS256 JWT verified on every request + a per-principal GCRA limit that never refuses):"
    echo
    echo "| mix | identity local / block req/s | identity Redis / block req/s | the same, median of per-round ratios (local, Redis) | side by side, median of pair ratios (quartiles): local | Redis |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: |"
    for mix in "${MIX_LIST[@]}"; do
        echo "| $mix | $(ratio "${RPS[palisade-identity/$mix]:-}" "${RPS[palisade-block/$mix]:-}") | $(ratio "${RPS[palisade-identity-redis/$mix]:-}" "${RPS[palisade-block/$mix]:-}") | $(paired_ratio palisade-identity palisade-block "$mix"), $(paired_ratio palisade-identity-redis palisade-block "$mix") | $(pair_figure palisade-identity "$mix") | $(pair_figure palisade-identity-redis "$mix") |"
    done
    echo
    echo "Side by side: both gateways run at once and take turns, PAIRS=$PAIRS runs of $PAIR_DURATION each per mix (which goes first alternating); each pair's ratio is measured seconds apart, so what else the machine runs weighs on both alike. The bars use that median when it was measured."
    echo
    echo "OpenAPI validation on / off (same binary, block mode; on = bench/openapi.yaml enforced on every parameter and body property):"
    echo
    echo "| mix | openapi / block req/s | the same, median of per-round ratios | side by side, median of pair ratios (quartiles) | CPU per request, block / openapi |"
    echo "| --- | ---: | ---: | ---: | ---: |"
    for mix in "${MIX_LIST[@]}"; do
        echo "| $mix | $(ratio "${RPS[palisade-openapi/$mix]:-}" "${RPS[palisade-block/$mix]:-}") | $(paired_ratio palisade-openapi palisade-block "$mix") | $(pair_figure palisade-openapi "$mix") | ${CPU_US[palisade-block/$mix]:-—} / ${CPU_US[palisade-openapi/$mix]:-—} µs |"
    done
    if [ "$INSTRUCTIONS" -gt 0 ]; then
        echo
        echo "User-space instructions per request (cachegrind; the difference between $INSTR_WARM and $((INSTR_WARM + INSTRUCTIONS)) requests on one keep-alive connection, divided by $INSTRUCTIONS; kernel work not counted):"
        echo
        echo "| configuration | $(printf '%s | ' "${MIX_LIST[@]}")"
        echo "| --- | $(printf -- '---: | %.0s' "${MIX_LIST[@]}")"
        for config in "${CONFIG_LIST[@]}"; do
            case $config in palisade-*) ;; *) continue ;; esac
            local row="| $config |"
            for mix in "${MIX_LIST[@]}"; do row="$row ${INSTR[$config/$mix]:-—} |"; done
            echo "$row"
        done
    fi
    echo
    echo "## Bars"
    echo
    local palisade_config bar r p
    for palisade_config in palisade-block palisade-monitor; do
        for mix in "${MIX_LIST[@]}"; do
            key="$palisade_config/$mix"
            ran "$key" && ran "nginx-proxy/$mix" || continue
            r=$(ratio "${RPS[$key]}" "${RPS[nginx-proxy/$mix]}")
            p=$(ratio "${P99[$key]}" "${P99[nginx-proxy/$mix]}")
            bar=PASS
            at_least "$r" 0.9 && at_most "$p" 1.5 && [ "${NON2XX[$key]}" = 0 ] && [ "${ERRORS[$key]}" = 0 ] || bar=FAIL
            echo "- $bar issue 2, $palisade_config $mix: throughput ${r}× nginx-proxy (bar ≥ 0.9×), p99 ${p}× (bar ≤ 1.5×), ${NON2XX[$key]} non-2xx, ${ERRORS[$key]} socket errors (bar 0)"
        done
    done
    for mix in "${MIX_LIST[@]}"; do
        key="palisade-crs-pl1/$mix"
        ran "$key" && ran "nginx-proxy/$mix" || continue
        local minimum=0.3
        [ "$mix" = post16k ] && minimum=0.1
        r=$(ratio "${RPS[$key]}" "${RPS[nginx-proxy/$mix]}")
        bar=PASS
        at_least "$r" "$minimum" && [ "${NON2XX[$key]}" = 0 ] || bar=FAIL
        echo "- $bar issue 5, palisade-crs-pl1 $mix: throughput ${r}× nginx-proxy (bar ≥ ${minimum}×), ${NON2XX[$key]} non-2xx (bar 0); nginx-modsec-crs reaches $(ratio "${RPS[nginx-modsec-crs/$mix]:-}" "${RPS[nginx-proxy/$mix]}")×"
    done
    if [ -n "${SKIPPED[palisade-crs-pl1]:-}" ]; then
        echo "- issue 5 CRS bars not measured: ${SKIPPED[palisade-crs-pl1]}"
    fi
    # OpenAPI: validation on, against the same pipeline without it.
    for mix in "${MIX_LIST[@]}"; do
        key="palisade-openapi/$mix"
        ran "$key" && ran "palisade-block/$mix" || continue
        r=$(ratio "${RPS[$key]}" "${RPS[palisade-block/$mix]}")
        feature_figure "$key" "$r"
        bar=PASS
        at_least "$FIGURE" 0.9 && [ "${NON2XX[$key]}" = 0 ] && [ "${ERRORS[$key]}" = 0 ] && [ "${PAIR_BAD[$key]:-0}" = 0 ] || bar=FAIL
        echo "- $bar issue 4, palisade-openapi $mix: throughput ${FIGURE}× palisade-block (bar ≥ 0.9×; $FIGURE_BASIS), CPU per request ${CPU_US[$key]:-?} vs ${CPU_US[palisade-block/$mix]:-?} µs, $((NON2XX[$key] + ${PAIR_BAD[$key]:-0})) non-2xx, ${ERRORS[$key]} socket errors (bar 0)"
    done
    # Identity: JWT verification + rate limiting on, against the same pipeline without them.
    local identity_config minimum_identity
    for identity_config in palisade-identity palisade-identity-redis; do
        minimum_identity=0.9
        [ "$identity_config" = palisade-identity-redis ] && minimum_identity=0.8
        for mix in "${MIX_LIST[@]}"; do
            key="$identity_config/$mix"
            ran "$key" && ran "palisade-block/$mix" || continue
            r=$(ratio "${RPS[$key]}" "${RPS[palisade-block/$mix]}")
            feature_figure "$key" "$r"
            bar=PASS
            at_least "$FIGURE" "$minimum_identity" && [ "${NON2XX[$key]}" = 0 ] && [ "${ERRORS[$key]}" = 0 ] && [ "${PAIR_BAD[$key]:-0}" = 0 ] || bar=FAIL
            echo "- $bar issue 6, $identity_config $mix: throughput ${FIGURE}× palisade-block (bar ≥ ${minimum_identity}×; $FIGURE_BASIS), CPU per request ${CPU_US[$key]:-?} vs ${CPU_US[palisade-block/$mix]:-?} µs, $((NON2XX[$key] + ${PAIR_BAD[$key]:-0})) non-2xx, ${ERRORS[$key]} socket errors (bar 0)"
        done
    done
    echo
    echo "## Idle keep-alive connections"
    echo
    echo "$IDLE_CONNS connections (bench/idle_conns.py), each sent one GET and then idled for ${IDLE_HOLD}s; RSS is VmRSS (nginx: master + workers)."
    echo
    echo "| proxy | connections open | still open after idling | RSS before MiB | RSS after MiB | bytes per connection | note |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | --- |"
    local label per
    for config in "${IDLE_CONFIGS[@]}"; do
        label=${config/-idle/}
        [ "$label" = nginx ] && label=nginx-proxy
        per="—"
        if [ -n "${IDLE_OPEN[$config]:-}" ] && [ "${IDLE_OPEN[$config]}" -gt 0 ]; then
            per=$(awk -v a="${IDLE_AFTER[$config]}" -v b="${IDLE_BEFORE[$config]}" -v n="${IDLE_OPEN[$config]}" \
                'BEGIN { printf "%.0f", (a - b) * 1024 / n }')
        fi
        echo "| $label | ${IDLE_OPEN[$config]:-—} | ${IDLE_ALIVE[$config]:-—} | $(mib "${IDLE_BEFORE[$config]:-}") | $(mib "${IDLE_AFTER[$config]:-}") | $per | ${IDLE_NOTE[$config]:-} |"
    done
    [ "$IDLE_CONNS" -gt 0 ] || echo "(skipped: IDLE_CONNS=0)"
}

mkdir -p "$RESULTS_DIR"
RESULT_FILE=$RESULTS_DIR/$(date -u +%Y-%m-%d-%H%M).md
report | tee "$RESULT_FILE"
log "report written to $RESULT_FILE"
