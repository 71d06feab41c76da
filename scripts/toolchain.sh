# Sourced by scripts/run.sh and .ci/run: puts a Node >= 22.19 and the pinned pnpm first on PATH and
# installs the workspace's dependencies when the lockfile changed. Everything lands in .toolchain/.
# Only the npm registry is used (the `node` package carries the Node binary).

PDR_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PDR_TOOLCHAIN="$PDR_ROOT/.toolchain"
PDR_NODE_MAJOR=24
PDR_NODE_MIN="22.19.0"
PDR_PNPM_VERSION=$(sed -n 's/.*"packageManager": *"pnpm@\([^"]*\)".*/\1/p' "$PDR_ROOT/package.json")

pdr_log() { printf '[toolchain] %s\n' "$*" >&2; }

pdr_node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e "const [a,b]=process.versions.node.split('.').map(Number);const [x,y]=process.argv[1].split('.').map(Number);process.exit(a>x||(a===x&&b>=y)?0:1)" "$PDR_NODE_MIN" 2>/dev/null
}

pdr_ensure_node() {
  export PATH="$PDR_TOOLCHAIN/bin:$PATH"
  pdr_node_ok && return 0
  command -v npm >/dev/null 2>&1 || { pdr_log "no npm found: install Node.js (any version with npm) first"; return 1; }
  pdr_log "Node $(node --version 2>/dev/null || echo none) is older than $PDR_NODE_MIN: installing node@$PDR_NODE_MAJOR into .toolchain/"
  npm install --global --prefix "$PDR_TOOLCHAIN" --no-audit --no-fund --loglevel=error --allow-scripts=node "node@$PDR_NODE_MAJOR" >&2 2>/dev/null ||
    npm install --global --prefix "$PDR_TOOLCHAIN" --no-audit --no-fund --loglevel=error "node@$PDR_NODE_MAJOR" >&2
  hash -r
  pdr_node_ok || { pdr_log "node@$PDR_NODE_MAJOR did not install: $(command -v node) is $(node --version)"; return 1; }
}

pdr_ensure_pnpm() {
  if command -v pnpm >/dev/null 2>&1 && [ "$(pnpm --version 2>/dev/null)" = "$PDR_PNPM_VERSION" ]; then return 0; fi
  pdr_log "installing pnpm@$PDR_PNPM_VERSION into .toolchain/"
  npm install --global --prefix "$PDR_TOOLCHAIN" --no-audit --no-fund --loglevel=error "pnpm@$PDR_PNPM_VERSION" >&2
  hash -r
}

pdr_ensure_deps() {
  local stamp="$PDR_ROOT/node_modules/.pdrouter-lock"
  if [ -f "$stamp" ] && cmp -s "$stamp" "$PDR_ROOT/pnpm-lock.yaml"; then return 0; fi
  pdr_log "installing workspace dependencies (pnpm install --frozen-lockfile)"
  (cd "$PDR_ROOT" && pnpm install --frozen-lockfile --reporter=silent >&2) || return 1
  cp "$PDR_ROOT/pnpm-lock.yaml" "$stamp"
}

pdr_toolchain() {
  pdr_ensure_node && pdr_ensure_pnpm && pdr_ensure_deps || return 1
  export PATH="$PDR_ROOT/node_modules/.bin:$PATH"
}
