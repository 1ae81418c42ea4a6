"use client";
/**
 * Errors of downloads and of adding models, in the page's language. The server sends each with its code
 * and the values it names, among them a `reason` (a URI refused as plain http, a disk too small…): the
 * message of this page's `errors` for that code and reason is used, with sizes in the page's units;
 * anything else goes to `useDescribeError`.
 */
import { TRPCClientError } from "@trpc/client";
import { useTranslations } from "next-intl";
import { useCallback, type ReactNode } from "react";
import { useDescribeError, type CodedError } from "@/components/use-describe-error";
import { useFormat } from "@/components/use-format";

type Params = Record<string, string | number>;

/** The code and values of a tRPC error or of a failure sent as data. */
function codeAndParams(error: unknown): { code?: string; params?: Params } {
  if (error instanceof TRPCClientError) {
    const data = error.data as { appCode?: string | null; params?: Params | null } | undefined;
    return { code: data?.appCode ?? undefined, params: data?.params ?? undefined };
  }
  const coded = error as CodedError | null;
  return { code: coded?.code, params: coded?.params ?? undefined };
}

/** Data inside a message (a host, a file name, a key): not for translation. */
export const dataTag = (chunks: ReactNode) => (
  <code translate="no" className="font-mono text-[0.95em]">
    {chunks}
  </code>
);

/** A product's name inside a message: the same in every language. */
export const productTag = (chunks: ReactNode) => <span translate="no">{chunks}</span>;

export function useDownloadError(): (error: unknown) => ReactNode {
  const t = useTranslations("models.errors");
  const describe = useDescribeError();
  const format = useFormat();
  return useCallback(
    (error: unknown) => {
      const { code, params } = codeAndParams(error);
      const withReason = code && params?.reason !== undefined ? `${code}.${params.reason}` : undefined;
      // A code with reasons is a group of messages; one without is a message of its own.
      const key = [withReason, code].find((candidate) => candidate !== undefined && t.has(candidate as never) && typeof t.raw(candidate as never) === "string");
      if (!key || !params) return describe.error(error);
      const values: Params = { ...params };
      if (typeof params.needed === "number") values.needed = format.bytes(params.needed);
      if (typeof params.free === "number") values.free = format.bytes(params.free);
      if (params.reason === "retries") values.kept = Number(params.downloaded) > 0 ? "yes" : "no";
      return t.rich(key as never, { ...values, code: dataTag, product: productTag } as never);
    },
    [t, describe, format],
  );
}
