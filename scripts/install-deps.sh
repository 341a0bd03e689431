#!/bin/sh
# install-deps.sh - install the Debian 12 packages mailsso needs to build, test and demo.
#
# Installs only what is missing (fast when everything is there); uses sudo when not root.
# System services that the packages would start (slapd, krb5-kdc, nginx, apache2, postfix) are
# kept from starting: the tests and the demo run their own private instances on loopback.
set -eu

BUILD_PKGS="build-essential autoconf automake libtool pkg-config libkrb5-dev libsasl2-dev
 libssl-dev libconfig-dev libcmocka-dev libmicrohttpd-dev libcurl4-openssl-dev libjson-c-dev
 debhelper lintian"
RUN_PKGS="krb5-kdc krb5-admin-server krb5-user krb5-kdc-ldap slapd ldap-utils
 libsasl2-modules libsasl2-modules-gssapi-mit sasl2-bin cyrus-clients postfix msmtp curl
 nginx-light apache2 libapache2-mod-auth-gssapi openssl python3 libnss-wrapper util-linux
 iproute2 faketime valgrind clang libclang-rt-14-dev cyrus-imapd cyrus-pop3d dovecot-core dovecot-gssapi
 wrk python3-cryptography"
EXTRA_PKGS=${MAILSSO_EXTRA_PKGS:-}

missing=""
for p in $BUILD_PKGS $RUN_PKGS $EXTRA_PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && { echo "install-deps: all packages present"; exit 0; }

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "install-deps: installing:$missing"
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    made_policy=1
fi
cleanup() { [ "$made_policy" = 1 ] && $SUDO rm -f "$policy"; }
trap cleanup EXIT
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
echo "slapd slapd/no_configuration boolean true" | $SUDO debconf-set-selections
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
