// Italian first (the communities are Italian), English second. The language
// chosen is kept in localStorage; the page's lang attribute follows it.
import i18n from "i18next";
import { initReactI18next } from "react-i18next";
import { en } from "./locales/en";
import { it } from "./locales/it";

const KEY = "cerc.language";
const saved = typeof localStorage === "undefined" ? null : localStorage.getItem(KEY);

void i18n.use(initReactI18next).init({
  resources: { it: { translation: it }, en: { translation: en } },
  lng: saved === "en" ? "en" : "it",
  fallbackLng: "it",
  interpolation: { escapeValue: false },
});

if (typeof document !== "undefined") document.documentElement.lang = i18n.language;

export function setLanguage(language: string): void {
  void i18n.changeLanguage(language);
  localStorage.setItem(KEY, language);
  document.documentElement.lang = language;
}

export default i18n;
