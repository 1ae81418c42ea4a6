"use client";
/** The admin's Users page: add a user (their token shown once), list every user, revoke one. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTranslations } from "next-intl";
import { useState, type FormEvent } from "react";
import { useTRPC } from "@/client/trpc";
import { Button, CopyButton, ErrorBox, useFormat } from "@/components/ui";
import { useDescribeError } from "@/components/use-describe-error";
import { roles, type Role } from "@/server/auth/roles";

export function UsersPage() {
  const t = useTranslations("auth");
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const describe = useDescribeError();
  const format = useFormat();
  const me = useQuery(trpc.auth.me.queryOptions());
  const users = useQuery(trpc.users.list.queryOptions());
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("runner");
  const [added, setAdded] = useState<{ name: string; token: string } | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.users.list.queryKey() });
  const add = useMutation(
    trpc.users.add.mutationOptions({
      onSuccess: (result) => {
        setAdded({ name: result.user.name, token: result.token });
        setName("");
        void refresh();
      },
    }),
  );
  const revoke = useMutation(trpc.users.revoke.mutationOptions({ onSuccess: () => void refresh() }));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setAdded(null);
    add.mutate({ name: name.trim(), role });
  };
  const field = "rounded border border-neutral-300 bg-white px-2 py-1.5 text-sm dark:border-neutral-700 dark:bg-neutral-900";
  const loginAddress = added && typeof window !== "undefined" ? `${window.location.origin}/login?token=${added.token}` : "";

  return (
    <div className="max-w-3xl space-y-5">
      <div className="space-y-1">
        <h1 className="text-xl font-semibold">{t("users.title")}</h1>
        <p className="text-sm text-neutral-700 dark:text-neutral-300">{t("users.intro")}</p>
        {me.data && !me.data.accessControl ? <p className="text-sm text-amber-800 dark:text-amber-300">{t("users.off")}</p> : null}
        <p className="text-xs text-neutral-600 dark:text-neutral-400">{t("users.roleHelp")}</p>
      </div>

      <form onSubmit={submit} className="flex flex-wrap items-end gap-3" aria-label={t("users.add")}>
        <div>
          <label htmlFor="user-name" className="block text-xs text-neutral-500">
            {t("users.name")}
          </label>
          <input id="user-name" value={name} maxLength={32} autoComplete="off" spellCheck={false} onChange={(event) => setName(event.target.value)} className={`${field} w-56`} translate="no" />
        </div>
        <div>
          <label htmlFor="user-role" className="block text-xs text-neutral-500">
            {t("users.role")}
          </label>
          <select id="user-role" value={role} onChange={(event) => setRole(event.target.value as Role)} className={field}>
            {roles.map((option) => (
              <option key={option} value={option}>
                {t(`roles.${option}`)}
              </option>
            ))}
          </select>
        </div>
        <Button type="submit" variant="primary" disabled={add.isPending || !name.trim()}>
          {add.isPending ? t("users.adding") : t("users.add")}
        </Button>
      </form>
      {add.error ? <ErrorBox title={t("users.cannotAdd")} message={describe.errorContent(add.error)} /> : null}
      {added ? (
        <div role="status" className="space-y-2 rounded border border-green-300 bg-green-50 p-3 text-sm dark:border-green-800 dark:bg-green-950" data-testid="new-token">
          <p>{t.rich("users.added", { user: () => <strong translate="no">{added.name}</strong> })}</p>
          <div className="flex flex-wrap items-center gap-2">
            <code translate="no" className="break-all rounded bg-white px-2 py-1 font-mono text-xs dark:bg-neutral-900" data-testid="token">
              {added.token}
            </code>
            <CopyButton text={added.token} />
          </div>
          <div className="flex flex-wrap items-center gap-2 text-xs">
            <span>{t("users.loginLink")}:</span>
            <code translate="no" className="break-all font-mono">
              {loginAddress}
            </code>
            <CopyButton text={loginAddress} />
          </div>
          <Button onClick={() => setAdded(null)}>{t("users.done")}</Button>
        </div>
      ) : null}

      <section className="space-y-2">
        <h2 className="text-sm font-semibold">{t("users.list")}</h2>
        {users.error ? <ErrorBox title={t("users.cannotList")} message={describe.errorContent(users.error)} /> : null}
        {revoke.error ? <ErrorBox title={t("users.cannotRevoke")} message={describe.errorContent(revoke.error)} /> : null}
        {users.data && users.data.length === 0 ? <p className="text-sm text-neutral-500">{t("users.none")}</p> : null}
        {users.data && users.data.length > 0 ? (
          <table className="w-full text-sm" aria-label={t("users.list")}>
            <thead>
              <tr className="border-b border-neutral-200 text-left text-xs text-neutral-500 dark:border-neutral-800">
                <th className="py-1 pr-3 font-normal">{t("users.columns.name")}</th>
                <th className="py-1 pr-3 font-normal">{t("users.columns.role")}</th>
                <th className="py-1 pr-3 font-normal max-sm:hidden">{t("users.columns.added")}</th>
                <th className="py-1 font-normal">
                  <span className="sr-only">{t("users.revoke")}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {users.data.map((user) => (
                <tr key={user.name} className="border-b border-neutral-100 dark:border-neutral-900" data-testid={`user-row-${user.name}`}>
                  <td className="py-1.5 pr-3">
                    <span translate="no" className="font-medium">
                      {user.name}
                    </span>
                    {user.name === me.data?.user ? <span className="ml-2 text-xs text-neutral-500">({t("users.you")})</span> : null}
                  </td>
                  <td className="py-1.5 pr-3">{t(`roles.${user.role}`)}</td>
                  <td className="py-1.5 pr-3 tabular-nums max-sm:hidden">{format.dateTime(user.createdAt)}</td>
                  <td className="py-1.5 text-right">
                    {user.name === me.data?.user ? null : (
                      <Button
                        variant="danger"
                        disabled={revoke.isPending}
                        aria-label={`${t("users.revoke")} ${user.name}`}
                        onClick={() => {
                          if (window.confirm(t("users.revokeConfirm", { user: user.name }))) revoke.mutate({ name: user.name });
                        }}
                      >
                        {t("users.revoke")}
                      </Button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </section>
    </div>
  );
}
