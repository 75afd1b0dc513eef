import { screen, waitFor } from "@testing-library/react";
import { expect, test } from "vitest";
import { renderApp, expectFocusedHeading, expectStepUpAnnounced, stepUpPending } from "../test-utils";

async function openBrowsers(opts = {}) {
  const r = renderApp(opts);
  await r.user.click(await screen.findByRole("button", { name: "Trusted browsers" }));
  await expectFocusedHeading("Trusted browsers", 1);
  return r;
}

test("revoking one browser revokes only that one", async () => {
  const { user, state, calls } = await openBrowsers();
  await user.click(await screen.findByRole("button", { name: "Revoke Chrome on Windows" }));
  await waitFor(() => expect(screen.queryByRole("rowheader", { name: "Chrome on Windows" })).not.toBeInTheDocument());
  expect(screen.getByRole("rowheader", { name: "Firefox on Linux" })).toBeInTheDocument();
  expect(calls("browser_revoke")[0].args.id).toBe("br-2");
  expect(state.browsers.map((b) => b.id)).toEqual(["br-1"]);
  expect(screen.getByRole("status")).toHaveTextContent("Chrome on Windows is no longer trusted.");
});

test("revoke all asks first, then empties the list", async () => {
  const { user, calls } = await openBrowsers();
  await user.click(await screen.findByRole("button", { name: "Revoke all" }));
  expect(screen.getByText(/Stop trusting every browser\?/)).toBeInTheDocument();
  await user.click(screen.getByRole("button", { name: "Cancel" }));
  expect(calls("browsers_revoke_all")).toHaveLength(0);
  await user.click(screen.getByRole("button", { name: "Revoke all" }));
  await user.click(screen.getByRole("button", { name: "Revoke all browsers" }));
  expect(await screen.findByTestId("browsers-empty")).toHaveTextContent("No trusted browser.");
  expect(calls("browsers_revoke_all")).toHaveLength(1);
});

test("step-up progress is announced while the browser confirms a revocation", async () => {
  const revoke = stepUpPending();
  const { user } = await openBrowsers({ overrides: { browser_revoke: revoke.command } });
  await user.click(await screen.findByRole("button", { name: "Revoke Chrome on Windows" }));
  await expectStepUpAnnounced();
  revoke.release();
  await waitFor(() => expect(screen.queryByRole("rowheader", { name: "Chrome on Windows" })).not.toBeInTheDocument());
});

test("a list that cannot load is explained with a retry", async () => {
  let fail = true;
  const { user } = renderApp({
    overrides: {
      browsers_list: () => {
        if (fail) throw { code: "unavailable", message: "503" };
        return [];
      },
    },
  });
  await user.click(await screen.findByRole("button", { name: "Trusted browsers" }));
  expect(await screen.findByText(/unavailable for now/)).toBeInTheDocument();
  fail = false;
  await user.click(screen.getByRole("button", { name: "Try again" }));
  expect(await screen.findByTestId("browsers-empty")).toBeInTheDocument();
});
