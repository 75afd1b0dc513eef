import { screen, waitFor } from "@testing-library/react";
import { expect, test } from "vitest";
import { renderApp, expectFocusedHeading } from "../test-utils";

test("shows the newest page, then older pages on request, and says when there are no more", async () => {
  const { user, calls } = renderApp();
  await user.click(await screen.findByRole("button", { name: "Activity" }));
  await expectFocusedHeading("Activity", 1);
  await waitFor(() => expect(screen.getAllByRole("row")).toHaveLength(11));
  expect(screen.getAllByRole("row")[1]).toHaveTextContent("Signed in");
  // A help-desk action on one's own account says who and why.
  expect(screen.getByText(/by helen/)).toBeInTheDocument();
  expect(screen.getAllByText(/reason: Lost phone, ticket 4242/).length).toBeGreaterThan(0);

  await user.click(screen.getByRole("button", { name: "Show older events" }));
  await waitFor(() => expect(screen.getAllByRole("row")).toHaveLength(21));
  expect(screen.getAllByRole("row")[11]).toHaveFocus();
  expect(screen.getByRole("status")).toHaveTextContent("10 more event(s) shown.");
  await user.click(screen.getByRole("button", { name: "Show older events" }));
  await waitFor(() => expect(screen.getAllByRole("row")).toHaveLength(25));
  expect(screen.getByRole("status")).toHaveTextContent("No older events.");
  expect(screen.queryByRole("button", { name: "Show older events" })).not.toBeInTheDocument();
  expect(calls("activity_page").map((c) => c.args.cursor)).toEqual([null, "10", "20"]);
});

test("an action newer than the app reads as 'Other event'", async () => {
  const { user } = renderApp();
  await user.click(await screen.findByRole("button", { name: "Activity" }));
  expect((await screen.findAllByText("Other event")).length).toBeGreaterThan(0);
});
