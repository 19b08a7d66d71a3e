# syntax=docker/dockerfile:1
# The lambda-dispatch router image. Context: the app root (sst.config.ts builds it with
#   image: { context: ".", dockerfile: "infra/router.Dockerfile" }).
# By hand:  docker build -f infra/router.Dockerfile -t lambda-dispatch-router .
#           docker run -p 5001:5001 -e LAMBDA_DISPATCH_FunctionName=my-function lambda-dispatch-router
#
# Stage 1 runs `npm run build` (esbuild; see infra/build.ts) on the build machine's own platform:
# the bundle is plain JavaScript, so an arm64 image builds on an x86 machine without emulation.
# Stage 2 is the runtime: node and the bundle, nothing else (no node_modules, no tsx, no npm
# install), and no RUN step either, for the same reason.

ARG NODE_VERSION=24

FROM --platform=$BUILDPLATFORM node:${NODE_VERSION}-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: nothing the bundle needs has an install step (esbuild's binary comes as an
# optional dependency).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build -- --router-only

FROM node:${NODE_VERSION}-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app/dist/router/ ./
# The image's unprivileged user (uid 1000).
USER node
# 5001: clients (LAMBDA_DISPATCH_IncomingRequestHTTPPort); 5003: the function's WebSocket
# callbacks (LAMBDA_DISPATCH_ControlChannelInsecureHTTP2Port).
EXPOSE 5001 5003
# On SIGTERM the router stops accepting requests, lets in-flight ones finish for up to
# LAMBDA_DISPATCH_ShutdownGraceMs (20 s), releases its Lambda instances and exits 0. ECS sends
# SIGTERM after the load balancer has deregistered the task and SIGKILL after stopTimeout (30 s).
STOPSIGNAL SIGTERM
# For `docker run` and Compose. ECS ignores image health checks: the service defines the same
# check in its task definition, and the load balancer probes the same path.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.LAMBDA_DISPATCH_IncomingRequestHTTPPort||5001)+'/_lambda_dispatch/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "--enable-source-maps", "main.js"]
