import type { Metadata } from "next";
import type { ReactNode } from "react";
import { Providers } from "@/client/trpc";
import { Nav } from "@/components/nav";
import "./globals.css";

export const metadata: Metadata = {
  title: "project_llm",
  description: "A studio for multi-stage pipelines over local GGUF models.",
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body className="min-h-screen bg-white text-neutral-900 antialiased dark:bg-neutral-950 dark:text-neutral-100">
        <Providers>
          <Nav />
          <main className="mx-auto max-w-[1600px] px-4 py-4">{children}</main>
        </Providers>
      </body>
    </html>
  );
}
