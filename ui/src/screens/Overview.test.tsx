import { screen } from "@testing-library/react";
import { expect, test } from "vitest";
import { renderApp, expectFocusedHeading } from "../test-utils";

test("says who is signed in and whether two-factor authentication is on", async () => {
  renderApp();
  await expectFocusedHeading("Overview", 1);
  expect(screen.getByRole("banner")).toHaveTextContent("Signed in as Alice Martin");
  expect(screen.getByRole("navigation", { name: "Sections" })).toBeInTheDocument();
  expect(screen.getByRole("main")).toHaveTextContent("alice@example.org");
  expect(await screen.findByTestId("twofa-status")).toHaveTextContent("On: 2 authenticator app(s) registered.");
  expect(screen.getByTestId("recovery-status")).toHaveTextContent("10 unused recovery code(s) left.");
  expect(screen.getByTestId("recovery-status")).not.toHaveClass("warn");
});

test("warns when an app is registered but no recovery code is left", async () => {
  renderApp({
    overrides: {
      me: () => ({
        uid: "alice", name: "Alice", email: null, roles: [], acr: "eidas1-mfa", amr: ["pwd", "otp", "mfa"],
        auth_time: "2026-11-23T09:12:00Z", mfa_required: true, device_count: 1,
        recovery_codes_left: 0, trusted_browser_count: 0,
      }),
    },
  });
  const status = await screen.findByTestId("recovery-status");
  expect(status).toHaveTextContent("You have no recovery codes");
  expect(status).toHaveClass("warn");
});

test("warns when no authenticator app is registered", async () => {
  const { user } = renderApp({
    overrides: {
      me: () => ({
        uid: "alice", name: "Alice", email: null, roles: [], acr: "eidas1", amr: ["pwd"],
        auth_time: "2026-11-23T09:12:00Z", mfa_required: false, device_count: 0,
        recovery_codes_left: 0, trusted_browser_count: 0,
      }),
    },
  });
  expect(await screen.findByTestId("twofa-status")).toHaveTextContent("No authenticator app is registered.");
  await user.click(screen.getByRole("button", { name: "Manage authenticator apps" }));
  expect(await screen.findByRole("heading", { level: 1, name: "Authenticator apps" })).toBeInTheDocument();
});
