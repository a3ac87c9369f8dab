# The Gatehouse image: the web process (`node src/main.ts`) and the worker (`node src/worker.ts`).
# It runs on the base image's Node.js 24. The `node` npm package (what lets `npm install && npm
# start` work on a machine with an older Node) is left out: its install script is the only one
# among our dependencies, so `--ignore-scripts` skips its download, and its stub is removed.
FROM node:24-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && rm -rf node_modules/node node_modules/.bin/node \
  && npm cache clean --force
COPY bin ./bin
COPY config ./config
COPY migrations ./migrations
COPY src ./src
COPY views ./views
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --retries=6 CMD node -e "fetch('http://127.0.0.1:3000/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Migrations run on start, under a Postgres advisory lock: any number of replicas may start at once.
CMD ["node", "src/main.ts"]
