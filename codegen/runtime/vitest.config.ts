import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["*.test.ts", "*.test.tsx"],
    // graphql-ws's server and the tests must share one copy of graphql (it refuses schemas from another module)
    server: { deps: { inline: ["graphql-ws"] } },
  },
});
