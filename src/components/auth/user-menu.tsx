"use client";
/** The header's user: who is logged in, a link to the Users page for admins, and a log out. Nothing when the studio asks no one to log in. */
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname } from "next/navigation";
import { useTranslations } from "next-intl";
import { useTRPC } from "@/client/trpc";
import { Button } from "@/components/ui";

export function UserMenu() {
  const t = useTranslations("auth");
  const trpc = useTRPC();
  const pathname = usePathname();
  const me = useQuery({ ...trpc.auth.me.queryOptions(), retry: false, staleTime: 60_000 });
  if (!me.data?.accessControl || pathname === "/login") return null;
  const logOut = async () => {
    await fetch("/api/auth/logout", { method: "POST" }).catch(() => undefined);
    window.location.assign("/login");
  };
  return (
    <div className="flex items-center gap-2 text-sm" data-testid="user-menu">
      {me.data.role === "admin" ? (
        <Link href="/users" aria-current={pathname === "/users" ? "page" : undefined} className="rounded px-2 py-1 text-neutral-600 hover:bg-neutral-100 dark:text-neutral-400 dark:hover:bg-neutral-900">
          {t("header.users")}
        </Link>
      ) : null}
      <span className="text-neutral-600 dark:text-neutral-400">
        {t.rich("header.signedIn", {
          name: me.data.user,
          user: (chunks) => (
            <strong translate="no" className="font-medium text-neutral-900 dark:text-neutral-100">
              {chunks}
            </strong>
          ),
          role: t(`roles.${me.data.role}`),
        })}
      </span>
      <Button variant="ghost" onClick={() => void logOut()}>
        {t("header.logout")}
      </Button>
    </div>
  );
}
