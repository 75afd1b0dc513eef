import { expect, test } from "vitest";
import { en } from "./en";
import { fr } from "./fr";
import { systemLocale, translator } from "./I18n";
import { explain, knownErrorKey } from "../errors";
import { AppError, toAppError } from "../ipc";

test("French and English have the same keys and placeholders", () => {
  expect(Object.keys(fr).sort()).toEqual(Object.keys(en).sort());
  const holes = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort();
  for (const k of Object.keys(en) as (keyof typeof en)[]) {
    expect(holes(fr[k]), k).toEqual(holes(en[k]));
  }
});

test("the refused-acr message is the operators' exact French sentence", () => {
  expect(fr["error.acr_refused"]).toBe(
    "Vous ne pouvez pas accéder au service sans avoir une double authentification installée. Veuillez installer une application d'authentification et vous connecter à nouveau.",
  );
});

test("the system language picks French or English, English otherwise", () => {
  expect(systemLocale(["fr-CA", "en"])).toBe("fr");
  expect(systemLocale(["de-DE", "en-GB"])).toBe("en");
  expect(systemLocale(["de-DE"])).toBe("en");
});

test("placeholders are filled, unknown ones left visible", () => {
  const t = translator("en");
  expect(t("devices.renamed", { name: "X" })).toBe("Renamed to X.");
  expect(t("devices.renamed")).toBe("Renamed to {name}.");
});

test("errors are explained by code; an unknown code keeps the message as detail", () => {
  const t = translator("en");
  expect(explain(t, new AppError("last_factor", "whatever English"))).toEqual({ text: en["error.last_factor"], detail: null });
  expect(explain(t, new AppError("nope", "raw"))).toEqual({ text: en["error.unknown"], detail: "Details: raw" });
  expect(knownErrorKey("toString")).toBeNull();
});

test("rejections become AppError: command errors keep their code, framework strings get ipc", () => {
  expect(toAppError({ code: "not_found", message: "m" })).toMatchObject({ code: "not_found", message: "m" });
  expect(toAppError("Command foo not allowed by ACL")).toMatchObject({ code: "ipc" });
  expect(toAppError(new Error("boom"))).toMatchObject({ code: "ipc", message: "boom" });
});
