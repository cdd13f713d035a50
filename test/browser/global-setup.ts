/** vitest `globalSetup` for the browser project: real servers in Node, their ports handed to the page. */
import type { TestProject } from "vitest/node";
import { startBrowserServers } from "./servers.js";

declare module "vitest" {
  export interface ProvidedContext {
    ports: { ws: number; socketIo: number; control: number };
  }
}

export default async function setup(project: TestProject) {
  const servers = await startBrowserServers();
  project.provide("ports", servers.ports);
  return () => servers.close();
}
