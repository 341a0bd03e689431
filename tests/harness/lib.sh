# shellcheck shell=bash
# NAME
#   tests/harness/lib.sh - the integration-test harness: temp dir, daemons by
#   PID, free ports, checks, private /etc/hosts
#
# SYNOPSIS
#   . "$top_srcdir/tests/harness/lib.sh"     # also sources kdc.sh, kdc-ldap.sh, ca.sh
#   harness_init keytab_accept               # $T, cleanup trap, private KRB5_* env
#   kdc_start
#   kdc_kinit alice "$ALICE_PW"
#   check "alice gets a TGT" klist
#   harness_finish                           # "N passed, N failed", exit 0 iff none failed
#
# DESCRIPTION
#   harness_init NAME
#       Creates the private temp dir $T (/tmp/mailsso-NAME.XXXXXX, mode 755) with
#       $T/pids, $T/logs, $T/rcache (mode 1777: daemons that drop privileges
#       write their replay cache there). Installs an EXIT trap that stops every
#       process started with harness_spawn (by its saved PID only), releases
#       the ports picked by pick_port and removes $T unless KEEP=1. Exports
#       KRB5_CONFIG=$T/krb5.conf, KRB5_KDC_PROFILE=$T/kdc.conf,
#       KRB5CCNAME=FILE:$T/ccache, KRB5RCACHEDIR=$T/rcache, and points
#       KRB5_KTNAME / KRB5_CLIENT_KTNAME at non-existent files in $T so that
#       nothing ever reads the system keytab. Sets BUILD=$top_builddir and
#       SRC=$top_srcdir. Do not set your own EXIT trap: use harness_atexit CMD.
#   pick_port / harness_pick_ports VAR...
#       Prints a loopback port that no TCP or UDP socket uses (read from
#       /proc/net: krb5kdc binds with SO_REUSEPORT, a bind test proves nothing)
#       and reserves it for this test (/tmp/mailsso-ports-UID/PORT) until exit,
#       so parallel tests never pick the same port. harness_pick_ports VAR...
#       sets and exports each VAR to a fresh port in the calling shell.
#   wait_port PORT [SECS]
#       Waits (default 10 s) until 127.0.0.1:PORT accepts TCP connections.
#   harness_spawn NAME CMD [ARGS...]
#       Starts CMD in the background (stdout+stderr -> $T/logs/NAME.log, stdin
#       /dev/null) and saves its PID in $T/pids/NAME. CMD must be a program
#       (or "with_hosts PROGRAM ..."), not a shell function, so that the saved
#       PID is the daemon itself. Keep it in the foreground (-n, -nofork, -d).
#   harness_stop NAME
#       SIGTERM, up to 5 s (HARNESS_STOP_TIMEOUT), then SIGKILL, to the saved
#       PID only. Zombies count as dead. harness_alive NAME tells whether it still runs.
#   require_cmd CMD...
#       Exit 77 (skip, reason printed) if a command is missing; under CI=true
#       a missing command is a failure (exit 99).
#   check "what it proves" CMD...        PASS if CMD exits 0
#   check_fails "what it proves" CMD...  PASS if CMD exits 1..125 (a crash by
#                                        signal or 126/127 "not runnable" is FAIL)
#   check_grep "..." REGEX FILE          PASS if the ERE matches a line of FILE
#   check_no_grep "..." REGEX FILE       PASS if it matches no line (FILE must exist)
#   check_eq "..." EXPECTED ACTUAL
#       Each prints "PASS: ..." or "FAIL: ... (expected X, got Y)" plus the
#       command's output. The output of the last check command is kept in
#       $CHECK_OUT (a file).
#   harness_finish
#       Prints "N passed, N failed"; exits 0 iff none failed and at least one
#       check ran. On failure the tails of the daemon logs are printed.
#   harness_fatal MSG
#       Setup error: prints MSG and exits 99 (automake: ERROR). The start-up
#       helpers (kdc_start, kdc_addprinc, ca_init, ...) call it themselves.
#   with_hosts CMD...
#       Runs CMD with a private /etc/hosts in which mail, mx1, mx2, gw, other,
#       proxy .example.test are 127.0.0.1 (plus names added with hosts_add
#       NAME [IP]). As root: unshare -m and a bind mount (the real /etc/hosts
#       is never touched); otherwise, or with HOSTS_VIA=nss, libnss_wrapper.
#
# ENVIRONMENT
#   KEEP=1          keep $T (its path is printed at exit)
#   CI=true         missing tools are failures, not skips
#   HOSTS_VIA=nss   force libnss-wrapper in with_hosts
#   HARNESS_QUIET=1 do not print the daemon log tails on failure

if [ -n "${MAILSSO_HARNESS_LIB:-}" ]; then return 0; fi
MAILSSO_HARNESS_LIB=1

HARNESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${top_srcdir:=$(cd "$HARNESS_DIR/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
# shellcheck disable=SC2034 # SRC, BUILD, HARNESS_LAST_PID are for the tests
SRC=$top_srcdir
BUILD=$top_builddir
export SRC BUILD
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin:/sbin ;; esac
export PATH

HARNESS_PASS=0
HARNESS_FAIL=0
HARNESS_NAME=
HARNESS_ATEXIT=()
T=
CHECK_OUT=/dev/null

harness_log() { printf '# %s\n' "$*" >&2; }

harness_fatal() {
    printf 'ERROR: %s\n' "$*" >&2
    exit 99
}

# ---------------------------------------------------------------- temp dir, cleanup
harness_init() {
    local name=${1:?usage: harness_init NAME}
    [ -z "$HARNESS_NAME" ] || harness_fatal "harness_init called twice ($HARNESS_NAME, $name)"
    HARNESS_NAME=$name
    T=$(mktemp -d "/tmp/mailsso-${name//[^A-Za-z0-9_.-]/_}.XXXXXX") ||
        harness_fatal "cannot create a temp dir under /tmp"
    chmod 755 "$T"
    mkdir -p "$T/pids" "$T/logs" "$T/rcache"
    chmod 1777 "$T/rcache"
    : >"$T/pids/.order"
    : >"$T/ports"
    export T
    export KRB5_CONFIG=$T/krb5.conf
    export KRB5_KDC_PROFILE=$T/kdc.conf
    export KRB5CCNAME=FILE:$T/ccache
    export KRB5RCACHEDIR=$T/rcache
    export KRB5_KTNAME=FILE:$T/no-default.keytab
    export KRB5_CLIENT_KTNAME=FILE:$T/no-default-client.keytab
    export LDAPNOINIT=1
    # A realm-less client profile until kdc_start writes the real one, so that
    # nothing falls back to /etc/krb5.conf.
    printf '[libdefaults]\n    dns_lookup_kdc = false\n    dns_lookup_realm = false\n' >"$KRB5_CONFIG"
    trap harness_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
}

harness_atexit() { HARNESS_ATEXIT+=("$*"); }

harness_dump_logs() {
    [ "${HARNESS_QUIET:-0}" = 1 ] && return 0
    [ -n "$T" ] && [ -d "$T" ] || return 0
    local f
    for f in "$T"/logs/*.log; do
        [ -s "$f" ] || continue
        printf '# ---- last lines of %s\n' "$f" >&2
        tail -n 8 "$f" | cut -c1-300 | sed 's/^/#   /' >&2
    done
}

harness_cleanup() {
    local rc=$? i name port
    trap - EXIT INT TERM HUP
    set +e
    for ((i = ${#HARNESS_ATEXIT[@]} - 1; i >= 0; i--)); do
        eval "${HARNESS_ATEXIT[i]}"
    done
    if [ -n "$T" ] && [ -d "$T" ]; then
        # stop in reverse start order
        if [ -s "$T/pids/.order" ]; then
            for name in $(tac "$T/pids/.order"); do
                [ -f "$T/pids/$name" ] && harness_stop "$name"
            done
        fi
        [ "$rc" = 0 ] || [ "$rc" = 77 ] || harness_dump_logs
        if [ -s "$T/ports" ]; then
            while read -r port; do
                rm -rf "$(harness_port_dir)/${port:?}"
            done <"$T/ports"
        fi
        if [ "${KEEP:-0}" = 1 ]; then
            harness_log "KEEP=1: kept $T"
        else
            rm -rf "$T"
        fi
    fi
    exit "$rc"
}

# ---------------------------------------------------------------- processes
# proc_state PID -> the state letter from /proc/PID/stat, empty if gone.
# (The comm field may hold spaces and ')': cut after the last ')'.)
proc_state() {
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    s=${s##*) }
    printf '%s' "${s%% *}"
}

proc_starttime() {
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    s=${s##*) }
    # after "comm)", field 3 (state) is word 1; starttime is field 22 -> word 20
    # shellcheck disable=SC2086 # split the numeric fields on purpose
    set -- $s
    printf '%s' "${20:-}"
}

# pid_alive PID [STARTTIME] -> 0 if PID runs (not a zombie) and, when given,
# was started at STARTTIME (guards against PID reuse).
pid_alive() {
    local st
    st=$(proc_state "$1")
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ] || return 1
    [ -z "${2:-}" ] || [ "$(proc_starttime "$1")" = "$2" ]
}

harness_pid() { cat "$T/pids/$1" 2>/dev/null; }

harness_alive() {
    local pid
    pid=$(harness_pid "$1") || return 1
    [ -n "$pid" ] && pid_alive "$pid" "$(cat "$T/pids/$1.start" 2>/dev/null)"
}

harness_spawn() {
    local name=${1:?usage: harness_spawn NAME CMD...} pid
    shift
    [ $# -gt 0 ] || harness_fatal "harness_spawn $name: no command"
    [ -n "$T" ] || harness_fatal "harness_spawn before harness_init"
    if harness_alive "$name"; then
        harness_fatal "harness_spawn: '$name' already runs (pid $(harness_pid "$name"))"
    fi
    if [ "$1" = with_hosts ]; then
        shift
        HARNESS_EXEC=1 with_hosts "$@" >>"$T/logs/$name.log" 2>&1 </dev/null &
    else
        "$@" >>"$T/logs/$name.log" 2>&1 </dev/null &
    fi
    pid=$!
    echo "$pid" >"$T/pids/$name"
    proc_starttime "$pid" >"$T/pids/$name.start"
    grep -qx -- "$name" "$T/pids/.order" || echo "$name" >>"$T/pids/.order"
    HARNESS_LAST_PID=$pid
}

harness_stop() {
    local name=${1:?usage: harness_stop NAME} pid start i
    pid=$(harness_pid "$name") || return 0
    [ -n "$pid" ] || return 0
    start=$(cat "$T/pids/$name.start" 2>/dev/null)
    if pid_alive "$pid" "$start"; then
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < ${HARNESS_STOP_TIMEOUT:-5} * 20; i++)); do
            pid_alive "$pid" "$start" || break
            sleep 0.05
        done
        if pid_alive "$pid" "$start"; then
            harness_log "$name (pid $pid) ignored SIGTERM for ${HARNESS_STOP_TIMEOUT:-5} s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null
            for ((i = 0; i < 40; i++)); do
                pid_alive "$pid" "$start" || break
                sleep 0.05
            done
        fi
    fi
    # reap it if it is our child (never blocks: it is dead or not ours)
    pid_alive "$pid" "$start" || wait "$pid" 2>/dev/null
    rm -f "$T/pids/$name" "$T/pids/$name.start"
    return 0
}

# ---------------------------------------------------------------- ports
harness_port_dir() { printf '/tmp/mailsso-ports-%s' "$(id -u)"; }

# port_users PORT -> number of sockets with local port PORT: TCP in any state
# (listeners, connections, TIME_WAIT) and UDP, IPv4 and IPv6.
port_users() {
    local hex f files=()
    hex=$(printf '%04X' "$1")
    for f in /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6; do
        [ -r "$f" ] && files+=("$f")
    done
    awk -v h="$hex" 'FNR > 1 { n = split($2, a, ":"); if (a[n] == h) c++ } END { print c + 0 }' \
        "${files[@]}"
}

# port_inodes PORT -> socket inodes of TCP listeners and UDP sockets on PORT
port_inodes() {
    local hex f files=()
    hex=$(printf '%04X' "$1")
    for f in /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6; do
        [ -r "$f" ] && files+=("$f")
    done
    awk -v h="$hex" 'FNR > 1 { n = split($2, a, ":");
        if (a[n] == h && ($4 == "0A" || FILENAME ~ /udp/)) print $10 }' "${files[@]}"
}

# port_owned_by PORT PID -> 0 if PORT has listeners and every TCP listener /
# UDP socket on it belongs to PID (no second process shares it via SO_REUSEPORT).
port_owned_by() {
    local port=$1 pid=$2 inodes ino mine
    inodes=$(port_inodes "$port")
    [ -n "$inodes" ] || return 1
    mine=$(find "/proc/$pid/fd" -maxdepth 1 -type l -printf '%l\n' 2>/dev/null |
        sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p')
    for ino in $inodes; do
        printf '%s\n' "$mine" | grep -qx -- "$ino" || return 1
    done
}

pick_port() {
    local dir p i
    dir=$(harness_port_dir)
    mkdir -p "$dir" 2>/dev/null && chmod 700 "$dir" 2>/dev/null
    for ((i = 0; i < 500; i++)); do
        # 20000-32767: below Linux's default ephemeral range (32768-60999)
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 12768))
        [ "$(port_users "$p")" = 0 ] || continue
        if [ -n "$T" ] && [ -d "$T" ]; then
            if ! mkdir "$dir/$p" 2>/dev/null; then
                # reserved: take it over only if its owner's temp dir is gone
                local owner
                owner=$(cat "$dir/$p/owner" 2>/dev/null)
                [ -n "$owner" ] && [ ! -d "$owner" ] || continue
                rm -rf "${dir:?}/${p:?}"
                mkdir "$dir/$p" 2>/dev/null || continue
            fi
            echo "$T" >"$dir/$p/owner"
            echo "$p" >>"$T/ports"
        fi
        echo "$p"
        return 0
    done
    harness_fatal "pick_port: no free port found in 500 tries"
}

# harness_pick_ports VAR...: pick_port into each VAR in this shell (a failure
# inside "$(pick_port)" would only end the subshell)
harness_pick_ports() {
    local v p
    for v in "$@"; do
        p=$(pick_port)
        [ -n "$p" ] || harness_fatal "pick_port failed for $v"
        printf -v "$v" '%s' "$p"
        export "${v?}"
    done
}

wait_port() {
    local p=${1:?usage: wait_port PORT [SECS]} t=${2:-10} i
    for ((i = 0; i < t * 50; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && return 0
        sleep 0.02
    done
    harness_log "127.0.0.1:$p did not accept connections within ${t}s"
    return 1
}

# ---------------------------------------------------------------- tools
# Debian package that provides a command (for skip / failure messages)
harness_pkg_of() {
    case $1 in
        krb5kdc|kdb5_util|kprop*) echo krb5-kdc ;;
        kadmind|kadmin.local) echo krb5-admin-server ;;
        kdb5_ldap_util) echo krb5-kdc-ldap ;;
        kinit|klist|kvno|kdestroy|kpasswd|kadmin|ktutil|kswitch) echo krb5-user ;;
        slapd|slapadd|slapcat) echo slapd ;;
        ldapsearch|ldapmodify|ldapadd|ldapdelete) echo ldap-utils ;;
        openssl) echo openssl ;;
        curl) echo curl ;;
        python3) echo python3 ;;
        unshare) echo util-linux ;;
        postfix|sendmail) echo postfix ;;
        smtptest|imtest|sivtest) echo cyrus-clients ;;
        msmtp) echo msmtp ;;
        nginx) echo nginx-light ;;
        apache2|apachectl) echo apache2 ;;
        cc|gcc) echo gcc ;;
        clang) echo clang ;;
        krb5-config) echo libkrb5-dev ;;
        saslpluginviewer|sasldblistusers2) echo sasl2-bin ;;
        *) echo "?" ;;
    esac
}

harness_missing() { # harness_missing WHAT REASON: skip, or fail under CI
    if [ "${CI:-}" = true ]; then
        printf 'FAIL: %s is required (%s); CI=true, so this is a failure, not a skip\n' "$1" "$2"
        exit 99
    fi
    printf 'SKIP: %s not available (%s)\n' "$1" "$2"
    exit 77
}

require_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 ||
            harness_missing "$c" "command not found; Debian package: $(harness_pkg_of "$c")"
    done
}

require_file() { # require_file PATH PACKAGE
    [ -e "$1" ] || harness_missing "$1" "file not found; Debian package: ${2:-?}"
}

# ---------------------------------------------------------------- checks
harness_pass() { HARNESS_PASS=$((HARNESS_PASS + 1)); printf 'PASS: %s\n' "$1"; }
harness_failmsg() { HARNESS_FAIL=$((HARNESS_FAIL + 1)); printf 'FAIL: %s\n' "$1"; }

harness_show_out() { # indent the captured output (at most 40 lines)
    [ -s "$1" ] || return 0
    sed -n '1,40s/^/    | /p' "$1"
    [ "$(wc -l <"$1")" -le 40 ] || printf '    | ... (%s lines, see %s)\n' "$(wc -l <"$1")" "$1"
}

harness_next_out() {
    HARNESS_NCHECK=$((${HARNESS_NCHECK:-0} + 1))
    if [ -n "$T" ] && [ -d "$T" ]; then
        CHECK_OUT=$T/checks/$HARNESS_NCHECK.out
        mkdir -p "$T/checks"
    else
        CHECK_OUT=$(mktemp /tmp/mailsso-check.XXXXXX)
    fi
}

check() {
    local what=${1:?usage: check WHAT CMD...} rc
    shift
    harness_next_out
    "$@" >"$CHECK_OUT" 2>&1 </dev/null
    rc=$?
    if [ $rc = 0 ]; then
        harness_pass "$what"
    else
        harness_failmsg "$what (expected exit 0, got $rc from: $*)"
        harness_show_out "$CHECK_OUT"
    fi
    return $rc
}

check_fails() {
    local what=${1:?usage: check_fails WHAT CMD...} rc
    shift
    harness_next_out
    "$@" >"$CHECK_OUT" 2>&1 </dev/null
    rc=$?
    if [ $rc -ge 1 ] && [ $rc -le 125 ]; then
        harness_pass "$what"
        return 0
    fi
    if [ $rc = 0 ]; then
        harness_failmsg "$what (expected a failure, got exit 0 from: $*)"
    elif [ $rc -gt 128 ]; then
        harness_failmsg "$what (expected a clean failure, got a crash: signal $((rc - 128)) from: $*)"
    else
        harness_failmsg "$what (expected a clean failure, got exit $rc, not runnable: $*)"
    fi
    harness_show_out "$CHECK_OUT"
    return 1
}

check_grep() {
    local what=${1:?usage: check_grep WHAT REGEX FILE} re=${2:?} f=${3:?}
    if [ ! -e "$f" ]; then
        harness_failmsg "$what (expected /$re/ in $f, got: no such file)"
        return 1
    fi
    if grep -Eq -- "$re" "$f"; then
        harness_pass "$what"
        return 0
    fi
    harness_failmsg "$what (expected a line matching /$re/ in $f, got none; last lines:)"
    tail -n 15 "$f" | sed 's/^/    | /'
    return 1
}

check_no_grep() {
    local what=${1:?usage: check_no_grep WHAT REGEX FILE} re=${2:?} f=${3:?}
    if [ ! -e "$f" ]; then
        harness_failmsg "$what (expected $f without /$re/, got: no such file)"
        return 1
    fi
    if ! grep -Eq -- "$re" "$f"; then
        harness_pass "$what"
        return 0
    fi
    harness_failmsg "$what (expected no line matching /$re/ in $f, got:)"
    grep -E -- "$re" "$f" | head -n 10 | sed 's/^/    | /'
    return 1
}

check_eq() {
    local what=${1:?usage: check_eq WHAT EXPECTED ACTUAL}
    if [ $# -ne 3 ]; then
        harness_failmsg "$what (check_eq needs exactly EXPECTED and ACTUAL, got $(($# - 1)) values)"
        return 1
    fi
    if [ "$2" = "$3" ]; then
        harness_pass "$what"
        return 0
    fi
    harness_failmsg "$what (expected '$2', got '$3')"
    return 1
}

harness_finish() {
    printf '%d passed, %d failed\n' "$HARNESS_PASS" "$HARNESS_FAIL"
    if [ "$HARNESS_FAIL" -gt 0 ]; then exit 1; fi
    if [ "$HARNESS_PASS" -eq 0 ]; then
        printf 'FAIL: no check ran (a test must assert something)\n'
        exit 1
    fi
    exit 0
}

# ---------------------------------------------------------------- private /etc/hosts
HARNESS_HOSTS_NAMES="mail.example.test mx1.example.test mx2.example.test gw.example.test other.example.test proxy.example.test"

harness_hosts_file() {
    [ -n "$T" ] || harness_fatal "with_hosts before harness_init"
    if [ ! -f "$T/hosts" ]; then
        {
            printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'
            # shellcheck disable=SC2086 # one line per name
            printf '127.0.0.1\t%s\n' $HARNESS_HOSTS_NAMES
        } >"$T/hosts"
        chmod 644 "$T/hosts"
    fi
    printf '%s' "$T/hosts"
}

hosts_add() { # hosts_add NAME [IP]
    local f
    f=$(harness_hosts_file)
    printf '%s\t%s\n' "${2:-127.0.0.1}" "${1:?usage: hosts_add NAME [IP]}" >>"$f"
}

harness_hosts_via() {
    if [ -n "${HARNESS_HOSTS_VIA:-}" ]; then printf '%s' "$HARNESS_HOSTS_VIA"; return; fi
    local via=${HOSTS_VIA:-}
    if [ -z "$via" ]; then
        via=nss
        if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null 2>&1 &&
            unshare -m -- sh -c 'mount --bind /etc/hosts /etc/hosts' 2>/dev/null; then
            via=unshare
        fi
    fi
    HARNESS_HOSTS_VIA=$via
    printf '%s' "$via"
}

harness_nss_wrapper_lib() {
    local f
    for f in /usr/lib/*/libnss_wrapper.so /usr/lib/libnss_wrapper.so /usr/lib64/libnss_wrapper.so; do
        [ -e "$f" ] && { printf '%s' "$f"; return 0; }
    done
    return 1
}

with_hosts() {
    local hosts via lib
    [ $# -gt 0 ] || harness_fatal "usage: with_hosts CMD..."
    hosts=$(harness_hosts_file)
    via=$(harness_hosts_via)
    if [ "$via" = unshare ]; then
        if [ "${HARNESS_EXEC:-0}" = 1 ]; then
            exec unshare -m -- sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$hosts" "$@"
        fi
        unshare -m -- sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$hosts" "$@"
        return
    fi
    lib=$(harness_nss_wrapper_lib) ||
        harness_missing libnss_wrapper.so "with_hosts without root needs it; Debian package: libnss-wrapper"
    if [ "${HARNESS_EXEC:-0}" = 1 ]; then
        LD_PRELOAD=$lib${LD_PRELOAD:+:$LD_PRELOAD} NSS_WRAPPER_HOSTS=$hosts exec "$@"
    fi
    LD_PRELOAD=$lib${LD_PRELOAD:+:$LD_PRELOAD} NSS_WRAPPER_HOSTS=$hosts "$@"
}

# ---------------------------------------------------------------- the rest of the harness
. "$HARNESS_DIR/kdc.sh"
. "$HARNESS_DIR/kdc-ldap.sh"
. "$HARNESS_DIR/ca.sh"
