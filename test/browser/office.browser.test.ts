/**
 * The virtual-office example in real Chromium with two visitors, each in a page of its own (opened by the
 * `officeCommands` in Node): what ann changes — emoji, room, position — shows on bob's map; bob's dropped
 * connection shows its retry countdown and comes back, and ann still sees him. Screenshots of bob's page
 * go to bench/results/ (looked at by a person: it must render sensibly).
 */
import { afterEach, describe, expect, inject, it } from "vitest";
import { commands } from "vitest/browser";
import type { OfficeAvatar, OfficeStatus } from "./office-commands.js";

declare module "vitest/browser" {
  interface BrowserCommands {
    officeOpen: (name: string, url: string) => Promise<void>;
    officeClick: (name: string, selector: string) => Promise<void>;
    officeSelect: (name: string, selector: string, value: string) => Promise<void>;
    officeAvatars: (name: string) => Promise<OfficeAvatar[]>;
    officeStatus: (name: string) => Promise<OfficeStatus>;
    officeScreenshot: (name: string, path: string) => Promise<void>;
    officeClose: () => Promise<void>;
  }
}

const office = inject("office");
type Maybe<T> = T | undefined | null | false;

async function waitFor<T>(what: string, probe: () => Promise<Maybe<T>>, timeoutMs = 10_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const avatarOf = async (page: string, member: string) =>
  (await commands.officeAvatars(page)).find((avatar) => avatar.member === member);

afterEach(() => commands.officeClose());

describe("the virtual office in Chromium", () => {
  it("shows on bob's page the emoji, room and position ann picks on hers", async () => {
    await commands.officeOpen("ann", `${office}?name=ann`);
    await commands.officeOpen("bob", `${office}?name=bob`);
    await waitFor("both pages to see each other", async () => {
      const [ann, bob] = await Promise.all([avatarOf("bob", "ann"), avatarOf("ann", "bob")]);
      return ann !== undefined && bob !== undefined;
    });

    await commands.officeClick("ann", '#emojis button[data-emoji="☕"]');
    await commands.officeSelect("ann", "#room", "kitchen");
    await commands.officeClick("ann", 'button[data-move="1,0"]');
    await commands.officeClick("ann", 'button[data-move="0,1"]');
    const own = await waitFor("ann's own avatar in the kitchen", async () => {
      const avatar = await avatarOf("ann", "ann");
      return avatar?.room === "kitchen" && avatar.y === 80 && avatar;
    });
    const seen = await waitFor("bob's page to show ann in the kitchen with a coffee", async () => {
      const avatar = await avatarOf("bob", "ann");
      return (
        avatar?.room === "kitchen" && avatar.emoji === "☕" && avatar.x === own.x && avatar.y === 80 && avatar
      );
    });
    expect(seen).toEqual({ member: "ann", room: "kitchen", emoji: "☕", x: own.x, y: 80 });
    expect((await commands.officeStatus("bob")).state).toBe("open");
    await commands.officeScreenshot("bob", "bench/results/virtual-office.png");
  });

  it("counts down to bob's next retry after his connection drops, and ann still sees him when he is back", async () => {
    await commands.officeOpen("ann", `${office}?name=ann`);
    await commands.officeOpen("bob", `${office}?name=bob`);
    await waitFor("ann to see bob", async () => (await avatarOf("ann", "bob")) !== undefined);
    await waitFor("bob's page open", async () => (await commands.officeStatus("bob")).state === "open");

    await commands.officeClick("bob", "#drop");
    const waiting = await waitFor("bob's countdown", async () => {
      const status = await commands.officeStatus("bob");
      return status.state === "waiting" && /^next retry in \d+\.\d s$/.test(status.retry) && status;
    });
    expect(waiting.phase).toBe("offline");
    await commands.officeScreenshot("bob", "bench/results/virtual-office-retry.png");
    await waitFor("bob back", async () => {
      const status = await commands.officeStatus("bob");
      return status.state === "open" && status.phase === "synced" && status.retry === "";
    });
    expect(await avatarOf("ann", "bob")).toBeDefined();
    expect(await avatarOf("bob", "ann")).toBeDefined();
  });
});
