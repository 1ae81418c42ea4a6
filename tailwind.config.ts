import type { Config } from "tailwindcss";

/** Tailwind 4 reads its theme from CSS (`src/app/globals.css`); this file names the sources it scans. */
const config: Config = {
  content: ["./src/**/*.{ts,tsx}"],
  darkMode: "media",
};

export default config;
