# A Strata node (docker-compose.yml runs three). Build: docker build -t strata-node .
FROM node:20-bookworm-slim

# runc runs the containers, busybox-static is the in-container toolbox, attr (setfattr) the overlay
# snapshotter's opaque-directory xattrs. python3/make/g++ only in case better-sqlite3 has no prebuilt binary.
RUN apt-get update \
 && apt-get install -y --no-install-recommends runc busybox-static attr ca-certificates python3 make g++ \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build

ENV STRATA_DATA_DIR=/data \
    STRATA_PORT=7070 \
    STRATA_LOG_FORMAT=json
VOLUME /data
EXPOSE 7070
# Configured by environment (STRATA_NATS_URL, STRATA_NATS_REPLICAS, STRATA_NODE_ID, …: README, "Configuration").
CMD ["node", "bin/strata.js", "serve", "--host", "0.0.0.0"]
