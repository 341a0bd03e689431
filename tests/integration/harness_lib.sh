#!/bin/bash
# harness_lib.sh - the harness's own plumbing: pick_port hands out distinct
# unused ports, harness_spawn/harness_stop work by saved PID (SIGKILL for a
# process that ignores SIGTERM, zombies count as dead), with_hosts resolves
# the *.example.test names to 127.0.0.1 both via unshare and libnss-wrapper,
# require_cmd skips (77) but fails (99) under CI=true, and the checks report
# a crash in check_fails and a mismatch in check_eq as FAIL.
set -u
. "$top_srcdir/tests/harness/lib.sh"
harness_init harness_lib
require_cmd getent

# --- ports
ports=()
for i in $(seq 20); do ports+=("$(pick_port)"); done
check_eq "20 pick_port calls give 20 distinct ports" 20 "$(printf '%s\n' "${ports[@]}" | sort -u | wc -l)"
busy=0
for p in "${ports[@]}"; do [ "$(port_users "$p")" = 0 ] || busy=$((busy + 1)); done
check_eq "none of them is in use" 0 "$busy"
check "each picked port is reserved for this test" test -d "$(harness_port_dir)/${ports[0]}"
check_fails "wait_port gives up on a port nobody listens on" wait_port "${ports[1]}" 1

# --- processes
harness_spawn sleeper sleep 30
pid=$(harness_pid sleeper)
check "harness_spawn saves the PID of the program itself" test "$(cat "/proc/$pid/comm" 2>/dev/null)" = sleep
check "harness_alive sees it" harness_alive sleeper
harness_stop sleeper
check_fails "harness_stop ends it" pid_alive "$pid"
check_fails "... and forgets its PID" test -e "$T/pids/sleeper"

harness_spawn stubborn sh -c 'trap "" TERM; exec sleep 30'
pid=$(harness_pid stubborn)
sleep 0.1
HARNESS_STOP_TIMEOUT=1 harness_stop stubborn 2>/dev/null
check_fails "a process ignoring SIGTERM is killed after the timeout" pid_alive "$pid"

sh -c 'sleep 0.05 & echo $! >"$1"; exec sleep 3' sh "$T/zombie.pid" &
reaper=$!
sleep 0.4
zpid=$(cat "$T/zombie.pid")
check_eq "the test zombie is in state Z" Z "$(proc_state "$zpid")"
check_fails "pid_alive treats a zombie as dead" pid_alive "$zpid"
kill "$reaper" 2>/dev/null; wait "$reaper" 2>/dev/null

# --- with_hosts
check_eq "with_hosts: mail.example.test is 127.0.0.1" 127.0.0.1 \
    "$(with_hosts getent hosts mail.example.test | awk '{print $1}')"
check_eq "with_hosts: gw.example.test is 127.0.0.1" 127.0.0.1 \
    "$(with_hosts getent hosts gw.example.test | awk '{print $1}')"
hosts_add extra.example.test 127.0.0.2
check_eq "hosts_add adds a name" 127.0.0.2 "$(with_hosts getent hosts extra.example.test | awk '{print $1}')"
harness_spawn hosted with_hosts sleep 30
pid=$(harness_pid hosted)
sleep 0.1
check_eq "harness_spawn NAME with_hosts PROG saves PROG's own PID" sleep "$(cat "/proc/$pid/comm" 2>/dev/null)"
harness_stop hosted
check_fails "... and harness_stop ends it" pid_alive "$pid"
if harness_nss_wrapper_lib >/dev/null; then
    HOSTS_VIA=nss harness_spawn hosted_nss with_hosts sleep 30
    pid=$(harness_pid hosted_nss)
    sleep 0.1
    check_eq "the same with libnss-wrapper (HOSTS_VIA=nss)" sleep "$(cat "/proc/$pid/comm" 2>/dev/null)"
    check "... running with NSS_WRAPPER_HOSTS set" grep -qz '^NSS_WRAPPER_HOSTS=' "/proc/$pid/environ"
    harness_stop hosted_nss
fi
if harness_nss_wrapper_lib >/dev/null; then
    check_eq "HOSTS_VIA=nss (libnss-wrapper): mx1.example.test is 127.0.0.1" 127.0.0.1 \
        "$(HOSTS_VIA=nss with_hosts getent hosts mx1.example.test | awk '{print $1}')"
elif [ "${CI:-}" = true ]; then
    check "libnss_wrapper.so is installed (Debian package libnss-wrapper)" false
fi
check_grep "the real /etc/hosts is untouched" . /etc/hosts
check_no_grep "... and does not know mail.example.test" 'mail\.example\.test' /etc/hosts

# --- require_cmd and the checks themselves (in subshells: they exit)
(CI= require_cmd no-such-command-xyz) >"$T/req.out" 2>&1
check_eq "require_cmd of a missing command skips (77)" 77 "$?"
check_grep "... printing the reason" "SKIP: no-such-command-xyz not available" "$T/req.out"
(CI=true require_cmd no-such-command-xyz) >"$T/req-ci.out" 2>&1
check_eq "require_cmd under CI=true fails (99)" 99 "$?"
(HARNESS_PASS=0 HARNESS_FAIL=0; check_fails "x" sh -c 'kill -SEGV $$'; harness_finish) >"$T/crash.out" 2>&1
check_eq "check_fails counts a crash as a failure (harness_finish exits 1)" 1 "$?"
check_grep "... saying it crashed" "FAIL: x \(expected a clean failure, got a crash: signal 11" "$T/crash.out"
(check_eq "y" one two) >"$T/eq.out" 2>&1
check_grep "check_eq shows expected and actual" "FAIL: y \(expected 'one', got 'two'\)" "$T/eq.out"
(HARNESS_PASS=0 HARNESS_FAIL=0; harness_finish) >"$T/none.out" 2>&1
check_eq "harness_finish with no check at all fails" 1 "$?"
harness_finish
