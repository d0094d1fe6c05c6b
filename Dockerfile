# syntax=docker/dockerfile:1
# s3mux container image: `docker build -t s3mux .`, then
#   docker run -p 9000:9000 -e MINIO_ROOT_USER=admin -e MINIO_ROOT_PASSWORD=change-me-please -v s3mux-data:/data s3mux
# as MinIO's image would be run. README "Run in production" has compose and Kubernetes.

# 1. Build: compile the TypeScript with the dev dependencies.
FROM docker.io/library/node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc tsconfig.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund --ignore-scripts
COPY src ./src
RUN npx tsc -p tsconfig.json

# 2. Production dependencies only (no emulators, test clients or compiler).
FROM docker.io/library/node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund --ignore-scripts

# 3. Runtime.
FROM docker.io/library/node:24-bookworm-slim
ENV NODE_ENV=production \
    S3MUX_ADDRESS=0.0.0.0:9000 \
    S3MUX_DATA_DIR=/data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY package.json ./
# /data: the embedded filesystem backend; /etc/s3mux: a routing table (S3MUX_CONFIG=/etc/s3mux/routing.yaml).
RUN mkdir -p /data /etc/s3mux && chown 1000:1000 /data
VOLUME ["/data"]
EXPOSE 9000
# The image's 'node' user, by number so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["node", "/app/dist/src/healthcheck.js"]
# Exec form: node is PID 1 and receives SIGTERM/SIGINT (graceful stop) and SIGHUP (reload) itself.
# Node's options: src/node-flags.ts (V8's young generation, sized once at start-up; keep the two in step).
ENTRYPOINT ["node", "--max-semi-space-size=8", "--no-concurrent-recompilation", "/app/dist/src/cli.js"]
CMD ["serve"]
