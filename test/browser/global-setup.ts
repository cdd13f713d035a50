/** vitest `globalSetup` for the browser project: real servers in Node, their addresses handed to the page. */
import type { TestProject } from "vitest/node";
import { startOfficeProcess } from "../helpers/office-process.js";
import { startBrowserServers } from "./servers.js";

declare module "vitest" {
  export interface ProvidedContext {
    ports: { ws: number; socketIo: number; presence: number; control: number };
    /** The virtual-office example's address (its own process, as `npm run example:office` runs it). */
    office: string;
  }
}

export default async function setup(project: TestProject) {
  const [servers, office] = await Promise.all([startBrowserServers(), startOfficeProcess()]);
  project.provide("ports", servers.ports);
  project.provide("office", office.url);
  return async () => {
    await servers.close();
    await office.stop();
  };
}
