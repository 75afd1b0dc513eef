import { screen, waitFor, within } from "@testing-library/react";
import { expect, test } from "vitest";
import { renderApp, expectFocusedHeading, expectStepUpAnnounced, stepUpPending } from "../test-utils";

async function startAdding(opts = {}) {
  const r = renderApp(opts);
  await r.user.click(await screen.findByRole("button", { name: "Authenticator apps" }));
  await r.user.click(await screen.findByRole("button", { name: "Add an authenticator app" }));
  await expectFocusedHeading("Step 1 of 4: name it", 2);
  return r;
}

test("first app: name, QR code and grouped secret, code, recovery codes once, done", async () => {
  const { user, state, calls } = await startAdding({ devices: [] });
  await user.type(screen.getByLabelText("Name of the app or phone"), "Work phone");
  await user.click(screen.getByRole("button", { name: "Next" }));

  await expectFocusedHeading("Step 2 of 4: scan the QR code", 2);
  const qr = screen.getByRole("img", { name: "QR code to scan with your authenticator app" });
  expect(qr.getAttribute("src")).toMatch(/^data:image\/png;base64,/);
  expect(screen.getByTestId("secret")).toHaveTextContent("JBSWY3DPEHPK3PXP");
  expect(screen.getByTestId("secret").querySelectorAll(".secret-group")).toHaveLength(4);
  expect(screen.getByRole("button", { name: "Copy — Secret key" })).toBeInTheDocument();
  expect(calls("device_enrol_start")[0].args.name).toBe("Work phone");
  await user.click(screen.getByRole("button", { name: "Next" }));

  await expectFocusedHeading("Step 3 of 4: enter a code", 2);
  await user.type(screen.getByLabelText("6-digit code shown by the app"), "123456");
  await user.click(screen.getByRole("button", { name: "Confirm" }));
  expect(calls("device_enrol_confirm")[0].args).toMatchObject({ enrollmentId: "enr-1", code: "123456" });

  await expectFocusedHeading("Step 4 of 4: save your recovery codes", 2);
  expect(within(screen.getByTestId("recovery-codes")).getAllByRole("listitem")).toHaveLength(10);
  await user.click(screen.getByRole("button", { name: "I have kept my recovery codes" }));

  await expectFocusedHeading("All set", 2);
  expect(screen.getByText("Work phone is ready. Use its codes when you sign in.")).toBeInTheDocument();
  await user.click(screen.getByRole("button", { name: "Back to the list" }));
  expect(await screen.findByRole("rowheader", { name: "Work phone" })).toBeInTheDocument();
  expect(state.devices).toHaveLength(1);
});

test("the copied secret says it will be cleared, and leaves the clipboard when the user goes on", async () => {
  const { user, state, calls } = await startAdding({ devices: [] });
  await user.type(screen.getByLabelText("Name of the app or phone"), "Work phone");
  await user.click(screen.getByRole("button", { name: "Next" }));
  await expectFocusedHeading("Step 2 of 4: scan the QR code", 2);
  const clipboard = state.clipboard;
  await user.click(screen.getByRole("button", { name: "Copy — Secret key" }));
  await waitFor(() => expect(clipboard.text).toBe("JBSWY3DPEHPK3PXP"));
  expect(calls("secret_copy")[0].args).toEqual({ value: "JBSWY3DPEHPK3PXP" });
  expect(clipboard.sensitive).toBe(true);
  expect(
    screen.getAllByRole("status").some((s) => s.textContent?.includes("it will be cleared from the clipboard in 30 seconds")),
  ).toBe(true);
  await user.click(screen.getByRole("button", { name: "Next" }));
  await expectFocusedHeading("Step 3 of 4: enter a code", 2);
  await waitFor(() => expect(clipboard.text).toBeNull());
  expect(calls("secret_forget")).toHaveLength(1);
});

test("copied recovery codes leave the clipboard once the user has kept them", async () => {
  const { user, state, calls } = await startAdding({ devices: [] });
  await user.type(screen.getByLabelText("Name of the app or phone"), "Work phone");
  await user.click(screen.getByRole("button", { name: "Next" }));
  await user.click(await screen.findByRole("button", { name: "Next" }));
  await user.type(await screen.findByLabelText("6-digit code shown by the app"), "123456");
  await user.click(screen.getByRole("button", { name: "Confirm" }));
  await expectFocusedHeading("Step 4 of 4: save your recovery codes", 2);
  const clipboard = state.clipboard;
  await user.click(screen.getByRole("button", { name: "Copy — Recovery codes" }));
  const codes = within(screen.getByTestId("recovery-codes")).getAllByRole("listitem").map((li) => li.textContent);
  await waitFor(() => expect(clipboard.text).toBe(codes.join("\n")));
  expect(clipboard.sensitive).toBe(true);
  await user.click(screen.getByRole("button", { name: "I have kept my recovery codes" }));
  await expectFocusedHeading("All set", 2);
  await waitFor(() => expect(clipboard.text).toBeNull());
  expect(calls("secret_forget")).toHaveLength(1);
});

test("a second app skips the recovery codes", async () => {
  const { user } = await startAdding();
  await user.type(screen.getByLabelText("Name of the app or phone"), "Spare");
  await user.click(screen.getByRole("button", { name: "Next" }));
  await user.click(await screen.findByRole("button", { name: "Next" }));
  await user.type(await screen.findByLabelText("6-digit code shown by the app"), "123456");
  await user.click(screen.getByRole("button", { name: "Confirm" }));
  expect(await screen.findByRole("heading", { level: 2, name: "All set" })).toBeInTheDocument();
  expect(screen.queryByTestId("recovery-codes")).not.toBeInTheDocument();
});

test("a missing name is said next to the field and nothing is started", async () => {
  const { user, calls } = await startAdding();
  await user.click(screen.getByRole("button", { name: "Next" }));
  const field = screen.getByLabelText("Name of the app or phone");
  expect(field).toHaveAttribute("aria-invalid", "true");
  expect(field).toHaveAccessibleDescription(expect.stringContaining("Enter a name."));
  expect(field).toHaveFocus();
  expect(calls("device_enrol_start")).toHaveLength(0);
});

test("a code that is not 6 digits is refused before asking the provider", async () => {
  const { user, calls } = await startAdding();
  await user.type(screen.getByLabelText("Name of the app or phone"), "X");
  await user.click(screen.getByRole("button", { name: "Next" }));
  await user.click(await screen.findByRole("button", { name: "Next" }));
  await user.type(await screen.findByLabelText("6-digit code shown by the app"), "12a");
  await user.click(screen.getByRole("button", { name: "Confirm" }));
  expect(screen.getByText("Enter the 6 digits shown by the app.")).toBeInTheDocument();
  expect(calls("device_enrol_confirm")).toHaveLength(0);
});

test("a wrong code (invalid_code) is explained and the field cleared for another try", async () => {
  const { user } = await startAdding();
  await user.type(screen.getByLabelText("Name of the app or phone"), "X");
  await user.click(screen.getByRole("button", { name: "Next" }));
  await user.click(await screen.findByRole("button", { name: "Next" }));
  const field = await screen.findByLabelText("6-digit code shown by the app");
  await user.type(field, "000000");
  await user.click(screen.getByRole("button", { name: "Confirm" }));
  expect(await screen.findByText(/That code is not right/)).toBeInTheDocument();
  expect(field).toHaveValue("");
  expect(field).toHaveAttribute("aria-invalid", "true");
  await user.type(field, "123456");
  await user.click(screen.getByRole("button", { name: "Confirm" }));
  expect(await screen.findByRole("heading", { level: 2, name: "All set" })).toBeInTheDocument();
});

test("an expired enrolment (enrollment_expired) offers to start again", async () => {
  const { user } = await startAdding({
    overrides: { device_enrol_confirm: () => { throw { code: "enrollment_expired", message: "gone" }; } },
  });
  await user.type(screen.getByLabelText("Name of the app or phone"), "X");
  await user.click(screen.getByRole("button", { name: "Next" }));
  await user.click(await screen.findByRole("button", { name: "Next" }));
  await user.type(await screen.findByLabelText("6-digit code shown by the app"), "123456");
  await user.click(screen.getByRole("button", { name: "Confirm" }));
  expect(await screen.findByText(/took too long and expired/)).toBeInTheDocument();
  await user.click(screen.getByRole("button", { name: "Try again" }));
  await waitFor(() => expect(screen.getByRole("heading", { level: 2, name: "Step 1 of 4: name it" })).toHaveFocus());
});

test("rate limiting is explained", async () => {
  const { user } = await startAdding({
    overrides: { device_enrol_start: () => { throw { code: "rate_limited", message: "slow down" }; } },
  });
  await user.type(screen.getByLabelText("Name of the app or phone"), "X");
  await user.click(screen.getByRole("button", { name: "Next" }));
  expect(await screen.findByText("Too many attempts. Wait a few minutes, then try again.")).toBeInTheDocument();
});

test("a full account is told to delete an app first, and stays on the first step", async () => {
  const { user } = await startAdding({
    overrides: { device_enrol_start: () => { throw { code: "too_many_devices", message: "You already have the most authenticator apps allowed here (10)" }; } },
  });
  await user.type(screen.getByLabelText("Name of the app or phone"), "X");
  await user.click(screen.getByRole("button", { name: "Next" }));
  const alert = await screen.findByText(/as many authenticator apps as your organisation allows/);
  expect(alert.closest("[role=alert]")).toHaveAttribute("data-code", "too_many_devices");
  expect(screen.getByRole("heading", { level: 2, name: "Step 1 of 4: name it" })).toBeInTheDocument();
});

test("another app: the step-up is announced while the browser confirms, then the QR code shows", async () => {
  const start = stepUpPending((a) => ({
    enrollment_id: "enr-2",
    name: String(a.name),
    qr_png_data_uri: "data:image/png;base64,AA==",
    secret_groups: ["JBSW", "Y3DP"],
    expires_at: "2026-11-23T09:22:00Z",
  }));
  const { user } = await startAdding({ overrides: { device_enrol_start: start.command } });
  await user.type(screen.getByLabelText("Name of the app or phone"), "Spare phone");
  await user.click(screen.getByRole("button", { name: "Next" }));
  await expectStepUpAnnounced();
  start.release();
  await expectFocusedHeading("Step 2 of 4: scan the QR code", 2);
  expect(screen.getByTestId("secret")).toHaveTextContent("JBSWY3DP");
});
