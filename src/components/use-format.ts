"use client";
/** Numbers, durations, sizes and dates in the page's language (see `createFormat`). Every figure a page shows goes through here. */
import { useFormatter, useTranslations } from "next-intl";
import { useMemo } from "react";
import { createFormat, type Format } from "@/i18n/format";

export type { Format };

export function useFormat(): Format {
  const formatter = useFormatter();
  const t = useTranslations("common");
  return useMemo(() => createFormat(formatter, t), [formatter, t]);
}
