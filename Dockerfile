# TokenSlipper's two images, built from one file: `--target proxy` and `--target admin` (the admin
# service with the admin web app). docker-compose.yml builds both.
#
# Layers are ordered so that a code change does not rebuild the dependencies: cargo-chef compiles
# every dependency from a recipe made of the manifests alone, and only then is the source copied in.
# Tool versions are pinned to the ones admin-web's Trunk.toml and Cargo.lock expect.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# ---- tools ---------------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS chef
RUN cargo install cargo-chef --version 0.1.78 --locked
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# ---- the two server binaries ---------------------------------------------------------------------
FROM chef AS server-build
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json -p proxy -p admin-api
COPY . .
RUN cargo build --release --locked -p proxy -p admin-api \
 && cp target/release/tokenslipper-proxy target/release/tokenslipper-admin /usr/local/bin/

# ---- the admin web app ---------------------------------------------------------------------------
# wasm-opt from npm's binaryen (Debian's binaryen 108 produces broken modules).
FROM node:20-${DEBIAN_RELEASE}-slim AS wasm-opt
RUN npm install --no-audit --no-fund --prefix /opt/binaryen binaryen@132

FROM chef AS web-build
RUN rustup target add wasm32-unknown-unknown \
 && cargo install trunk --version 0.21.14 --locked \
 && cargo install wasm-bindgen-cli --version 0.2.130
COPY --from=wasm-opt /usr/local/bin/node /usr/local/bin/node
COPY --from=wasm-opt /opt/binaryen /opt/binaryen
ENV PATH=/opt/binaryen/node_modules/.bin:$PATH
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --profile wasm-release --locked --target wasm32-unknown-unknown --recipe-path recipe.json -p admin-web
COPY . .
RUN cd admin-web && trunk build --release

# ---- runtime images ------------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --create-home tokenslipper \
 && install -d -o tokenslipper /app/spool
WORKDIR /app
USER tokenslipper
# glibc gives each thread that allocates its own arena; under load the admin API's worker and
# blocking threads then hold 10-15 MB more than two arenas need, at no gain in speed (BENCHMARKS.md).
# The proxy allocates with mimalloc, which does not read it.
ENV MALLOC_ARENA_MAX=2

FROM runtime AS proxy
COPY --from=server-build /usr/local/bin/tokenslipper-proxy /usr/local/bin/tokenslipper-proxy
ENV PROXY_HOST=0.0.0.0 PROXY_PORT=8000 LOG_SPOOL_DIR=/app/spool
# mimalloc keeps freed memory for a second (its default) before handing it back; at 256 concurrent
# logged requests that held ~15 MB more than keeping it 10 ms; handing it back at once (0) costs the
# proxy a sixth more CPU per request (BENCHMARKS.md).
ENV MIMALLOC_PURGE_DELAY=10
EXPOSE 8000
# bash's /dev/tcp: no curl needed in the image. /health answers 200 while the proxy serves and
# MySQL keeps up with its records.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${PROXY_PORT:-8000} && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/tokenslipper-proxy"]

FROM runtime AS admin
COPY --from=server-build /usr/local/bin/tokenslipper-admin /usr/local/bin/tokenslipper-admin
COPY --from=web-build /src/admin-web/dist /app/admin-web
ENV ADMIN_HOST=0.0.0.0 ADMIN_PORT=8080 ADMIN_WEB_DIR=/app/admin-web
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${ADMIN_PORT:-8080} && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/tokenslipper-admin"]
