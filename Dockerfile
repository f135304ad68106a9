# toolloop worker / CLI image. Build: docker build -t toolloop:local .
# The entrypoint is the toolloop CLI: `docker run toolloop:local worker`, `... db migrate`, etc.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Read at runtime: drizzle migrations (db migrate) and the example campaign configs.
COPY --from=build /app/migrations ./migrations
COPY --from=build /app/examples ./examples
RUN mkdir -p /data && chown node:node /data
USER node
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["worker"]
