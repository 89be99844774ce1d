#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test.sh — set everything up and run every test: installs the Debian packages
# (deploy/deps.sh), builds into build/, and runs ctest (unit, BPF and e2e tests).
# BPF and e2e tests need root; with SLUICE_REQUIRE_PRIV=1 they fail instead of skipping.
# Extra arguments go to ctest (e.g. -L unit, -R e2e, --output-on-failure is always on).
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
cd build
ctest --output-on-failure --timeout 900 "$@"
