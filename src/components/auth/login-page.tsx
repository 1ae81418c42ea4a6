"use client";
/**
 * The login page: a token field. `?token=` (the first start's link, or a link an admin sent) logs in at
 * once, and the token leaves the address bar before anything else happens, so that it stays out of the
 * history, bookmarks and screenshots. `?next=` is where to go after (a path of this studio only).
 */
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useTranslations } from "next-intl";
import { useEffect, useRef, useState, type FormEvent } from "react";
import { useTRPC } from "@/client/trpc";
import { Button, ErrorBox } from "@/components/ui";

/** A path of this studio to go to after the login; anything else (another site, `//host`) is the Run page. */
function safeNext(value: string | null): string {
  if (!value?.startsWith("/")) return "/";
  // Browsers drop tabs and newlines from an address and read a backslash as "/", so "/", a tab, then
  // "/evil.example" is "//evil.example": the address as the browser reads it must stay on this origin.
  try {
    const url = new URL(value, window.location.origin);
    return url.origin === window.location.origin ? `${url.pathname}${url.search}${url.hash}` : "/";
  } catch {
    return "/";
  }
}

export function LoginPage() {
  const t = useTranslations("auth.login");
  const trpc = useTRPC();
  const me = useQuery({ ...trpc.auth.me.queryOptions(), retry: false });
  const [token, setToken] = useState("");
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const started = useRef(false);

  const logIn = async (value: string) => {
    setPending(true);
    setError(null);
    try {
      const response = await fetch("/api/auth/login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: value.trim() }) });
      if (response.ok) {
        // A whole page load: every query of the studio is asked again, as this user.
        window.location.assign(safeNext(new URLSearchParams(window.location.search).get("next")));
        return;
      }
      if (response.status === 429) setError(t("tooMany", { seconds: Number(response.headers.get("retry-after") ?? 1) }));
      else setError(t("badToken"));
    } catch {
      setError(t("badToken"));
    }
    setPending(false);
  };

  useEffect(() => {
    if (started.current) return;
    started.current = true;
    const params = new URLSearchParams(window.location.search);
    const fromAddress = params.get("token");
    if (fromAddress === null) return;
    params.delete("token");
    const rest = params.toString();
    window.history.replaceState(null, "", `/login${rest ? `?${rest}` : ""}`);
    void logIn(fromAddress);
    // Once, on arrival.
  }, []);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (token.trim()) void logIn(token);
  };

  if (me.data && !me.data.accessControl) {
    return (
      <div className="mx-auto mt-12 max-w-md space-y-4">
        <h1 className="text-xl font-semibold">{t("title")}</h1>
        <p className="text-sm text-neutral-700 dark:text-neutral-300">{t("off")}</p>
        <Link href="/" className="inline-block rounded bg-blue-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-blue-700">
          {t("open")}
        </Link>
      </div>
    );
  }
  return (
    <form onSubmit={submit} className="mx-auto mt-12 max-w-md space-y-4">
      <h1 className="text-xl font-semibold">{t("title")}</h1>
      <p className="text-sm text-neutral-700 dark:text-neutral-300">{t("intro")}</p>
      <div>
        <label htmlFor="token" className="block text-sm font-medium">
          {t("token")}
        </label>
        <input
          id="token"
          type="password"
          autoComplete="current-password"
          spellCheck={false}
          value={token}
          onChange={(event) => setToken(event.target.value)}
          className="mt-1 w-full rounded border border-neutral-300 bg-white px-2 py-1.5 font-mono text-sm dark:border-neutral-700 dark:bg-neutral-900"
        />
      </div>
      {error ? <ErrorBox title={t("failed")} message={error} /> : null}
      <Button type="submit" variant="primary" disabled={pending || !token.trim()}>
        {pending ? t("loggingIn") : t("submit")}
      </Button>
      <p className="text-xs text-neutral-600 dark:text-neutral-400">
        {t.rich("help", { code: (chunks) => <code translate="no">{chunks}</code> })}
      </p>
    </form>
  );
}
