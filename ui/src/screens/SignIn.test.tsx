import { screen, waitFor } from "@testing-library/react";
import { expect, test } from "vitest";
import { renderApp, expectFocusedHeading } from "../test-utils";
import { fr } from "../i18n/fr";
import { en } from "../i18n/en";

test("shows the provider and signs in through the browser, then lands on the overview", async () => {
  const { user, calls } = renderApp({ signedIn: false });
  await expectFocusedHeading("Sign in", 1);
  expect(screen.getByTestId("provider")).toHaveTextContent("https://id.example.org");
  await user.click(screen.getByRole("button", { name: "Sign in with the browser" }));
  expect(await screen.findByRole("heading", { level: 1, name: "Overview" })).toBeInTheDocument();
  expect(calls("sign_in")).toHaveLength(1);
  expect(screen.getByText("Signed in as Alice Martin")).toBeInTheDocument();
});

test("while waiting for the browser it says so, and cancel returns to a calm sign-in screen", async () => {
  const { user, calls } = renderApp({ signedIn: false, signInHangs: true });
  await user.click(await screen.findByRole("button", { name: "Sign in with the browser" }));
  expect(await screen.findByRole("status")).toHaveTextContent(
    "Waiting for the browser. Finish signing in on the page that opened at https://id.example.org",
  );
  const cancel = screen.getByRole("button", { name: "Cancel sign-in" });
  await user.click(cancel);
  await waitFor(() => expect(screen.getByRole("status")).toHaveTextContent("Sign-in cancelled."));
  expect(calls("cancel_sign_in")).toHaveLength(1);
  // Cancelling is not an error.
  expect(screen.getByRole("alert")).toBeEmptyDOMElement();
  expect(screen.getByRole("button", { name: "Sign in with the browser" })).toHaveFocus();
});

test("a refused acr gets the operators' message, in French when the app speaks French", async () => {
  const { user } = renderApp({ signedIn: false, signInError: "acr_refused", settings: { language: "fr" } });
  await user.click(await screen.findByRole("button", { name: "Se connecter avec le navigateur" }));
  const alert = await screen.findByRole("alert");
  await waitFor(() =>
    expect(alert).toHaveTextContent(
      "Vous ne pouvez pas accéder au service sans avoir une double authentification installée. Veuillez installer une application d'authentification et vous connecter à nouveau.",
    ),
  );
  expect(alert).toHaveAttribute("data-code", "acr_refused");
});

test("access_denied from the provider is explained the same way, in English", async () => {
  const { user } = renderApp({ signedIn: false, signInError: "access_denied" });
  await user.click(await screen.findByRole("button", { name: "Sign in with the browser" }));
  await waitFor(() => expect(screen.getByRole("alert")).toHaveTextContent(en["error.acr_refused"]));
  expect(en["error.acr_refused"]).toMatch(/without two-factor authentication set up/);
  expect(fr["error.access_denied"]).toBe(fr["error.acr_refused"]);
});

test.each([
  ["browser_unavailable", "The browser could not be opened"],
  ["network", "could not be reached"],
  ["no_acceptable_acr", "offers no sign-in level with two-factor authentication"],
  ["keyring", "The system keyring could not be used"],
  ["timeout", "The sign-in took too long"],
])("sign-in failure %s says what happened and what to do", async (code, text) => {
  const { user } = renderApp({ signedIn: false, signInError: code });
  await user.click(await screen.findByRole("button", { name: "Sign in with the browser" }));
  await waitFor(() => expect(screen.getByRole("alert")).toHaveTextContent(text));
  expect(screen.getByRole("alert")).toHaveTextContent("Sign-in failed");
});

test("an unknown code still explains, with the Rust message as detail", async () => {
  const { user } = renderApp({ signedIn: false, signInError: "brand_new_code" });
  await user.click(await screen.findByRole("button", { name: "Sign in with the browser" }));
  await waitFor(() => expect(screen.getByRole("alert")).toHaveTextContent("Something went wrong."));
  expect(screen.getByRole("alert")).toHaveTextContent("Details: mock: brand_new_code");
});

test("without a provider the button is disabled and the settings can be opened in place", async () => {
  const { user, state } = renderApp({ signedIn: false, settings: { issuer: null } });
  expect(await screen.findByText(/No provider is configured yet/)).toBeInTheDocument();
  expect(screen.getByRole("button", { name: "Sign in with the browser" })).toBeDisabled();
  await user.click(screen.getByRole("button", { name: "Open the settings" }));
  await user.type(screen.getByLabelText("Provider address (issuer)"), "https://login.example.net");
  await user.click(screen.getByRole("button", { name: "Save" }));
  expect(await screen.findByTestId("provider")).toHaveTextContent("https://login.example.net");
  expect(state.settings.issuer).toBe("https://login.example.net");
  expect(screen.getByRole("button", { name: "Sign in with the browser" })).toBeEnabled();
});

test("a session kept from an earlier run opens straight on the overview", async () => {
  renderApp({ signedIn: true });
  expect(await screen.findByRole("heading", { level: 1, name: "Overview" })).toBeInTheDocument();
});

test("settings that cannot be read are explained with a retry", async () => {
  let fail = true;
  const { user } = renderApp({
    overrides: {
      settings_get: () => {
        if (fail) throw { code: "io", message: "config unreadable" };
        return {
          issuer: "https://id.example.org", issuer_managed: false, client_id: "x", client_id_managed: false,
          acr_values: [], acr_values_managed: false, language: null, problem: null,
        };
      },
    },
  });
  expect(await screen.findByRole("alert")).toHaveTextContent("A file could not be read or written");
  fail = false;
  await user.click(screen.getByRole("button", { name: "Try again" }));
  expect(await screen.findByRole("heading", { level: 1, name: "Overview" })).toBeInTheDocument();
});

test("when the browser cannot be opened, the address is shown to open by hand", async () => {
  const { user } = renderApp({ signedIn: false, signInHangs: true, browserNotOpened: true });
  await user.click(await screen.findByRole("button", { name: "Sign in with the browser" }));
  expect(await screen.findByTestId("manual-url")).toHaveTextContent("https://id.example.org/authorize?client_id=tessera-desktop");
  expect(screen.getByRole("button", { name: "Copy — Sign-in address" })).toBeInTheDocument();
  expect(screen.getAllByRole("status").some((s) => s.textContent?.startsWith("The browser could not be opened."))).toBe(true);
});

test("a configuration that cannot be used is shown on the sign-in screen with Rust's reason", async () => {
  renderApp({
    signedIn: false,
    settings: { issuer: null, problem: { code: "config", message: "no `issuer` is configured: set it in ~/.config/tessera/config.toml" } },
  });
  const alert = await screen.findByText("The configuration cannot be used.");
  expect(alert.closest("[role=alert]")).toHaveTextContent("Details: no `issuer` is configured");
});
