import { createContext, useContext, useEffect, useMemo, useState } from "react";
import type { ReactNode } from "react";
import { en } from "./en";
import type { MessageKey, Messages } from "./en";
import { fr } from "./fr";
import type { Lang } from "../bindings";

/** The user's choice: a language, or `null` to follow the system. */
export type Preference = Lang | null;

export type Locale = "fr" | "en";
const catalogues: Record<Locale, Messages> = { en, fr };

/** The system language, as the web view reports it: French if it says so, else English. */
export function systemLocale(languages: readonly string[] = navigator.languages ?? [navigator.language]): Locale {
  for (const l of languages) {
    const base = l.toLowerCase().split("-")[0];
    if (base === "fr" || base === "en") return base;
  }
  return "en";
}

export function resolveLocale(preference: Preference): Locale {
  return preference ?? systemLocale();
}

export type Translate = (key: MessageKey, vars?: Record<string, string | number>) => string;

export function translator(locale: Locale): Translate {
  const messages = catalogues[locale];
  return (key, vars) =>
    messages[key].replace(/\{(\w+)\}/g, (whole, name: string) =>
      vars && name in vars ? String(vars[name]) : whole,
    );
}

interface I18nValue {
  locale: Locale;
  preference: Preference;
  setPreference: (p: Preference) => void;
  t: Translate;
  formatDate: (iso: string | null) => string;
}

const I18nContext = createContext<I18nValue | null>(null);

export function I18nProvider({ initial = null, children }: { initial?: Preference; children: ReactNode }) {
  const [preference, setPreference] = useState<Preference>(initial);
  const locale = resolveLocale(preference);
  useEffect(() => {
    document.documentElement.lang = locale;
  }, [locale]);
  const value = useMemo<I18nValue>(() => {
    const t = translator(locale);
    const fmt = new Intl.DateTimeFormat(locale === "fr" ? "fr-FR" : "en-GB", {
      dateStyle: "medium",
      timeStyle: "short",
    });
    const formatDate = (iso: string | null) => {
      if (!iso) return t("common.never");
      const d = new Date(iso);
      return Number.isNaN(d.getTime()) ? iso : fmt.format(d);
    };
    return { locale, preference, setPreference, t, formatDate };
  }, [locale, preference]);
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18nValue {
  const v = useContext(I18nContext);
  if (!v) throw new Error("useI18n outside I18nProvider");
  return v;
}
