#!/bin/bash
# harness_parallel.sh - two tests running at the same time get two KDCs on
# different ports with separate databases (no SO_REUSEPORT cross-talk), and a
# test that dies without kdc_stop still has its KDC killed and its temp dir
# removed by the harness.
set -u
. "$top_srcdir/tests/harness/lib.sh"
harness_init harness_parallel
require_cmd krb5kdc kdb5_util kadmin.local kinit

# A child test: own harness_init, own KDC, alice with its own password. It
# reports its port and KDC PID, waits until the sibling is up too, then
# kinits 10 times: if the two KDCs shared a port, about half of these would
# reach the other KDC and fail ("Password incorrect").
cat >"$T/child.sh" <<'CHILD'
set -u
. "$top_srcdir/tests/harness/lib.sh"
harness_init harness_parallel_child
ALICE_PW=$1
out=$2
kdc_start
printf '%s %s %s\n' "$KDC_PORT" "$(harness_pid krb5kdc)" "$T" >"$out.info"
for i in $(seq 200); do [ -e "$out.go" ] && break; sleep 0.05; done
ok=0
for i in $(seq 10); do kdc_kinit alice "$ALICE_PW" "$T/cc$i" && ok=$((ok + 1)); done
echo "$ok" >"$out.ok"
# wait for the parent's signal to quit (it inspects us meanwhile)
for i in $(seq 200); do [ -e "$out.quit" ] && break; sleep 0.05; done
[ "${3:-}" = die ] && exit 3   # dies without kdc_stop: the EXIT trap must clean up
kdc_stop
exit 0
CHILD

bash "$T/child.sh" "pw-one-$RANDOM" "$T/a" >"$T/a.log" 2>&1 &
pid_a=$!
bash "$T/child.sh" "pw-two-$RANDOM" "$T/b" die >"$T/b.log" 2>&1 &
pid_b=$!
for i in $(seq 200); do [ -s "$T/a.info" ] && [ -s "$T/b.info" ] && break; sleep 0.05; done
check "both child KDCs started" test -s "$T/a.info" -a -s "$T/b.info"
read -r port_a kdc_a dir_a <"$T/a.info" || true
read -r port_b kdc_b dir_b <"$T/b.info" || true
check_fails "the two KDCs got different ports ($port_a, $port_b)" test "$port_a" = "$port_b"
check "KDC A owns its port alone" port_owned_by "$port_a" "$kdc_a"
check "KDC B owns its port alone" port_owned_by "$port_b" "$kdc_b"
check_fails "the two tests got different temp dirs" test "$dir_a" = "$dir_b"
touch "$T/a.go" "$T/b.go"
for i in $(seq 200); do [ -s "$T/a.ok" ] && [ -s "$T/b.ok" ] && break; sleep 0.05; done
check_eq "child A: 10 of 10 kinits reached its own KDC" 10 "$(cat "$T/a.ok" 2>/dev/null)"
check_eq "child B: 10 of 10 kinits reached its own KDC" 10 "$(cat "$T/b.ok" 2>/dev/null)"
touch "$T/a.quit" "$T/b.quit"
wait "$pid_a"; rc_a=$?
wait "$pid_b"; rc_b=$?
check_eq "child A ends cleanly" 0 "$rc_a"
check_eq "child B dies with its own status (3)" 3 "$rc_b"
check_fails "child A's KDC is gone" pid_alive "$kdc_a"
check_fails "child B's KDC is gone although it never called kdc_stop" pid_alive "$kdc_b"
check_fails "child A's temp dir is removed" test -e "$dir_a"
check_fails "child B's temp dir is removed" test -e "$dir_b"
check_fails "child B's port reservation is released" test -e "$(harness_port_dir)/$port_b"
if [ "$HARNESS_FAIL" -gt 0 ]; then
    echo "--- child A"; cat "$T/a.log"; echo "--- child B"; cat "$T/b.log"
fi
harness_finish
