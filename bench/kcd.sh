# shellcheck shell=bash
# NAME
#   bench/kcd.sh - the certificate-to-KCD section of bench/run (sourced)
#
# DESCRIPTION
#   One nginx (tests/harness/nginx.sh, plain HTTP on loopback) in front of one
#   static backend nginx, three locations that differ only in authentication:
#     /plain/  proxy_pass to the backend
#     /fixed/  the same, adding a fixed 1.5 KB "Authorization: Negotiate ..." header
#     /kcd/    auth_request to mailsso-kcd over its Unix socket (as in
#              conf/nginx/mailsso-kcd.conf), then the helper's fresh token as
#              the backend's Authorization header
#   wrk cannot present TLS client certificates, so every request carries the
#   user's certificate in a header (X-Bench-Cert) that nginx hands to the
#   helper where production hands it $ssl_client_escaped_cert; TLS itself is
#   the same work in all three variants and is left out. Users: principals
#   buN in the LDAP-backed harness KDC, certificates from bench/gen_certs.py.
#
#   Phases: (1) warm NTP users, then rounds of wrk over plain/fixed/kcd
#   (median requests/s, p50, p99); (2) RSS of the helper; COLD new users once
#   each with 50 connections, KDC requests counted in the KDC log; (3) the
#   same users again (warm): KDC requests; (4) more new users up to MEM in
#   all; RSS again: growth per cached user.

bench_kcd() {
    local n_tp n_cold n_mem dur rounds peer r v out
    . "$SRC/tests/integration/kcd_common.sh"
    . "$SRC/tests/harness/nginx.sh"
    n_cold=$KCD_COLD_USERS
    n_mem=$KCD_MEM_USERS
    if [ "$QUICK" = 1 ]; then n_tp=5; dur=1; rounds=1; else n_tp=100; dur=6; rounds=3; fi
    command -v wrk >/dev/null || harness_fatal "wrk is missing (bench/run installs it with scripts/install-deps.sh)"
    command -v nginx >/dev/null || harness_fatal "nginx is missing"
    python3 -c 'import cryptography' 2>/dev/null || harness_fatal "python3-cryptography is missing"
    [ -x "$KCD_BIN" ] || harness_fatal "$KCD_BIN not built"
    kcd_env_init bench-kcd

    # ---- users: principals and certificates
    say_t() { echo "[$(date +%T)] $*"; }
    say_t "creating $((n_tp + n_mem)) principals"
    for ((r = 1; r <= n_tp + n_mem; r++)); do echo "addprinc -randkey bu$r"; done | kdc_admin_batch ||
        harness_fatal "creating the bench principals failed"
    say_t "issuing certificates"
    python3 "$SRC/bench/gen_certs.py" "$CA_DIR" "$CRL_PORT" bu 1 "$n_tp" "$T/tp.certs" &&
        python3 "$SRC/bench/gen_certs.py" "$CA_DIR" "$CRL_PORT" bu $((n_tp + 1)) "$n_mem" "$T/mem.certs" ||
        harness_fatal "gen_certs.py failed"
    head -n "$n_cold" "$T/mem.certs" >"$T/cold.certs"
    tail -n +$((n_cold + 1)) "$T/mem.certs" >"$T/rest.certs"

    # ---- the helper (default log level: one line per request, as deployed)
    peer=$([ "$(id -u)" = 0 ] && echo "${NGINX_USER:-nobody}" || id -un)
    cat >"$KCD_CONF" <<EOF
kcd = {
    listen = "$KCD_SOCK";
    socket_mode = 0666;
    allowed_peers = ["$peer", "$(id -un)"];
    user = "$(id -un)";
    keytab = "$GW_KEYTAB";
    principal = "HTTP/gw.example.test@$REALM";
    trust_anchors = "$CA_ROOT";
    intermediates = "$CA_INTER";
    upn_realms = ["example.test = $REALM"];
    default_target = "HTTP@mail.example.test";
    crl_fail_mode = "closed";
    crl_required_at_start = false;
    cache_max_entries = $((n_tp + n_mem + 1000));
};
EOF
    kcd_start

    # ---- nginx: a static backend and the gateway with three locations
    harness_pick_ports GW_PORT BACKEND_PORT
    cat >"$T/backend.conf" <<EOF
server {
    listen 127.0.0.1:$BACKEND_PORT;
    access_log off;
    location / { return 200 "ok\n"; }
}
EOF
    local fixed
    fixed=$(head -c 1100 /dev/urandom | base64 -w0)
    cat >"$T/gw.conf" <<EOF
log_format kcduser '\$kcd_user \$status';
# Keep-alive connections to the helper's socket: each auth request still
# carries its own certificate, so reusing a connection shares nothing between users.
upstream mailsso_kcd {
    server unix:$KCD_SOCK;
    keepalive 16;
}
upstream bench_backend {
    server 127.0.0.1:$BACKEND_PORT;
}
server {
    listen 127.0.0.1:$GW_PORT;
    server_name mail.example.test;
    access_log off;
    location /plain/ {
        proxy_pass http://bench_backend;
        proxy_set_header Host \$host;
        proxy_set_header X-Bench-Cert "";
    }
    location /fixed/ {
        proxy_pass http://bench_backend;
        proxy_set_header Host \$host;
        proxy_set_header Authorization "Negotiate $fixed";
        proxy_set_header X-Bench-Cert "";
    }
    location /kcd/ {
        auth_request /_kcd;
        auth_request_set \$kcd_authorization \$upstream_http_authorization;
        auth_request_set \$kcd_user \$upstream_http_x_kcd_user;
        proxy_pass http://bench_backend;
        proxy_set_header Host \$host;
        proxy_set_header Authorization \$kcd_authorization;
        proxy_set_header Proxy-Authorization "";
        proxy_set_header X-Bench-Cert "";
        proxy_hide_header WWW-Authenticate;
        access_log $T/logs/kcd-users.log kcduser;
    }
    location = /_kcd {
        internal;
        proxy_pass http://mailsso_kcd/auth;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_set_header Authorization "";
        proxy_set_header Proxy-Authorization "";
        proxy_set_header X-Client-Cert \$http_x_bench_cert;
        proxy_set_header X-Kcd-Host \$host;
        proxy_buffer_size 32k;
        proxy_buffers 4 32k;
        proxy_connect_timeout 5s;
        proxy_read_timeout 60s;
    }
}
EOF
    nginx_start backend "$T/backend.conf"
    nginx_start gw "$T/gw.conf"
    wait_port "$BACKEND_PORT" && wait_port "$GW_PORT" || harness_fatal "nginx did not start"
    out=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Bench-Cert: $(head -1 "$T/tp.certs")" \
        "http://127.0.0.1:$GW_PORT/kcd/x")
    [ "$out" = 200 ] || harness_fatal "a request through nginx + mailsso-kcd got $out, not 200 (see $KCD_LOG)"

    # wrk_run NAME PATH CERTS SECONDS [CONNS]: results in $T/wrk.NAME
    wrk_run() {
        BENCH_CERTS=$3 BENCH_THREADS=2 BENCH_OFFSET=${BENCH_OFFSET:-0} wrk -t2 -c"${5:-50}" -d"$4"s --latency \
            -s "$SRC/bench/wrk_certs.lua" "http://127.0.0.1:$GW_PORT$2" >"$T/wrk.$1" 2>&1 ||
            harness_fatal "wrk failed: $(cat "$T/wrk.$1")"
        cat "$T/wrk.$1"
        if grep -q 'Non-2xx' "$T/wrk.$1"; then
            harness_fatal "wrk $1: some requests failed: $(grep Non-2xx "$T/wrk.$1") (see $KCD_LOG)"
        fi
    }
    # wrk_val FILE rps|50|99 -> requests/s or the latency percentile in ms
    wrk_val() {
        case $2 in
        rps) awk '/^Requests\/sec:/ { print $2 }' "$1" ;;
        *) awk -v p="$2%" '$1 == p { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
               if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000;
               printf "%.2f\n", v }' "$1" ;;
        esac
    }
    kdc_reqs() { grep -cE '(AS|TGS)_REQ' "$KDC_LOG"; }
    kcd_cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) * 1000 / hz }' "/proc/$(harness_pid kcd)/stat"; }
    kcd_rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$(harness_pid kcd)/status"; }
    users_seen() { awk '$2 == 200 && $1 != "-" { print $1 }' "$T/logs/kcd-users.log" | sort -u | wc -l; }

    # ---- (1) throughput, warm cache
    say_t "warming $n_tp users"
    wrk_run warmup /kcd/x "$T/tp.certs" 2
    for ((r = 1; r <= rounds; r++)); do
        for v in plain fixed kcd; do
            say_t "round $r: $v"
            local c0 c1
            c0=$(kcd_cpu_ms)
            wrk_run "$v.$r" "/$v/x" "$T/tp.certs" "$dur"
            c1=$(kcd_cpu_ms)
            [ "$v" = kcd ] && echo "helper CPU: $(awk -v c=$((c1 - c0)) -v n="$(awk '/requests in/ { print $1 }' "$T/wrk.$v.$r")" 'BEGIN { printf "%.3f", c / n }') ms per request"
            wrk_val "$T/wrk.$v.$r" rps >>"$T/rps.$v"
            wrk_val "$T/wrk.$v.$r" 50 >>"$T/p50.$v"
            wrk_val "$T/wrk.$v.$r" 99 >>"$T/p99.$v"
        done
    done
    for v in plain fixed kcd; do
        eval "rps_$v=\$(median <\"\$T/rps.$v\") p50_$v=\$(median <\"\$T/p50.$v\") p99_$v=\$(median <\"\$T/p99.$v\")"
    done
    # shellcheck disable=SC2154
    {
        row "kcd requests/s (vs plain proxy)" "/s" "$rps_kcd" "nginx plain proxy" "$rps_plain" ge 0.8
        row "kcd requests/s (vs fixed header)" "/s" "$rps_kcd" "nginx fixed header" "$rps_fixed" ge 0.8
        row "kcd p50 latency ms (vs plain proxy)" "ms" "$p50_kcd" "nginx plain proxy" "$p50_plain" info -
        row "kcd p99 latency ms (vs plain proxy)" "ms" "$p99_kcd" "nginx plain proxy" "$p99_plain" info -
    }

    # ---- (2) cold users, 50 connections
    local rss_a rss_b k0 k1 k2 seen n_left i
    rss_a=$(kcd_rss)
    k0=$(kdc_reqs)
    say_t "cold: $n_cold new users, 50 connections (helper RSS $rss_a KiB)"
    : >"$T/logs/kcd-users.log"
    seen=0
    for ((i = 0; i < 30; i++)); do
        # continue after the users already served (minus those maybe in flight)
        BENCH_OFFSET=$((seen > 100 ? seen - 100 : 0)) wrk_run "cold.$i" /kcd/x "$T/cold.certs" "$([ "$QUICK" = 1 ] && echo 1 || echo 10)"
        seen=$(users_seen)
        [ "$seen" -ge "$n_cold" ] && break
    done
    [ "$seen" -ge "$n_cold" ] || harness_fatal "only $seen of $n_cold cold users got through"
    k1=$(kdc_reqs)
    echo "cold: $((k1 - k0)) KDC requests for $seen users"
    row "$ROW_KCD_COLD" "" "$(awk -v a=$((k1 - k0)) -v n="$n_cold" 'BEGIN { printf "%.2f", a / n }')" \
        "limit" "2" abs-le 2
    # ---- (3) the same users, warm
    wrk_run warm /kcd/x "$T/cold.certs" "$([ "$QUICK" = 1 ] && echo 1 || echo 5)"
    k2=$(kdc_reqs)
    echo "warm: $((k2 - k1)) KDC requests, $(wrk_val "$T/wrk.warm" rps) requests/s"
    row "$ROW_KCD_WARM" "" "$(awk -v a=$((k2 - k1)) -v n="$n_cold" 'BEGIN { printf "%.2f", a / n }')" \
        "limit" "0" abs-le 0

    # ---- (4) memory: more new users until n_mem are cached
    n_left=$((n_mem - n_cold))
    if [ "$n_left" -gt 0 ]; then
        say_t "memory: $n_left more users"
        : >"$T/logs/kcd-users.log"
        seen=0
        for ((i = 0; i < 60; i++)); do
            BENCH_OFFSET=$((seen > 100 ? seen - 100 : 0)) wrk_run "mem.$i" /kcd/x "$T/rest.certs" "$([ "$QUICK" = 1 ] && echo 1 || echo 10)"
            seen=$(users_seen)
            [ "$seen" -ge "$n_left" ] && break
        done
        [ "$seen" -ge "$n_left" ] || harness_fatal "only $seen of $n_left users got through"
    fi
    rss_b=$(kcd_rss)
    curl -s --unix-socket "$KCD_SOCK" http://kcd/health >"$T/health.json"
    echo "helper RSS $rss_a -> $rss_b KiB over $n_mem new users; health: $(cat "$T/health.json")"
    row "$ROW_KCD_MEM" "KiB" "$(awk -v a="$rss_a" -v b="$rss_b" -v n="$n_mem" 'BEGIN { printf "%.2f", (b - a) / n }')" \
        "limit" "8" abs-le 8
}
