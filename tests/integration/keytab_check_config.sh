#!/bin/bash
# keytab_check_config.sh - 'mailsso-keytab --check-config [FILE]' (the command
# conf/mailsso.conf and mailsso.conf(5) tell users to run) accepts the sample
# conf/mailsso.conf as shipped and with every "//" example enabled (exit 0), and
# on a file with an unknown key and a broken enctype policy reports BOTH
# problems, each as FILE:LINE: key 'NAME': ..., with exit status 1; --config
# FILE --check-config checks the same file; a missing file is exit 1 naming
# it; two files or a command after it are usage errors (exit 2); without FILE
# the default path is checked.
. "$top_srcdir/tests/integration/keytab_lib.sh"
kt_init keytab_check_config

# run_rc VAR CMD...: runs CMD (output in $T/out), stores its exit status in VAR
run_rc() { local __v=$1; shift; "$@" >"$T/out" 2>&1 </dev/null; printf -v "$__v" '%s' "$?"; }

# --- the shipped sample
check "--check-config accepts the sample conf/mailsso.conf" "$KT" --check-config "$SRC/conf/mailsso.conf"
check_grep "... and says it is valid" "^$SRC/conf/mailsso.conf: configuration valid\$" "$CHECK_OUT"
sed 's#^//##' "$SRC/conf/mailsso.conf" >"$T/all-examples.conf"
check "--check-config accepts the sample with every // example enabled" \
    "$KT" --check-config "$T/all-examples.conf"
check "--check-config=FILE works too" "$KT" --check-config="$SRC/conf/mailsso.conf"

# --- a file with two problems: an unknown key (line 3), a broken enctype (line 5)
cat >"$T/bad.conf" <<'EOC'
# two mistakes
log_level = "info";
keytabb = "/etc/mailsso/mail.keytab";
imap = {
  enctypes = "aes des-cbc-crc";
};
EOC
run_rc rc "$KT" --check-config "$T/bad.conf"
check_eq "--check-config on a file with two problems exits 1" 1 "$rc"
check_grep "... reports the unknown key with its line number" \
    "^$T/bad.conf:3: key 'keytabb': unknown key" "$T/out"
check_grep "... reports the broken enctype policy with its line number" \
    "^$T/bad.conf:5: key 'imap.enctypes': .*'des-cbc-crc' is a broken enctype" "$T/out"
check_eq "... both problems, not just the first" 2 "$(grep -c "^$T/bad.conf:[0-9]*: key " "$T/out")"
check_grep "... and a closing line naming the file" "$T/bad.conf is not a valid configuration" "$T/out"
run_rc rc "$KT" --config "$T/bad.conf" --check-config
check_eq "--config FILE --check-config checks FILE (exit 1)" 1 "$rc"
check_grep "... with the same findings" "^$T/bad.conf:3: key 'keytabb'" "$T/out"

# --- missing file, usage errors
run_rc rc "$KT" --check-config "$T/nonexistent.conf"
check_eq "--check-config on a missing file exits 1" 1 "$rc"
check_grep "... naming the file and why" "$T/nonexistent.conf: cannot read the configuration file: No such file" "$T/out"
run_rc rc "$KT" --check-config "$T/bad.conf" "$SRC/conf/mailsso.conf"
check_eq "--check-config with two files is a usage error (exit 2)" 2 "$rc"
run_rc rc "$KT" --check-config "$SRC/conf/mailsso.conf" list
check_eq "--check-config FILE followed by a command is a usage error (exit 2)" 2 "$rc"
run_rc rc "$KT" --config "$T/bad.conf" --check-config "$SRC/conf/mailsso.conf"
check_eq "--config and --check-config naming different files is a usage error (exit 2)" 2 "$rc"

# --- without FILE: the default path (valid or not on this machine, it is the one checked)
default=$("$KT" --help | sed -n 's/.*--check-config \[FILE\].*(default \(.*\))$/\1/p')
printf '%s\n' "$default" >"$T/default"
check_grep "--help names the default configuration path" "/mailsso/mailsso.conf\$" "$T/default"
run_rc rc "$KT" --check-config
if [ -r "$default" ]; then
    check_grep "--check-config without FILE checks $default" "^$default" "$T/out"
else
    check_eq "--check-config without FILE: the missing default $default is exit 1" 1 "$rc"
    check_grep "... naming $default" "^$default: cannot read the configuration file" "$T/out"
fi
harness_finish
