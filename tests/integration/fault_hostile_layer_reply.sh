#!/bin/bash
# fault_hostile_layer_reply.sh - hostile security-layer replies (the last
# GSSAPI step, RFC 4752 3.1) wrapped with a real, established Kerberos
# context by a raw GSS-API client (fault_layer_reply), which the stock Cyrus
# client never sends: an authzid with a NUL byte ("alice\0bob", "\0"), a reply
# shorter than its header, a layer nobody offered, layer "none" when a layer
# is required, an unwrapped reply, a huge maxbuf. Each is refused with one diagnosis line, nobody logs in; an
# ordinary authzid mismatch is refused and a correct reply logs in.
set -u
. "$top_srcdir/tests/integration/plugin_common.sh"
plugin_setup fault_hostile_layer_reply
LR=$BUILD/tests/integration/fault_layer_reply
[ -x "$LR" ] || harness_fatal "missing $LR (make check builds it)"

layer() { # layer CASE [OPTS]: runs it, output in $OUT, plugin log in $T/lr.log
    local kase=$1
    shift
    OUT=$T/lr.$kase.out
    : >"$T/lr.log"
    "$LR" --plugin-dir "$PLUGDIR" --config "$CONF" --log "$T/lr.log" "$@" "$kase" >"$OUT" 2>&1
}
refused() { # refused CASE REGEX WHAT [OPTS]
    layer "$1" "${@:4}"
    local rc=$?
    check_eq "$3: refused by the plugin (exit 0 = expected outcome)" 0 "$rc"
    check_grep "... RESULT fail" '^RESULT fail' "$OUT"
    check_eq "... one diagnosis line" 1 "$(grep -c 'mailsso: .* login failed' "$T/lr.log")"
    check_grep "... naming the cause" "login failed.*$2" "$T/lr.log"
}
refused nul-authzid 'stage=authzid.*contains a NUL byte' 'authzid "alice\0bob" (NUL inside)'
refused nul-only 'stage=authzid.*contains a NUL byte' 'authzid "\0"'
refused short 'security layer reply' 'a 2-byte reply (shorter than its 4-byte header)'
refused bad-layer 'layer mask 0x80 but we offered 0x0[246]' 'layer mask 0x80 (not offered; min-ssf 56)' --min-ssf 56
refused none-layer 'layer mask 0x01 but we offered 0x0[246]' 'layer "none" when the server requires a layer (min-ssf 56)' --min-ssf 56
# with only "none" offered an unknown mask means "none": alice herself, no layer
layer bad-layer
check_grep "layer mask 0x80 when only none is offered: alice herself at most" '^RESULT (fail|ok user=alice$)' "$OUT"
layer unwrapped
check_eq "an unwrapped (clear-text) reply: refused" 0 $?
check_grep "... RESULT fail" '^RESULT fail' "$OUT"
refused other-user 'asked to act as "bob"' 'authzid "bob" (control: another user)'
layer huge-maxbuf
rc=$?
check "a maxbuf of 0xffffff with layer none: no crash (exit $rc)" test "$rc" -le 1
check_no_grep "... and never another user" 'RESULT ok user=[^a]' "$OUT"
layer self
check_eq "control: a correct reply with authzid alice logs in" 0 $?
check_grep "... as alice" '^RESULT ok user=alice$' "$OUT"
harness_finish
