import Link from "next/link";
import { getTranslations } from "next-intl/server";
import type { ReactNode } from "react";

const link = (href: string) =>
  function PageLink(chunks: ReactNode) {
    return (
      <Link href={href} className="font-medium text-blue-700 underline-offset-2 hover:underline dark:text-blue-300">
        {chunks}
      </Link>
    );
  };

/** An address with no page (a mistyped one, a deleted session's): said in the page's language, with the way back. */
export default async function NotFound() {
  const t = await getTranslations("common.notFound");
  return (
    <div className="mx-auto max-w-xl py-12 sm:py-20">
      <p className="font-mono text-sm text-neutral-500 dark:text-neutral-400">404</p>
      <h1 className="mt-1 text-2xl font-semibold">{t("title")}</h1>
      <p className="mt-3 text-neutral-700 dark:text-neutral-300">{t.rich("body", { run: link("/"), history: link("/history") })}</p>
    </div>
  );
}
