# hookd: multi-stage build on Debian 12, the same packages and CMake steps as
# scripts/run (build stage) and scripts/deps.sh (runtime libraries).
FROM debian:12-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake pkg-config \
      libevent-dev libyajl-dev libhiredis-dev libssl-dev libzstd-dev libjemalloc-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake cmake
COPY conf conf
COPY reactor reactor
COPY handlers handlers
COPY store store
COPY tests tests
COPY bench bench
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release \
 && cmake --build build -j"$(nproc)" --target hookd

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libevent-core-2.1-7 libevent-extra-2.1-7 libevent-openssl-2.1-7 \
      libyajl2 libhiredis0.14 libssl3 libzstd1 libjemalloc2 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home hookd
COPY --from=build /src/build/hookd /usr/local/bin/hookd
COPY conf/hookd.conf /etc/hookd/hookd.conf
USER hookd
ENV HOOKD_LISTEN=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["/usr/local/bin/hookd", "--config", "/etc/hookd/hookd.conf"]
