# One image for every deployable (producer, worker, liveness CLI); docker-compose.yml picks
# the command. Models are fetched and verified against models/manifest.toml at build time.
FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends python3 && rm -rf /var/lib/apt/lists/*
COPY . .
# sqlx's query macros read the schema from the committed .sqlx/: no database at build time.
ENV SQLX_OFFLINE=true
# The image redistributes the models it holds: it leaves out those with a restricted licence
# (the opt-in minifasnet-facenox set's file; mount it into LIVENESS_MODEL_DIR to opt in).
RUN LIVENESS_FETCH_RESTRICTED=false scripts/fetch-models \
 && cargo build --release --locked --workspace --bins \
 && mkdir -p /out/bin /out/models \
 && cp target/release/liveness target/release/liveness-producer target/release/liveness-worker /out/bin/ \
 && cp models/assets/*.onnx /out/models/ \
 && cp -r models/NOTICE models/licenses /out/models/

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /nonexistent liveness
COPY --from=build /out/bin/ /usr/local/bin/
COPY --from=build /out/models/ /opt/liveness/models/
ENV LIVENESS_MODEL_DIR=/opt/liveness/models LISTEN_ADDR=0.0.0.0:8080
USER liveness
EXPOSE 8080
CMD ["liveness-producer"]
