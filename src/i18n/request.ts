/**
 * next-intl's request configuration: the language of a page request (the switch's cookie, else
 * Accept-Language) and its messages. The studio has no language in its addresses: one address shows a
 * page in its reader's language.
 */
import { cookies, headers } from "next/headers";
import { getRequestConfig } from "next-intl/server";
import { localeCookie, requestLocale } from "./locales";
import { messages } from "./messages";

export default getRequestConfig(async () => {
  const locale = requestLocale({ cookie: (await cookies()).get(localeCookie)?.value, acceptLanguage: (await headers()).get("accept-language") });
  return { locale, messages: messages[locale] };
});
