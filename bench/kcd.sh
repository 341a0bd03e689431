# shellcheck shell=bash
bench_kcd() {
    echo "not run: kcd benchmark not written yet"
    return 1
}
