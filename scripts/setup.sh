#!/usr/bin/env bash
# Installs what Coffer needs to build on Debian/Ubuntu: the OpenSSL and SQLite
# development packages, zlib (ZIPFoundation for export bundles; the collector for gzip bodies),
# curl (the demo posts events to `coffer serve`), and jemalloc (the coffer binary's allocator: with glibc's,
# a long ingest's heap grew with its input). Sourced by scripts/demo and scripts/test.
set -euo pipefail

missing=()
for pkg in libssl-dev libsqlite3-dev zlib1g-dev libjemalloc-dev curl; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "coffer setup: installing ${missing[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi
command -v swift >/dev/null 2>&1 || { echo "coffer setup: Swift 6.1 or newer is required (swift not found on PATH)" >&2; exit 1; }
