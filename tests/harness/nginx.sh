# shellcheck shell=bash
# NAME
#   tests/harness/nginx.sh - a private nginx for a test: own config, ports,
#   temp paths and logs under $T, started and stopped by PID
#
# SYNOPSIS
#   . "$top_srcdir/tests/harness/lib.sh"; . "$top_srcdir/tests/harness/nginx.sh"
#   harness_pick_ports HTTPS_PORT
#   cat >"$T/site.conf" <<EOF
#   server { listen 127.0.0.1:$HTTPS_PORT ssl; ... }
#   EOF
#   nginx_start gw "$T/site.conf"          # harness name "nginx-gw"
#   wait_port "$HTTPS_PORT"
#   nginx_reload gw                        # SIGHUP to the master
#   nginx_stop gw
#
# DESCRIPTION
#   nginx_start NAME SITE_FILE writes $T/nginx-NAME/nginx.conf: foreground
#   (daemon off), one worker, pid file, error log $T/logs/nginx-NAME.error.log
#   (level info; -e so nothing is written to /var/log/nginx), access log
#   $T/logs/nginx-NAME.access.log, every *_temp_path under $T/nginx-NAME, and
#   an http block that includes SITE_FILE. When run as root, the workers run
#   as $NGINX_USER (default nobody; NGINX_GROUP default nogroup): so files
#   they must read at run time and Unix sockets they connect to must allow
#   it. The config is checked with nginx -t first (fatal on error, with the
#   message). The master's PID is the one saved by harness_spawn.
#   NGINX_WORKER_UID is set to the uid the workers run as.
#
# DIAGNOSTICS
#   Set-up failures call harness_fatal (exit 99).

nginx_start() {
    local name=${1:?usage: nginx_start NAME SITE_FILE} site=${2:?usage: nginx_start NAME SITE_FILE}
    local dir=$T/nginx-$name user_line=""
    require_cmd nginx
    mkdir -p "$dir"/{client_body,proxy,fastcgi,uwsgi,scgi}
    if [ "$(id -u)" = 0 ]; then
        user_line="user ${NGINX_USER:-nobody} ${NGINX_GROUP:-nogroup};"
        NGINX_WORKER_UID=$(id -u "${NGINX_USER:-nobody}")
        chown -R "${NGINX_USER:-nobody}" "$dir"
    else
        NGINX_WORKER_UID=$(id -u)
    fi
    export NGINX_WORKER_UID
    cat >"$dir/nginx.conf" <<EOF
$user_line
daemon off;
master_process on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $T/logs/nginx-$name.error.log info;
events { worker_connections 256; }
http {
    access_log $T/logs/nginx-$name.access.log;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    include $site;
}
EOF
    nginx -t -q -p "$dir" -e "$T/logs/nginx-$name.error.log" -c "$dir/nginx.conf" \
        >"$T/logs/nginx-$name.test.log" 2>&1 ||
        harness_fatal "nginx -t failed for $dir/nginx.conf: $(cat "$T/logs/nginx-$name.test.log")"
    harness_spawn "nginx-$name" nginx -p "$dir" -e "$T/logs/nginx-$name.error.log" \
        -c "$dir/nginx.conf"
}

nginx_reload() {
    local pid
    pid=$(harness_pid "nginx-${1:?usage: nginx_reload NAME}")
    [ -n "$pid" ] && kill -HUP "$pid"
}

nginx_stop() { harness_stop "nginx-${1:?usage: nginx_stop NAME}"; }
