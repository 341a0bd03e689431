#!/bin/sh
# build.sh - configure (once) and build mailsso out of tree in $BUILD_DIR (default ./build).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$top/build}
JOBS=${JOBS:-2}
cd "$top"
if [ ! -x ./configure ] || [ configure.ac -nt ./configure ]; then
    ./autogen.sh
fi
mkdir -p "$BUILD_DIR"
cd "$BUILD_DIR"
if [ ! -f Makefile ] || [ config.status -ot "$top/configure" ]; then
    "$top/configure" --enable-werror ${CONFIGURE_FLAGS:-}
fi
make -j"$JOBS"
