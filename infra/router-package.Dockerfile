# syntax=docker/dockerfile:1
# The router image of the installed package: the context is the package's dist/router/, which
# already holds the bundle (main.js, dispatcher-thread.js, the dashboard's files), so there is no
# build stage and no npm install. The LambdaDispatch SST component builds it from there
# (npm run build copies this file to dist/router/Dockerfile). By hand:
#   docker build -t lambda-dispatch-router node_modules/lambda-dispatch/dist/router

ARG NODE_VERSION=24
FROM node:${NODE_VERSION}-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --chown=node:node . ./
# The image's unprivileged user (uid 1000).
USER node
# 5001: clients (LAMBDA_DISPATCH_IncomingRequestHTTPPort); 5003: the function's WebSocket
# callbacks (LAMBDA_DISPATCH_ControlChannelInsecureHTTP2Port).
EXPOSE 5001 5003
# On SIGTERM the router drains for LAMBDA_DISPATCH_ShutdownGraceMs and exits 0.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.LAMBDA_DISPATCH_IncomingRequestHTTPPort||5001)+'/_lambda_dispatch/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "--enable-source-maps", "main.js"]
