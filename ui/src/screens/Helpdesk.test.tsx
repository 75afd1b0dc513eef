import { screen, waitFor } from "@testing-library/react";
import { expect, test } from "vitest";
import { renderApp, expectFocusedHeading } from "../test-utils";

test("the help desk is not offered without the helpdesk role", async () => {
  renderApp({ helpdesk: false });
  await screen.findByRole("heading", { level: 1, name: "Overview" });
  expect(screen.queryByRole("button", { name: "Help desk" })).not.toBeInTheDocument();
});

async function openUser() {
  const r = renderApp({ helpdesk: true });
  await r.user.click(await screen.findByRole("button", { name: "Help desk" }));
  await expectFocusedHeading("Help desk", 1);
  await r.user.type(screen.getByLabelText("User name, email or name (beginning)"), "bo{Enter}");
  await r.user.click(await screen.findByRole("button", { name: "Bob Durand (bob)" }));
  await expectFocusedHeading("Bob Durand (bob)", 1);
  return r;
}

test("search finds users by prefix and says when nobody matches", async () => {
  const { user, calls } = renderApp({ helpdesk: true });
  await user.click(await screen.findByRole("button", { name: "Help desk" }));
  const field = await screen.findByLabelText("User name, email or name (beginning)");
  await user.type(field, "zz{Enter}");
  expect(await screen.findByText("No user matches “zz”.")).toBeInTheDocument();
  await user.clear(field);
  await user.type(field, "b{Enter}");
  expect(await screen.findByRole("button", { name: "Bob Durand (bob)" })).toBeInTheDocument();
  expect(screen.getByRole("button", { name: "Béatrice Roy (bea)" })).toBeInTheDocument();
  expect(calls("helpdesk_search").map((c) => c.args.query)).toEqual(["zz", "b"]);
});

test("a user's devices, browsers and activity are shown", async () => {
  await openUser();
  expect(await screen.findByRole("rowheader", { name: "Work phone" })).toBeInTheDocument();
  expect(screen.getByText("Chrome on Windows")).toBeInTheDocument();
  await waitFor(() => expect(screen.getAllByText(/reason: Lost phone/).length).toBeGreaterThan(0));
});

test("removing a device requires a reason, which is sent with the change", async () => {
  const { user, calls } = await openUser();
  await user.click(await screen.findByRole("button", { name: "Remove Tablet" }));
  const reason = screen.getByLabelText("Reason (recorded in the audit log)");
  expect(reason).toHaveFocus();
  await user.click(screen.getByRole("button", { name: "Confirm with this reason" }));
  expect(screen.getByText(/Give a reason: every help-desk change is recorded/)).toBeInTheDocument();
  expect(reason).toHaveAttribute("aria-invalid", "true");
  expect(calls("helpdesk_device_remove")).toHaveLength(0);
  await user.type(reason, "  Phone stolen, ticket 17 ");
  await user.click(screen.getByRole("button", { name: "Confirm with this reason" }));
  await waitFor(() => expect(calls("helpdesk_device_remove")).toHaveLength(1));
  expect(calls("helpdesk_device_remove")[0].args).toMatchObject({ uid: "bob", id: "dev-2", reason: "Phone stolen, ticket 17" });
  expect(await screen.findByText("Tablet was removed.")).toBeInTheDocument();
  // The activity on the same page is read again, so the change shows there.
  await waitFor(() => expect(calls("helpdesk_activity").length).toBeGreaterThanOrEqual(2));
});

test("a reset carries its reason and leaves the user without apps or trusted browsers", async () => {
  const { user, calls } = await openUser();
  await user.click(await screen.findByRole("button", { name: "Reset all authenticator apps" }));
  await user.type(screen.getByLabelText("Reason (recorded in the audit log)"), "New phone");
  await user.click(screen.getByRole("button", { name: "Confirm with this reason" }));
  await waitFor(() => expect(calls("helpdesk_devices_reset")[0]?.args).toMatchObject({ uid: "bob", reason: "New phone" }));
  expect(await screen.findByText("The authenticator apps of Bob Durand (bob) were reset.")).toBeInTheDocument();
  // Both lists are read again: the browsers trusted with the lost apps went with them.
  expect(await screen.findByText("No authenticator app is registered.")).toBeInTheDocument();
  expect(await screen.findByText("No trusted browser.")).toBeInTheDocument();
  expect(screen.queryByRole("rowheader", { name: "Work phone" })).not.toBeInTheDocument();
});

test("revoking one browser, then all, carries the reason each time", async () => {
  const { user, calls } = await openUser();
  await user.click(await screen.findByRole("button", { name: "Revoke Firefox on Linux" }));
  await user.type(screen.getByLabelText("Reason (recorded in the audit log)"), "Lost laptop");
  await user.click(screen.getByRole("button", { name: "Confirm with this reason" }));
  await waitFor(() => expect(calls("helpdesk_browser_revoke")[0]?.args).toMatchObject({ uid: "bob", id: "br-1", reason: "Lost laptop" }));
  await waitFor(() => expect(screen.queryByRole("button", { name: "Revoke Firefox on Linux" })).not.toBeInTheDocument());
  expect(screen.getByText("Chrome on Windows")).toBeInTheDocument();

  await user.click(await screen.findByRole("button", { name: "Revoke all" }));
  await user.type(screen.getByLabelText("Reason (recorded in the audit log)"), "Shared PC");
  await user.click(screen.getByRole("button", { name: "Confirm with this reason" }));
  await waitFor(() => expect(calls("helpdesk_browsers_revoke_all")[0]?.args).toMatchObject({ uid: "bob", reason: "Shared PC" }));
  expect(await screen.findByText("No trusted browser.")).toBeInTheDocument();
  // The apps are not touched by revoking browsers.
  expect(screen.getByRole("rowheader", { name: "Work phone" })).toBeInTheDocument();
});

test("forbidden from the provider is explained", async () => {
  const { user } = renderApp({
    helpdesk: true,
    overrides: { helpdesk_search: () => { throw { code: "forbidden", message: "no" }; } },
  });
  await user.click(await screen.findByRole("button", { name: "Help desk" }));
  await user.type(await screen.findByLabelText("User name, email or name (beginning)"), "b{Enter}");
  expect(await screen.findByText("Your account is not allowed to do this.")).toBeInTheDocument();
});
