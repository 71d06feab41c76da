#!/usr/bin/env bash
# The image's build stage as a script: produces the runtime tree that the final stage of
# deploy/docker/Dockerfile copies to /app, and that CI starts the apps from.
#
#   bash scripts/build-runtime.sh OUT_DIR [PACKAGE_DIR...]
#
# PACKAGE_DIR: the entry packages (default apps/proxy apps/discovery apps/ctl, the production images);
# the dev overlay's simulator image is built from its own tree (packages/vllm-sim), so the production
# tree holds no simulator.
#
# TypeScript runs on Node 24 by type stripping, which Node applies only outside node_modules, so the
# workspace packages keep their real paths (apps/proxy, packages/core, ...) and pnpm links them; a
# `pnpm deploy` copy would put them under node_modules and they would not run. The tree holds:
#   - the workspace manifests (package.json of every package, the lockfile), so --frozen-lockfile holds;
#   - src/ of the packages the apps need at run time (proxy, discovery, ctl and their workspace
#     dependencies), without tests;
#   - node_modules with production dependencies only (pnpm install --prod), relative symlinks only.
# Needs bash, node and pnpm (the versions of package.json's packageManager and .node-version).
# PNPM_STORE_DIR, when set, is the pnpm store to install from (the image build keeps it on a cache mount).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:?usage: bash scripts/build-runtime.sh OUT_DIR [PACKAGE_DIR...]}
shift
# The apps the images run; their workspace dependencies are added below.
ENTRY_PACKAGES=(apps/proxy apps/discovery apps/ctl)
[ $# -gt 0 ] && ENTRY_PACKAGES=("$@")

log() { printf '[build-runtime] %s\n' "$*" >&2; }

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
if [ -n "$(ls -A "$OUT")" ]; then
  log "$OUT is not empty: give a new or empty directory"
  exit 1
fi

# Workspace package directories, and the runtime closure of the entry packages over workspace:* deps.
mapfile -t ALL_PACKAGES < <(cd "$ROOT" && node -e '
  const { readFileSync, existsSync, readdirSync } = require("node:fs");
  const globs = readFileSync("pnpm-workspace.yaml", "utf8").split("\n")
    .map((l) => l.match(/^\s*-\s*["\x27]?([^"\x27#]+?)["\x27]?\s*$/)?.[1]).filter(Boolean);
  for (const g of globs) {
    const dirs = g.endsWith("/*") ? readdirSync(g.slice(0, -2)).map((d) => `${g.slice(0, -2)}/${d}`) : [g];
    for (const d of dirs) if (existsSync(`${d}/package.json`)) console.log(d);
  }')
mapfile -t RUNTIME_PACKAGES < <(cd "$ROOT" && node -e '
  const { readFileSync } = require("node:fs");
  const dirs = process.argv.slice(1);
  const entries = dirs.splice(0, Number(dirs.shift()));
  const byName = new Map(dirs.map((d) => [JSON.parse(readFileSync(`${d}/package.json`, "utf8")).name, d]));
  const seen = new Set();
  const visit = (d) => {
    if (seen.has(d)) return;
    seen.add(d);
    const deps = JSON.parse(readFileSync(`${d}/package.json`, "utf8")).dependencies ?? {};
    for (const [name, spec] of Object.entries(deps)) {
      if (!String(spec).startsWith("workspace:")) continue;
      const dep = byName.get(name);
      if (!dep) throw new Error(`${d}: workspace dependency ${name} not found`);
      visit(dep);
    }
  };
  entries.forEach(visit);
  console.log([...seen].sort().join("\n"));' "${#ENTRY_PACKAGES[@]}" "${ENTRY_PACKAGES[@]}" "${ALL_PACKAGES[@]}")

log "runtime packages: ${RUNTIME_PACKAGES[*]}"
cp "$ROOT/package.json" "$ROOT/pnpm-workspace.yaml" "$ROOT/pnpm-lock.yaml" "$OUT/"
[ -f "$ROOT/.npmrc" ] && cp "$ROOT/.npmrc" "$OUT/"
# The lockfile records the pnpmfile's checksum: --frozen-lockfile needs the same file.
[ -f "$ROOT/.pnpmfile.cjs" ] && cp "$ROOT/.pnpmfile.cjs" "$OUT/"
for dir in "${ALL_PACKAGES[@]}"; do
  mkdir -p "$OUT/$dir"
  cp "$ROOT/$dir/package.json" "$OUT/$dir/"
done
for dir in "${RUNTIME_PACKAGES[@]}"; do
  # src/ without tests or test fixtures; everything an app loads at run time lives under src/.
  (cd "$ROOT/$dir" && find src -type f ! -name '*.test.ts' ! -path '*/__fixtures__/*' ! -path '*/test-support/*' -print0) |
    (cd "$ROOT/$dir" && xargs -0 -I{} cp --parents {} "$OUT/$dir/")
done

# Every package of the closure named explicitly (a path selector's `...` suffix is not read as "and its
# dependencies"), so each gets its own production node_modules.
FILTERS=()
for dir in "${RUNTIME_PACKAGES[@]}"; do FILTERS+=(--filter "./$dir"); done
log "pnpm install --prod --frozen-lockfile ${FILTERS[*]}"
STORE_ARGS=()
[ -n "${PNPM_STORE_DIR:-}" ] && STORE_ARGS=(--store-dir "$PNPM_STORE_DIR")
(cd "$OUT" && CI=1 pnpm install "${STORE_ARGS[@]}" --prod --frozen-lockfile --prefer-offline --ignore-scripts \
  --config.confirmModulesPurge=false --reporter=append-only "${FILTERS[@]}" >&2)

# Type declarations and source maps are never loaded at run time: about half of node_modules' size.
# (The files are hard links into pnpm's store; removing a link leaves the store intact.)
find "$OUT/node_modules/.pnpm" -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete

# The tree is copied into an image: a symlink that points outside it would dangle there.
bad_links=$(cd "$OUT" && find . -type l -lname '/*' | head -5)
if [ -n "$bad_links" ]; then
  log "absolute symlinks in the runtime tree: $bad_links"
  exit 1
fi
log "runtime tree ready in $OUT ($(du -sh "$OUT" | cut -f1))"
