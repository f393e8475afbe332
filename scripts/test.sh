#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs what is missing (Debian
# packages need root), builds, checks types (tests included), formatting and layering, then runs unit,
# integration and drill tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run --silent build
npx tsc -p tsconfig.check.json
npx prettier --check --log-level warn src lab bench geodata test scripts vitest.config.ts
node scripts/check-layers.mjs
npx vitest run "$@"
