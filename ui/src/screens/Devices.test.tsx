import { screen, waitFor, within } from "@testing-library/react";
import { expect, test } from "vitest";
import { renderApp, expectFocusedHeading, expectStepUpAnnounced, stepUpPending } from "../test-utils";
import { demoDevices } from "../mock/backend";

async function openDevices(opts = {}) {
  const r = renderApp(opts);
  await r.user.click(await screen.findByRole("button", { name: "Authenticator apps" }));
  await expectFocusedHeading("Authenticator apps", 1);
  return r;
}

test("lists each app with its name, when it was added and last used", async () => {
  await openDevices();
  const rows = await screen.findAllByRole("row");
  expect(rows).toHaveLength(3);
  expect(within(rows[1]).getByRole("rowheader")).toHaveTextContent("Work phone");
  expect(rows[1]).toHaveTextContent("1 Oct 2026");
  expect(within(rows[2]).getAllByRole("cell")[1]).toHaveTextContent("Never");
});

test("the navigation marks the current screen", async () => {
  await openDevices();
  expect(screen.getByRole("button", { name: "Authenticator apps" })).toHaveAttribute("aria-current", "page");
  expect(screen.getByRole("button", { name: "Overview" })).not.toHaveAttribute("aria-current");
});

test("rename changes the name in place and says so", async () => {
  const { user, state } = await openDevices();
  await user.click(await screen.findByRole("button", { name: "Rename Tablet" }));
  const field = screen.getByLabelText("New name for Tablet");
  expect(field).toHaveFocus();
  await user.clear(field);
  await user.type(field, "Old tablet{Enter}");
  expect(await screen.findByRole("rowheader", { name: "Old tablet" })).toBeInTheDocument();
  expect(screen.getAllByRole("status").some((s) => s.textContent === "Renamed to Old tablet.")).toBe(true);
  expect(state.devices.find((d) => d.id === "dev-2")?.name).toBe("Old tablet");
});

test("delete asks first, cancel keeps the app, confirm removes it after the step-up", async () => {
  const { user, state, calls } = await openDevices();
  await user.click(await screen.findByRole("button", { name: "Delete Tablet" }));
  expect(screen.getByText(/Delete Tablet\? Codes from this app will no longer be accepted/)).toBeInTheDocument();
  const yes = screen.getByRole("button", { name: "Delete Tablet" });
  expect(yes).toHaveFocus();
  await user.keyboard("{Escape}");
  expect(calls("device_delete")).toHaveLength(0);
  await user.click(screen.getByRole("button", { name: "Delete Tablet" }));
  await user.click(screen.getByRole("button", { name: "Delete Tablet" }));
  await waitFor(() => expect(screen.queryByRole("rowheader", { name: "Tablet" })).not.toBeInTheDocument());
  expect(calls("device_delete")[0].args.id).toBe("dev-2");
  expect(state.devices.map((d) => d.id)).toEqual(["dev-1"]);
  expect(screen.getAllByRole("status").some((s) => s.textContent === "Tablet was deleted.")).toBe(true);
});

test("deleting the last app is refused with last_factor and explained", async () => {
  const { user } = await openDevices({ devices: [demoDevices()[0]] });
  await user.click(await screen.findByRole("button", { name: "Delete Work phone" }));
  await user.click(screen.getByRole("button", { name: "Delete Work phone" }));
  const alert = await screen.findByText(/This is your only authenticator app/);
  expect(alert.closest("[role=alert]")).toHaveAttribute("data-code", "last_factor");
  expect(screen.getByRole("rowheader", { name: "Work phone" })).toBeInTheDocument();
});

test("step-up progress is announced while the browser confirms", async () => {
  const remove = stepUpPending();
  const { user } = await openDevices({ overrides: { device_delete: remove.command } });
  await user.click(await screen.findByRole("button", { name: "Delete Tablet" }));
  await user.click(screen.getByRole("button", { name: "Delete Tablet" }));
  await expectStepUpAnnounced();
  remove.release();
  await waitFor(() => expect(screen.queryByRole("rowheader", { name: "Tablet" })).not.toBeInTheDocument());
});

test("an app removed elsewhere (not_found) is explained and the list refreshed", async () => {
  const { user, state } = await openDevices({
    overrides: {
      device_delete: () => {
        state.devices = state.devices.filter((d) => d.id !== "dev-2");
        throw { code: "not_found", message: "no such device" };
      },
    },
  });
  await user.click(await screen.findByRole("button", { name: "Delete Tablet" }));
  await user.click(screen.getByRole("button", { name: "Delete Tablet" }));
  expect(await screen.findByText("It no longer exists; the list was refreshed.")).toBeInTheDocument();
  await waitFor(() => expect(screen.queryByRole("rowheader", { name: "Tablet" })).not.toBeInTheDocument());
});

test("a session that ended sends the user back to sign-in", async () => {
  const { user } = renderApp({ overrides: { browsers_list: () => { throw { code: "not_signed_in", message: "gone" }; } } });
  await user.click(await screen.findByRole("button", { name: "Trusted browsers" }));
  expect(await screen.findByRole("heading", { level: 1, name: "Sign in" })).toBeInTheDocument();
});

test("new recovery codes: confirm, then shown once with copy and save", async () => {
  const { user, calls } = await openDevices();
  await user.click(screen.getByRole("button", { name: "New recovery codes" }));
  await user.click(screen.getByRole("button", { name: "Make new codes" }));
  const list = await screen.findByTestId("recovery-codes");
  expect(within(list).getAllByRole("listitem")).toHaveLength(10);
  const save = screen.getByRole("button", { name: "Save" });
  expect(save).not.toHaveAttribute("aria-disabled", "true");
  await user.click(save);
  expect(await screen.findByText("Saved to /home/alice/Downloads/tessera-recovery-codes.txt.")).toBeInTheDocument();
  expect(calls("recovery_codes_save")).toHaveLength(1);
  // Saved codes are forgotten on the Rust side: the button is off, a second click asks nothing.
  expect(save).toHaveAttribute("aria-disabled", "true");
  await user.click(save);
  expect(calls("recovery_codes_save")).toHaveLength(1);
  expect(screen.getByText("Saved to /home/alice/Downloads/tessera-recovery-codes.txt.")).toBeInTheDocument();
  expect(screen.queryByText(/no longer exists/)).not.toBeInTheDocument();
  await user.click(screen.getByRole("button", { name: "I have kept my recovery codes" }));
  expect(screen.queryByTestId("recovery-codes")).not.toBeInTheDocument();
});

test("recovery codes refused by an unsafe file: what happened and what to do, and saving stays possible", async () => {
  let refused = true;
  const { user, calls } = await openDevices({
    overrides: {
      recovery_codes_save: () => {
        if (refused) {
          refused = false;
          throw { code: "unsafe_file", message: "/home/alice/Downloads/tessera-recovery-codes.txt is a link or a special file" };
        }
        return "/home/alice/Downloads/tessera-recovery-codes.txt";
      },
    },
  });
  await user.click(screen.getByRole("button", { name: "New recovery codes" }));
  await user.click(screen.getByRole("button", { name: "Make new codes" }));
  await screen.findByTestId("recovery-codes");
  const save = screen.getByRole("button", { name: "Save" });
  await user.click(save);
  expect(await screen.findByText(/a link or a special file already has their file's name in your download folder\. Delete it, then save again\./)).toBeInTheDocument();
  expect(save).not.toHaveAttribute("aria-disabled", "true");
  await user.click(save);
  expect(await screen.findByText("Saved to /home/alice/Downloads/tessera-recovery-codes.txt.")).toBeInTheDocument();
  expect(calls("recovery_codes_save")).toHaveLength(2);
});
