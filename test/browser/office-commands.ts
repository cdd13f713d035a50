/**
 * vitest browser commands (run in Node) that open the virtual-office example in pages of their own — each
 * a real top-level page of the test's Chromium context, so two of them are two visitors — and drive and
 * read them through Playwright. The test calls them as `commands.officeOpen(…)` and so on.
 */
import { resolve } from "node:path";
import type { Page } from "playwright";
import type { BrowserCommand, BrowserCommandContext } from "vitest/node";

export interface OfficeAvatar {
  member: string;
  room: string;
  emoji: string;
  x: number;
  y: number;
}

export interface OfficeStatus {
  state: string;
  phase: string;
  retry: string;
}

const pages = new Map<string, Page>();

function page(context: BrowserCommandContext, name: string): Page {
  const found = pages.get(`${context.sessionId}:${name}`);
  if (found === undefined) throw new Error(`officeCommands: no page "${name}" open (officeOpen first)`);
  return found;
}

const officeOpen: BrowserCommand<[name: string, url: string]> = async (context, name, url) => {
  const opened = await context.context.newPage();
  pages.set(`${context.sessionId}:${name}`, opened);
  await opened.setViewportSize({ width: 800, height: 580 });
  await opened.goto(url);
};

const officeClick: BrowserCommand<[name: string, selector: string]> = async (context, name, selector) => {
  await page(context, name).click(selector);
};

const officeSelect: BrowserCommand<[name: string, selector: string, value: string]> = async (
  context,
  name,
  selector,
  value,
) => {
  await page(context, name).selectOption(selector, value);
};

const officeAvatars: BrowserCommand<[name: string]> = (context, name): Promise<OfficeAvatar[]> =>
  page(context, name).$$eval("#map [data-member]", (nodes) =>
    nodes.map((node) => ({
      member: node.getAttribute("data-member") ?? "",
      room: node.getAttribute("data-room") ?? "",
      emoji: node.getAttribute("data-emoji") ?? "",
      x: Number(node.getAttribute("data-x")),
      y: Number(node.getAttribute("data-y")),
    })),
  );

const officeStatus: BrowserCommand<[name: string]> = (context, name): Promise<OfficeStatus> =>
  page(context, name).evaluate(() => ({
    state: document.querySelector("#state")?.textContent ?? "",
    phase: document.querySelector("#phase")?.textContent ?? "",
    retry: document.querySelector("#retry")?.textContent ?? "",
  }));

/** Saves a screenshot of the page to `path` (relative to the project root). */
const officeScreenshot: BrowserCommand<[name: string, path: string]> = async (context, name, path) => {
  await page(context, name).screenshot({ path: resolve(context.project.config.root, path) });
};

const officeClose: BrowserCommand<[]> = async (context) => {
  for (const [key, opened] of pages) {
    if (!key.startsWith(`${context.sessionId}:`)) continue;
    pages.delete(key);
    await opened.close();
  }
};

export const officeCommands = {
  officeOpen,
  officeClick,
  officeSelect,
  officeAvatars,
  officeStatus,
  officeScreenshot,
  officeClose,
};
