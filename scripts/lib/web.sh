# The web client's build (src/Sealpost.Web into dist/). Sourced by scripts/lib.sh.
# shellcheck shell=bash

# Builds the web client into src/Sealpost.Web/dist with the pinned toolchain of its package-lock.json. `npm ci` runs
# only when the lock file changed since the last install (install scripts off: esbuild needs none), so a rebuild is fast.
build_web_page() {
  local web="$SEALPOST_ROOT/src/Sealpost.Web"
  command -v npm >/dev/null || need_packages nodejs npm
  if ! cmp -s "$web/package-lock.json" "$web/node_modules/.sealpost-installed-lock" 2>/dev/null; then
    (cd "$web" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2) || return 1
    cp "$web/package-lock.json" "$web/node_modules/.sealpost-installed-lock"
  fi
  (cd "$web" && npx --no-install tsc --noEmit -p . >&2 && node build.mjs >&2)
}
