#!/usr/bin/env bash
# Puts Mbed TLS's source tarball, checked against a pinned SHA-256, into a download folder.
#
#   fetch.sh <download-dir>        prints the tarball's path
#
# The source comes from Debian trixie's source package (its orig tarball is upstream's release),
# fetched with apt-get using a private sources list, state and cache under a temporary folder:
# the machine's own apt lists are never read or changed, so this works on bookworm too.
# HILT_MBEDTLS_TARBALL=<file> uses a tarball you already have (it must match the pin).
#
# Exit 0: the tarball is there and matches; 2: bad arguments or a tarball that does not match;
# 3: the source could not be fetched (no network, no apt-get, or the package is gone).
set -euo pipefail

VERSION=3.6.6
DEBIAN_VERSION=3.6.6-0.1~deb13u1
TARBALL=mbedtls_${VERSION}.orig.tar.bz2
SHA256=8fb65fae8dcae5840f793c0a334860a411f884cc537ea290ce1c52bb64ca007a
# trixie, and where a later Debian revision of the same upstream release would go.
SOURCES='deb-src http://deb.debian.org/debian trixie main
deb-src http://deb.debian.org/debian trixie-updates main
deb-src http://deb.debian.org/debian-security trixie-security main'

fail() { echo "fetch.sh: $2" >&2; exit "$1"; }
dest="${1:-}"
[ -n "$dest" ] || fail 2 "give the download folder as the argument"
mkdir -p "$dest" || fail 2 "cannot create the download folder $dest"
target="$dest/$TARBALL"

matches() { [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$SHA256" ]; }

if [ -f "$target" ] && matches "$target"; then echo "$target"; exit 0; fi

if [ -n "${HILT_MBEDTLS_TARBALL:-}" ]; then
  [ -f "$HILT_MBEDTLS_TARBALL" ] || fail 2 "HILT_MBEDTLS_TARBALL=$HILT_MBEDTLS_TARBALL: no such file: point it at $TARBALL or unset it"
  matches "$HILT_MBEDTLS_TARBALL" || fail 2 "HILT_MBEDTLS_TARBALL=$HILT_MBEDTLS_TARBALL: SHA-256 is not the pinned $SHA256: use Mbed TLS $VERSION's $TARBALL"
  cp "$HILT_MBEDTLS_TARBALL" "$target.part" && mv "$target.part" "$target"
  echo "$target"; exit 0
fi

command -v apt-get >/dev/null 2>&1 || fail 3 "apt-get not found: fetch $TARBALL (SHA-256 $SHA256) yourself and set HILT_MBEDTLS_TARBALL to it"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
mkdir -p "$work/parts" "$work/lists/partial" "$work/cache/archives/partial" "$work/dl"
echo "$SOURCES" > "$work/sources.list"
apt=(-o "Dir::Etc::sourcelist=$work/sources.list" -o "Dir::Etc::sourceparts=$work/parts"
     -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o Debug::NoLocking=1
     -o APT::Sandbox::User="$(id -un)" -o Acquire::Retries=2 -q)
apt-get "${apt[@]}" update > "$work/log" 2>&1 ||
  fail 3 "apt-get update of Debian trixie's source lists failed ($(grep -E '^(E|W|Err):' "$work/log" | head -1)): check the network, or set HILT_MBEDTLS_TARBALL"
# The pinned Debian revision first; should Debian have replaced it, any revision of the same
# upstream release carries the same orig tarball (the checksum below decides).
versions="$DEBIAN_VERSION $(apt-cache "${apt[@]}" showsrc mbedtls 2>/dev/null | sed -n "s/^Version: \(${VERSION//./\\.}-.*\)/\1/p" | grep -vxF "$DEBIAN_VERSION" || true)"
for v in $versions; do
  (cd "$work/dl" && apt-get "${apt[@]}" source --download-only "mbedtls=$v") > "$work/log" 2>&1 && break
done
[ -f "$work/dl/$TARBALL" ] ||
  fail 3 "apt-get source mbedtls=$DEBIAN_VERSION failed ($(grep -E '^(E|W|Err):' "$work/log" | head -1)): set HILT_MBEDTLS_TARBALL to a copy of $TARBALL"
matches "$work/dl/$TARBALL" || fail 2 "$TARBALL from Debian has SHA-256 $(sha256sum "$work/dl/$TARBALL" | cut -d' ' -f1), not the pinned $SHA256: refusing it"
mv "$work/dl/$TARBALL" "$target.part" && mv "$target.part" "$target"
echo "$target"
