#!/usr/bin/env bash
# Installs what building and browser-testing admin-web needs, each only when missing:
# the wasm32 target, trunk and wasm-bindgen-cli at the versions admin-web pins, wasm-opt from
# npm's binaryen (Debian's binaryen 108 produces broken modules), Chromium, ChromeDriver and a CJK font.
# Prints the directory to put on PATH for wasm-opt. With --no-browser, only what building needs.
set -euo pipefail

browser=yes
[ "${1-}" = --no-browser ] && browser=no

TRUNK_VERSION=0.21.14
# Must equal the wasm-bindgen crate in Cargo.lock, or trunk tries to download a matching CLI.
WASM_BINDGEN_VERSION=0.2.130
BINARYEN_VERSION=132
TOOLS_DIR=${TOKENSLIPPER_TOOLS_DIR:-$HOME/.cache/tokenslipper-tools}

log() { echo "ensure-web-tools: $*" >&2; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown >&2
fi

if ! trunk --version 2>/dev/null | grep -q "$TRUNK_VERSION"; then
  log "installing trunk $TRUNK_VERSION (a few minutes, once)"
  cargo install trunk --version "$TRUNK_VERSION" --locked --quiet >&2
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Without --locked: the crates mirror can lag behind the lock file the tool was published with.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --quiet >&2
fi

if ! "$TOOLS_DIR/node_modules/.bin/wasm-opt" --version 2>/dev/null | grep -q "version $BINARYEN_VERSION"; then
  log "installing wasm-opt (npm binaryen@$BINARYEN_VERSION) into $TOOLS_DIR"
  mkdir -p "$TOOLS_DIR"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS_DIR" "binaryen@$BINARYEN_VERSION" >&2
fi

if [ $browser = yes ] && { ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; }; then
  log "installing chromium and chromium-driver"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# A CJK font, so the screenshots of the 简体中文 pages show characters rather than boxes.
if [ $browser = yes ] && [ ! -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then
  log "installing fonts-wqy-microhei"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null \
    || { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null; }
fi

echo "$TOOLS_DIR/node_modules/.bin"
