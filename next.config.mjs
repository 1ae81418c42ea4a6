/** @type {import('next').NextConfig} */
const nextConfig = {
  // node-llama-cpp ships native addons: keep it out of the server bundle (it runs in the worker process).
  serverExternalPackages: ["node-llama-cpp"],
  poweredByHeader: false,
  reactStrictMode: true,
};

export default nextConfig;
