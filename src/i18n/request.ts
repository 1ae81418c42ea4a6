/**
 * next-intl's request configuration: the language of a page request (the switch's cookie, else
 * Accept-Language) and its messages. The studio has no language in its addresses: one address shows a
 * page in its reader's language.
 */
import { cookies, headers } from "next/headers";
import { getRequestConfig } from "next-intl/server";
import { isLocale, negotiateLocale } from "./locales";
import { messages } from "./messages";

export default getRequestConfig(async () => {
  const chosen = (await cookies()).get("NEXT_LOCALE")?.value;
  const locale = isLocale(chosen) ? chosen : negotiateLocale((await headers()).get("accept-language"));
  return { locale, messages: messages[locale] };
});
