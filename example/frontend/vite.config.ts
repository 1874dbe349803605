// Two pages: the app (index.html) and GraphiQL with local assets (graphiql.html), both served by Django:
// the HTML files from dist/, everything they load from /assets/ (see example_project/urls.py).
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 4000,
    rollupOptions: {
      input: { app: "index.html", graphiql: "graphiql.html" },
      onLog(level, log, handler) {
        // graphiql's react-compiler-runtime starts with "use no memo", harmless once bundled.
        if (log.code === "MODULE_LEVEL_DIRECTIVE") return;
        handler(level, log);
      },
    },
  },
  server: {
    // `npm run dev`: the Django example on :8000 serves the API and the websocket.
    proxy: {
      "/graphql": { target: "http://127.0.0.1:8000", ws: true },
      "/api": "http://127.0.0.1:8000",
    },
  },
});
