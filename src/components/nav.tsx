"use client";
import Link from "next/link";
import { usePathname, useRouter } from "next/navigation";
import { useLocale, useTranslations } from "next-intl";
import { useTransition } from "react";
import { isLocale, localeCookieValue, localeNames, locales } from "@/i18n/locales";
import { UserMenu } from "./auth/user-menu";

const links = [
  { href: "/", key: "run" },
  { href: "/editor", key: "editor" },
  { href: "/history", key: "history" },
  { href: "/models", key: "models" },
] as const;

/** The language switch: the choice is kept in a cookie, and the page is rendered again in it. */
function LanguageSwitch() {
  const t = useTranslations("common.nav");
  const locale = useLocale();
  const router = useRouter();
  const [pending, startTransition] = useTransition();
  return (
    <label className="ml-auto flex items-center gap-1 text-sm text-neutral-600 dark:text-neutral-400">
      <span className="sr-only sm:not-sr-only">{t("language")}</span>
      <select
        value={locale}
        disabled={pending}
        onChange={(event) => {
          const next = event.target.value;
          if (!isLocale(next)) return;
          document.cookie = localeCookieValue(next);
          startTransition(() => router.refresh());
        }}
        className="rounded border border-neutral-300 bg-white px-1.5 py-1 text-sm dark:border-neutral-700 dark:bg-neutral-900"
      >
        {locales.map((code) => (
          // Each language is named in itself.
          <option key={code} value={code} lang={code} translate="no">
            {localeNames[code]}
          </option>
        ))}
      </select>
    </label>
  );
}

export function Nav() {
  const pathname = usePathname();
  const t = useTranslations("common.nav");
  return (
    <header className="border-b border-neutral-200 dark:border-neutral-800">
      <nav aria-label={t("main")} className="mx-auto flex max-w-[1600px] flex-wrap items-center gap-1 px-4 py-2">
        <Link href="/" className="mr-4 font-semibold tracking-tight" translate="no">
          project_llm
        </Link>
        {/* On a narrow screen the links take a row of their own, below the name and the language switch. */}
        <div className="order-last flex w-full gap-1 max-md:-ml-3 md:order-none md:w-auto">
          {links.map((link) => {
            const active = link.href === "/" ? pathname === "/" : pathname.startsWith(link.href);
            return (
              <Link
                key={link.href}
                href={link.href}
                aria-current={active ? "page" : undefined}
                className={`rounded px-3 py-1.5 text-sm focus-visible:outline-2 focus-visible:outline-blue-500 ${
                  active ? "bg-neutral-200 font-medium dark:bg-neutral-800" : "text-neutral-600 hover:bg-neutral-100 dark:text-neutral-400 dark:hover:bg-neutral-900"
                }`}
              >
                {t(link.key)}
              </Link>
            );
          })}
        </div>
        <LanguageSwitch />
        <UserMenu />
      </nav>
    </header>
  );
}
