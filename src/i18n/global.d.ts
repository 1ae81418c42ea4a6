import type { Locale } from "./locales";
import type { Messages } from "./messages";

// Every `t("key")` is checked against the English messages, and the locale against our list.
declare module "next-intl" {
  interface AppConfig {
    Locale: Locale;
    Messages: Messages;
  }
}
