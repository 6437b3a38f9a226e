#!/usr/bin/env bash
# Install the system packages the test suite starts for real: PostgreSQL server binaries
# (graveyar's postgres backend tests run initdb + postgres on loopback) and Chromium (the web UIs
# are tested in a real browser through playwright, which drives Debian's chromium; playwright's
# own browser download is not reachable from here).
set -euo pipefail
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# the docs' shell examples run as written (tests/test_doc_shell_examples.py): curl, make
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v make >/dev/null 2>&1 || missing+=(make)
# graveyar's TLS tests make a throwaway certificate with the openssl CLI
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing system packages (apt): ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
ls -d /usr/lib/postgresql/*/bin/initdb
command -v chromium
