#!/usr/bin/env bash
# plugin_gssapi_rc4.sh - an AD-style service account with only an RC4 key
# (like a keytab exported by ktpass without -crypto AES256-SHA1): refused by
# the default AES-only policy with a diagnosis naming the enctype; accepted
# when mailsso.conf allows rc4, and then every such login logs a warning
# naming the account to fix; DES/3DES can never be enabled.
set -u
. "$top_srcdir/tests/integration/plugin_common.sh"
KDC_SUPPORTED_ENCTYPES="aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal arcfour-hmac:normal"
export KDC_SUPPORTED_ENCTYPES
plugin_setup plugin_rc4

kdc_addprinc imap/legacy.example.test -e arcfour-hmac:normal
kdc_admin "ktadd -k $T/legacy.keytab -norandkey imap/legacy.example.test" >/dev/null
check_grep "the legacy keytab holds only an RC4 key" 'arcfour-hmac|rc4' <(klist -ke "$T/legacy.keytab")
PLUGIN_KEYTAB=$T/legacy.keytab plugin_conf ''

HOST=legacy.example.test check_refused "RC4 ticket refused by the default policy, enctype and policy named" \
    'enctype=arcfour-hmac\(23\).*cause: enctype refused by our policy: the ticket enctype is arcfour-hmac\(23\) but enctypes = "aes"' imap
check_grep "start-up self-check: the keytab holds no key our policy accepts" \
    'start-up self-check: .*holds no key our policy accepts' "$T/last.log"

PLUGIN_KEYTAB=$T/legacy.keytab plugin_conf 'enctypes = "aes rc4";'
HOST=legacy.example.test check_login "RC4 allowed explicitly: the login works" imap
check_grep "each RC4 login warns, naming the account to fix" \
    'WARN: mailsso: WARNING: RC4 used by login of alice@EXAMPLE.TEST to service imap \(ticket for imap/legacy.example.test@EXAMPLE.TEST: arcfour-hmac\(23\).*fix: give imap/legacy.example.test@EXAMPLE.TEST AES keys' "$T/last.log"
check_grep "the audit line records the RC4 ticket" 'login ok: .*ticket_enctype=arcfour-hmac\(23\)' "$T/last.log"

PLUGIN_KEYTAB=$T/legacy.keytab plugin_conf 'enctypes = "aes rc4"; warn_rc4 = false;'
HOST=legacy.example.test check_login "warn_rc4 = false silences the warning" imap
check_no_grep "... no RC4 warning" 'RC4 used by' "$T/last.log"

PLUGIN_KEYTAB=$T/legacy.keytab plugin_conf 'realm_enctypes = [ "EXAMPLE.TEST = aes rc4" ];'
HOST=legacy.example.test check_login "realm_enctypes allows RC4 for the clients of one realm" imap

PLUGIN_KEYTAB=$T/legacy.keytab plugin_conf 'enctypes = "aes des3";'
HOST=legacy.example.test check_refused "a config enabling 3DES is refused as invalid (every login fails saying so)" \
    'des3' imap
harness_finish
