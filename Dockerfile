# dadmm's agent and its command-line client, in a small Debian 12 image.
#   docker build -t dadmm:latest .
#   docker run --rm -v $PWD/node-1.yaml:/etc/dadmm/node.yaml:ro ... dadmm:latest
# The runtime image reads its config, topology and private data from mounted files (by default
# /etc/dadmm/node.yaml, whose paths are relative to /etc/dadmm) and writes its result where the config
# says (/var/lib/dadmm/results, and /var/lib/dadmm/state for its checkpoint, are the image's writable
# places). docker-compose.yml runs seven of them.
# Checked without a Docker engine by deploy/docker/check-dockerfile.sh (a clean debootstrap root).

# --- build: the compilers and -dev packages, then only the two programs ---
FROM debian:bookworm-slim AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      g++ make cmake pkg-config \
      libgrpc++-dev protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libssl-dev \
      libabsl-dev libeigen3-dev libyaml-cpp-dev prometheus-cpp-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY proto proto
COPY common common
COPY coordinator-free-bootstrap coordinator-free-bootstrap
COPY agent agent
COPY bench bench
COPY tools tools
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DDADMM_BUILD_TESTS=OFF -DDADMM_PACKAGE=OFF \
 && cmake --build build -j "$(nproc)" --target dadmm-agent dadmm-ctl \
 && strip build/agent/dadmm-agent build/agent/dadmm-ctl

# --- runtime: the shared libraries the programs link, a user, and the programs ---
FROM debian:bookworm-slim
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgrpc++1.51 libprotobuf32 libyaml-cpp0.7 libssl3 libprometheus-cpp-pull1.0 \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/dadmm --shell /usr/sbin/nologin dadmm \
 && mkdir -p /etc/dadmm /var/lib/dadmm/results /var/lib/dadmm/state \
 && chown -R dadmm:dadmm /var/lib/dadmm
COPY --from=build /src/build/agent/dadmm-agent /src/build/agent/dadmm-ctl /usr/local/bin/
USER dadmm
WORKDIR /var/lib/dadmm
EXPOSE 50051
# Healthy while the agent answers its Status RPC (set DADMM_STATUS_ADDRESS if it listens elsewhere).
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
  CMD dadmm-ctl status "${DADMM_STATUS_ADDRESS:-127.0.0.1:50051}" ${DADMM_CTL_TLS:-} > /dev/null || exit 1
CMD ["dadmm-agent", "--config=/etc/dadmm/node.yaml"]
