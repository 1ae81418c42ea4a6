import createNextIntlPlugin from "next-intl/plugin";

// The pages' language and messages per request: see src/i18n/request.ts.
const withNextIntl = createNextIntlPlugin("./src/i18n/request.ts");

/** @type {import('next').NextConfig} */
const nextConfig = {
  // node-llama-cpp ships native addons: keep it out of the server bundle (it runs in the worker process).
  serverExternalPackages: ["node-llama-cpp"],
  poweredByHeader: false,
  // Types are checked by `npm run typecheck` (CI runs it before the tests); the build need not do it twice.
  typescript: { ignoreBuildErrors: true },
  // A second build folder lets two builds of one checkout run side by side (e.g. tests while developing).
  distDir: process.env.NEXT_DIST_DIR ?? ".next",
  reactStrictMode: true,
  // The pipeline core is TypeScript compiled for Node (NodeNext), whose imports name the compiled `.js`
  // files. Webpack maps them back to the `.ts` sources; Turbopack cannot yet (vercel/next.js#82945), so the
  // app builds and runs with `--webpack`.
  webpack(config) {
    config.resolve.extensionAlias = { ".js": [".ts", ".tsx", ".js"] };
    return config;
  },
};

export default withNextIntl(nextConfig);
