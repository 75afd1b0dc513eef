import { screen, waitFor } from "@testing-library/react";
import { expect, test } from "vitest";
import { renderApp, expectFocusedHeading } from "../test-utils";

async function openSettings(opts = {}) {
  const r = renderApp(opts);
  await r.user.click(await screen.findByRole("button", { name: "Settings" }));
  await expectFocusedHeading("Settings", 1);
  return r;
}

test("managed settings are shown as managed and cannot be edited", async () => {
  await openSettings({ settings: { issuer_managed: true } });
  expect(screen.queryByRole("textbox", { name: /Provider address/ })).not.toBeInTheDocument();
  expect(screen.getByText("https://id.example.org")).toBeInTheDocument();
  expect(screen.getAllByText("Managed by your organisation")).toHaveLength(3);
  expect(screen.getByText("tessera-desktop")).toBeInTheDocument();
});

test("switching to French changes the whole app at once and is saved", async () => {
  const { user, state } = await openSettings();
  await user.selectOptions(screen.getByLabelText("Language"), "fr");
  await user.click(screen.getByRole("button", { name: "Save" }));
  expect(await screen.findByRole("button", { name: "Paramètres" })).toBeInTheDocument();
  expect(screen.getByRole("navigation", { name: "Rubriques" })).toBeInTheDocument();
  expect(document.documentElement.lang).toBe("fr");
  expect(state.settings.language).toBe("fr");
});

test("an invalid provider address is explained by code", async () => {
  const { user } = await openSettings();
  const field = screen.getByLabelText("Provider address (issuer)");
  await user.clear(field);
  await user.type(field, "http://id.example.org");
  await user.click(screen.getByRole("button", { name: "Save" }));
  const alert = (await screen.findByText("The configuration cannot be used.")).closest("[role=alert]");
  expect(alert).toHaveAttribute("data-code", "config");
  expect(alert).toHaveTextContent("must use https");
});

test("sign out returns to the sign-in screen", async () => {
  const { user, calls } = await openSettings();
  expect(await screen.findByText("Version 0.1.0-mock")).toBeInTheDocument();
  await user.click(screen.getByRole("button", { name: "Sign out" }));
  expect(await screen.findByRole("heading", { level: 1, name: "Sign in" })).toBeInTheDocument();
  expect(calls("sign_out")).toHaveLength(1);
});

test("a failed sign-out says so and keeps the session", async () => {
  const { user } = await openSettings({ overrides: { sign_out: () => { throw { code: "keyring", message: "locked" }; } } });
  await user.click(screen.getByRole("button", { name: "Sign out" }));
  await waitFor(() => expect(screen.getByText(/The system keyring could not be used/)).toBeInTheDocument());
  expect(screen.getByRole("heading", { level: 1, name: "Settings" })).toBeInTheDocument();
});

test("changing the provider while signed in asks to sign in with the new one", async () => {
  const { user } = await openSettings();
  const field = screen.getByLabelText("Provider address (issuer)");
  await user.clear(field);
  await user.type(field, "https://login.example.net");
  await user.click(screen.getByRole("button", { name: "Save" }));
  expect(await screen.findByRole("heading", { level: 1, name: "Sign in" })).toBeInTheDocument();
  expect(screen.getByTestId("provider")).toHaveTextContent("https://login.example.net");
});
