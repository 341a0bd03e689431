#!/bin/bash
# tests/package/run.sh - the Debian packages, end to end, on this machine:
# builds them with dpkg-buildpackage from a clean export of the source tree,
# checks them with lintian, installs them with apt-get (which removes the stock
# libsasl2-modules-gssapi-mit), proves that a Postfix login is served by the
# INSTALLED plugin from the system plugin directory (our audit line) and that
# the INSTALLED mailsso-kcd makes a token and answers nginx's user on its
# socket the way the systemd unit runs it, then purges the packages and proves
# the stock GSSAPI plugin is back and serves a Postfix login again.
#
# Usage (root, Debian 12):  tests/package/run.sh
#   MAILSSO_PKG_DEBS=DIR  use the .deb files in DIR instead of building them
#   KEEP=1                keep the temp dir (the build, every log)
# Needs: dpkg-dev, debhelper, lintian, apt-get, postfix, curl, the harness's
# KDC/LDAP/CA tools. Ends with "N passed, N failed". The machine is restored
# (our packages purged, the stock plugin reinstalled) even when a check fails.
set -u
# shellcheck disable=SC2086,SC2317 # $OURS is a word list; restore_machine runs at exit
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
. "$top_srcdir/tests/integration/kcd_common.sh"
. "$top_srcdir/tests/harness/postfix.sh"

OURS="libsasl2-modules-gssapi-mailsso mailsso-common mailsso-keytab mailsso-kcd"
STOCK=libsasl2-modules-gssapi-mit
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
SASLDIR=/usr/lib/$MA/sasl2
export DEBIAN_FRONTEND=noninteractive

harness_init package
[ "$(id -u)" = 0 ] || harness_missing "root" "the package test installs packages: run it as root"
[ -f /etc/debian_version ] || harness_missing "Debian" "the package test needs a Debian system"
require_cmd dpkg-buildpackage dh lintian apt-get dpkg-query postfix curl openssl python3 \
    slapd krb5kdc setpriv

installed() { dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -qx installed; }

# ---------------------------------------------------------------- restore on exit
# Whatever happens, leave the machine as we found it: ours purged, the stock
# plugin installed (from the .deb saved below, else from the archive).
STOCK_WAS_INSTALLED=0; STOCK_WAS_AUTO=0
installed "$STOCK" && STOCK_WAS_INSTALLED=1
apt-mark showauto 2>/dev/null | grep -qx "$STOCK" && STOCK_WAS_AUTO=1
restore_machine() {
    local p left=""
    for p in $OURS; do dpkg-query -W "$p" >/dev/null 2>&1 && left="$left $p"; done
    if [ -n "$left" ]; then
        harness_log "restore: purging$left"
        apt-get purge -y -q $left >"$T/logs/restore-purge.log" 2>&1
    fi
    if [ "$STOCK_WAS_INSTALLED" = 1 ] && ! installed "$STOCK"; then
        harness_log "restore: reinstalling $STOCK"
        apt-get install -y -q "${STOCK_DEB:-$STOCK}" >"$T/logs/restore-stock.log" 2>&1 ||
            apt-get install -y -q "$STOCK" >>"$T/logs/restore-stock.log" 2>&1
    fi
    [ "$STOCK_WAS_AUTO" = 1 ] && apt-mark auto "$STOCK" >/dev/null 2>&1
    return 0
}
harness_atexit restore_machine

# A copy of the installed stock plugin package, to restore exactly that version offline.
if [ "$STOCK_WAS_INSTALLED" = 1 ]; then
    v=$(dpkg-query -W -f='${Version}' "$STOCK")
    f=/var/cache/apt/archives/${STOCK}_${v//:/%3a}_$(dpkg --print-architecture).deb
    mkdir -p "$T/stock"
    if [ -f "$f" ]; then
        cp "$f" "$T/stock/"
    else
        (cd "$T/stock" && apt-get download -q "$STOCK=$v" >/dev/null 2>&1)
    fi
    STOCK_DEB=$(ls "$T"/stock/*.deb 2>/dev/null | head -1)
    [ -n "$STOCK_DEB" ] && STOCK_DEB=$(readlink -f "$STOCK_DEB")
fi

# ---------------------------------------------------------------- build
if [ -n "${MAILSSO_PKG_DEBS:-}" ]; then
    DEBS=$(cd "$MAILSSO_PKG_DEBS" && pwd)
    harness_log "using the packages in $DEBS (MAILSSO_PKG_DEBS)"
else
    # A clean clone: tracked + new files, nothing ignored (no build dirs, no
    # generated configure); a tarball without .git: everything but build dirs.
    SRCCOPY=$T/src/mailsso
    mkdir -p "$SRCCOPY"
    if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
        (cd "$SRC" && git ls-files -co --exclude-standard -z | tar -cf - --null -T -) |
            tar -xf - -C "$SRCCOPY"
    else
        tar -C "$SRC" --exclude='./build*' --exclude=./autom4te.cache -cf - . | tar -xf - -C "$SRCCOPY"
    fi
    start=$(date +%s)
    (cd "$SRCCOPY" && env -u KRB5_CONFIG -u KRB5_KDC_PROFILE -u KRB5CCNAME -u KRB5RCACHEDIR \
        -u KRB5_KTNAME -u KRB5_CLIENT_KTNAME -u MAKEFLAGS -u MFLAGS \
        DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-parallel=${JOBS:-2}}" \
        dpkg-buildpackage -us -uc -b) >"$T/logs/dpkg-buildpackage.log" 2>&1
    rc=$?
    check_eq "dpkg-buildpackage -us -uc -b builds from a clean export ($(($(date +%s) - start)) s)" 0 "$rc" ||
        tail -n 30 "$T/logs/dpkg-buildpackage.log"
    DEBS=$T/src
    check_grep "the build ran the unit tests (DEB_BUILD_OPTIONS without nocheck)" \
        '^# PASS: +[1-9]' "$T/logs/dpkg-buildpackage.log"
fi
for p in $OURS; do
    check "package $p was built" test -f "$(ls "$DEBS/${p}_"*.deb 2>/dev/null | head -1)"
done
[ "$HARNESS_FAIL" = 0 ] || harness_finish

changes=$(ls "$DEBS"/*.changes 2>/dev/null | head -1)
if [ -n "$changes" ]; then
    lintian --fail-on error "$changes" >"$T/logs/lintian.log" 2>&1
    rc=$?
    check_eq "lintian reports no errors ($(grep -c '^W:' "$T/logs/lintian.log") warnings)" 0 "$rc" ||
        grep '^[EW]:' "$T/logs/lintian.log" | head -20
    check_no_grep "lintian: no error tags" '^E: ' "$T/logs/lintian.log"
fi
debfiles=()
for p in $OURS; do debfiles+=("$(ls "$DEBS/${p}_"*.deb | head -1)"); done

check "the plugin package conflicts with the MIT and Heimdal GSSAPI plugins" \
    sh -c "dpkg-deb -f '${debfiles[0]}' Conflicts | grep -q 'libsasl2-modules-gssapi-mit' &&
           dpkg-deb -f '${debfiles[0]}' Conflicts | grep -q 'libsasl2-modules-gssapi-heimdal'"

# ---------------------------------------------------------------- install
apt-get install -y -q "${debfiles[@]}" >"$T/logs/apt-install.log" 2>&1
check_eq "apt-get install ./*.deb succeeds" 0 $? || tail -n 20 "$T/logs/apt-install.log"
for p in $OURS; do check "$p is installed" installed "$p"; done
check_fails "installing ours removed $STOCK" installed "$STOCK"
check_fails "the stock $SASLDIR/libgssapiv2.so is gone" test -e "$SASLDIR/libgssapiv2.so"
check "our plugin is in the system plugin dir: $SASLDIR/libmailsso_gssapi.so" \
    test -f "$SASLDIR/libmailsso_gssapi.so"
check_eq "the only plugin file offering GSSAPI there is ours" "libmailsso_gssapi.so" \
    "$(find "$SASLDIR" -maxdepth 1 \( -name '*gssapi*' -o -name '*gs2*' \) -printf '%f\n' | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "/etc/mailsso/mailsso.conf is a conffile of mailsso-common" "/etc/mailsso/mailsso.conf" \
    "$(dpkg-query -W -f='${Conffiles}' mailsso-common | awk '{print $1}' | tr -d '\n')"
for m in mailsso.conf.5 mailsso-keytab.1 mailsso-kcd.8; do
    check "man page $m installed" test -f "/usr/share/man/man${m##*.}/$m.gz"
done
check "the conf/ samples are installed as examples" test -f \
    /usr/share/doc/libsasl2-modules-gssapi-mailsso/examples/postfix/main.cf -a -f \
    /usr/share/doc/mailsso-common/examples/nginx/mailsso-kcd.conf -a -f \
    /usr/share/doc/mailsso-common/examples/mailsso.conf
check "the guides are installed in /usr/share/doc/mailsso-common" \
    sh -c 'ls /usr/share/doc/mailsso-common/kcd.md* /usr/share/doc/mailsso-common/mailsso-plugin.md*'
check_eq "system user mailsso-kcd exists (sysusers), no login shell" "/usr/sbin/nologin" \
    "$(getent passwd mailsso-kcd | cut -d: -f7)"
UNIT=/lib/systemd/system/mailsso-kcd.service
for k in NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes ProtectHome=yes \
    RuntimeDirectory=mailsso-kcd 'CapabilityBoundingSet=CAP_CHOWN CAP_SETUID CAP_SETGID' \
    'ExecStart=/usr/sbin/mailsso-kcd serve --foreground'; do
    check_grep "unit: $k" "^$k\$" "$UNIT"
done
WANTS=/etc/systemd/system/multi-user.target.wants/mailsso-kcd.service
check "the unit is enabled at install (it starts once /etc/mailsso/kcd.keytab exists)" test -L "$WANTS"
check_grep "... and not before (ConditionPathExists)" '^ConditionPathExists=/etc/mailsso/kcd.keytab$' "$UNIT"
if command -v systemd-analyze >/dev/null; then
    # Warnings about the host (no systemd as PID 1 in a container) are not the unit's.
    systemd-analyze verify "$UNIT" >"$T/logs/unit-verify.log" 2>&1
    check_no_grep "systemd-analyze verify: no complaint about mailsso-kcd.service" \
        'mailsso-kcd.service' "$T/logs/unit-verify.log"
fi

# ---------------------------------------------------------------- realm, CA
kdc_ldap_start
kdc_addprinc smtp/mail.example.test
KEYTAB=$T/smtp.keytab
kdc_ktadd "$KEYTAB" smtp/mail.example.test
chgrp postfix "$KEYTAB" && chmod 640 "$KEYTAB"
kdc_kinit alice "$ALICE_PW" || harness_fatal "kinit alice"

# ---------------------------------------------------------------- Postfix + installed plugin
# SASL_PATH is the system plugin directory (libsasl2's own default): no build tree.
sed -e "s|^keytab = .*|keytab = \"$KEYTAB\";|" \
    -e 's|example.com = EXAMPLE.COM|example.test = EXAMPLE.TEST|' \
    "$SRC/conf/postfix/mailsso.conf" >"$T/pf-mailsso.conf"
chmod 644 "$T/pf-mailsso.conf"
PF_SASL_PATH=$SASLDIR PF_MAILSSO_CONF=$T/pf-mailsso.conf postfix_start

printf 'From: alice@example.test\r\nTo: bob@example.org\r\nSubject: pkg\r\n\r\nhello\r\n' >"$T/msg.txt"
pf_login() { # pf_login [curl args]: one SMTP AUTH=GSSAPI login + relayed mail
    curl -sS --resolve "mail.example.test:$PF_PORT:127.0.0.1" -u : --login-options AUTH=GSSAPI \
        --mail-from alice@example.test --mail-rcpt bob@example.org -T "$T/msg.txt" "$@" \
        "smtp://mail.example.test:$PF_PORT/client.example.test"
}
m=$(postfix_mark)
check "installed plugin: curl AUTH=GSSAPI through Postfix is accepted" pf_login
check "... also with Thunderbird's authzid alice@EXAMPLE.TEST" pf_login --sasl-authzid alice@EXAMPLE.TEST
postfix_log_since "$m" >"$T/pf-ours.log"
check_grep "Postfix logs sasl_method=GSSAPI, sasl_username=alice" \
    'sasl_method=GSSAPI, sasl_username=alice$' "$T/pf-ours.log"
check_grep "our audit line is in the mail log: the installed plugin served the login" \
    'mailsso: login ok: mech=GSSAPI service=smtp principal=alice@EXAMPLE.TEST mailbox=alice ticket=smtp/mail.example.test@EXAMPLE.TEST' \
    "$T/pf-ours.log"
smtpd_maps() { # the shared objects mapped by the smtpd processes of our master
    local pid
    for pid in $(pgrep -P "$(harness_pid postfix-master)" -x smtpd); do
        cat "/proc/$pid/maps" 2>/dev/null
    done
}
smtpd_maps >"$T/smtpd-maps.txt"
check_grep "smtpd mapped $SASLDIR/libmailsso_gssapi.so (the packaged file)" \
    " $SASLDIR/libmailsso_gssapi.so\$" "$T/smtpd-maps.txt"
postfix_stop

# Drop-in: an smtpd.conf written for the stock plugin (mech_list + keytab:, no
# mailsso_config): ours reads the installed /etc/mailsso/mailsso.conf (the
# sample: built-in defaults) and the keytab: option. smtpd -v shows notices.
printf 'mech_list: GSSAPI\nkeytab: %s\n' "$KEYTAB" >"$T/stock-smtpd.conf"
PF_VERBOSE=1 PF_SASL_PATH=$SASLDIR PF_SMTPD_CONF=$T/stock-smtpd.conf postfix_start
m=$(postfix_mark)
check "drop-in: the stock plugin's smtpd.conf works with ours" pf_login
postfix_log_since "$m" >"$T/pf-dropin.log"
check_grep "... ours served it (audit line)" \
    'mailsso: login ok: mech=GSSAPI service=smtp principal=alice@EXAMPLE.TEST mailbox=alice' "$T/pf-dropin.log"
check_grep "... with the installed /etc/mailsso/mailsso.conf" 'mailsso: .*/etc/mailsso/mailsso\.conf' \
    "$T/pf-dropin.log"
check_no_grep "... which is valid (no config error logged)" 'mailsso: .*(invalid|error|cannot)' "$T/pf-dropin.log"
postfix_stop

# ---------------------------------------------------------------- installed mailsso-kcd
KCD_BIN=/usr/sbin/mailsso-kcd
ca_init
ca_issue_user alice alice@example.test
ca_gen_crl
ca_serve_crl
mkdir -p "$T/kcd"
KCD_SOCK=$T/kcd/kcd.sock KCD_CONF=$T/kcd/mailsso.conf KCD_LOG=$T/logs/kcd.log
export KCD_SOCK KCD_CONF KCD_LOG
# As the packaged unit runs it: root reads the keytab, the socket belongs to
# mailsso-kcd:www-data 0660, nginx's user www-data is the allowed peer.
kcd_write_conf 'socket_mode = 0660;' 'socket_group = "www-data";' 'allowed_peers = ["www-data"];' \
    'user = "mailsso-kcd";'
chmod 644 "$KCD_CONF"
check "installed mailsso-kcd --check-config accepts the gateway config" \
    "$KCD_BIN" --check-config -c "$KCD_CONF"
kcd_token alice >"$T/token.out" 2>"$T/token.err"
check_eq "installed mailsso-kcd token: alice's certificate -> exit 0" 0 $?
check_grep "... prints an Authorization: Negotiate header" \
    '^Authorization: Negotiate [A-Za-z0-9+/=]{100,}$' "$T/token.out"
check_grep "... made through S4U2Self for alice (KDC log)" "PROTOCOL-TRANSITION s4u-client=alice@$REALM" "$KDC_LOG"
check_grep "... and S4U2Proxy (KDC log)" "CONSTRAINED-DELEGATION s4u-client=alice@$REALM" "$KDC_LOG"

kcd_start
check_eq "the served socket is mailsso-kcd:www-data mode 660" "mailsso-kcd:www-data 660" \
    "$(stat -c '%U:%G %a' "$KCD_SOCK")"
check_eq "the helper runs as mailsso-kcd after reading the keytab" "mailsso-kcd" \
    "$(ps -o user= -p "$(harness_pid kcd)" | tr -d ' ')"
cert=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(open(sys.argv[1]).read(), safe=""))' "$CA_DIR/alice.crt")
setpriv --reuid=www-data --regid=www-data --clear-groups \
    curl -s -o /dev/null -D - -w '%{http_code}\n' --unix-socket "$KCD_SOCK" \
    -H "X-Client-Cert: $cert" http://kcd/auth >"$T/kcd.headers"
check_eq "nginx's user www-data asks on the socket: 200" 200 "$(tail -n 1 "$T/kcd.headers")"
check_grep "... and gets Authorization: Negotiate for alice" '^Authorization: Negotiate ' "$T/kcd.headers"
check_grep "... X-Kcd-User: alice@EXAMPLE.TEST" "^X-Kcd-User: alice@$REALM" "$T/kcd.headers"
code=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
    curl -s -o /dev/null -w '%{http_code}' --unix-socket "$KCD_SOCK" http://kcd/health)
check_eq "another user (nobody) cannot even connect (socket mode 660)" 000 "$code"
harness_stop kcd

# ---------------------------------------------------------------- purge, stock back
apt-get purge -y -q $OURS >"$T/logs/apt-purge.log" 2>&1
check_eq "apt-get purge of our packages succeeds" 0 $? || tail -n 20 "$T/logs/apt-purge.log"
for p in $OURS; do check_fails "$p is gone (not even config-files)" dpkg-query -W "$p"; done
check_fails "our plugin file is gone" test -e "$SASLDIR/libmailsso_gssapi.so"
check_fails "/etc/mailsso/mailsso.conf is gone (purged)" test -e /etc/mailsso/mailsso.conf
check_fails "the unit is gone" test -e "$UNIT"
check_fails "... and so is its enable link" test -L "$WANTS"

apt-get install -y -q "${STOCK_DEB:-$STOCK}" >"$T/logs/apt-stock.log" 2>&1
check_eq "reinstalling $STOCK succeeds" 0 $? || tail -n 20 "$T/logs/apt-stock.log"
[ "$STOCK_WAS_AUTO" = 1 ] && apt-mark auto "$STOCK" >/dev/null 2>&1
check "the stock $SASLDIR/libgssapiv2.so is back" test -f "$SASLDIR/libgssapiv2.so"
check_eq "... and belongs to $STOCK" "$STOCK" \
    "$(dpkg-query -S "$SASLDIR/libgssapiv2.so" 2>/dev/null | cut -d: -f1)"

# The stock plugin reads the keytab from its "keytab:" SASL option.
PF_SASL_PATH=$SASLDIR PF_SMTPD_CONF=$T/stock-smtpd.conf postfix_start
m=$(postfix_mark)
check "stock plugin: curl AUTH=GSSAPI through Postfix is accepted again" pf_login
postfix_log_since "$m" >"$T/pf-stock.log"
check_grep "Postfix logs sasl_username=alice" 'sasl_method=GSSAPI, sasl_username=alice$' "$T/pf-stock.log"
check_no_grep "no mailsso line: the stock plugin served it" 'mailsso:' "$T/pf-stock.log"
smtpd_maps >"$T/smtpd-maps2.txt"
check_grep "smtpd mapped the stock libgssapiv2.so" "libgssapiv2\\.so" "$T/smtpd-maps2.txt"
postfix_stop

harness_finish
