/**
 * The docs cannot rot: every relative link in README.md, CONTRIBUTING.md and docs/*.md points to a file that
 * exists, and a link with a `#fragment` into a markdown file to a heading it has (GitHub's anchor rules). The
 * README stays a front door (under 15 KB) whose code blocks are either runnable whole programs (```js
 * runnable=node|browser, run by test/integration/readme-snippets.test.ts) or marked fragments.
 * And no public export is without JSDoc: typedoc's own "not documented" check finds nothing (it also runs, as
 * an error, in `npm run docs`; this test lists every name at once).
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { Application, LogLevel } from "typedoc";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");

/** The documents whose links are checked. */
function documents(): string[] {
  const guides = readdirSync(join(root, "docs"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => join(root, "docs", name));
  return [join(root, "README.md"), join(root, "CONTRIBUTING.md"), ...guides];
}

/** Markdown without fenced code blocks and inline code, where link syntax is only text. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "").replace(/(`+)[\s\S]*?\1/g, "");
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  const withoutFences = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "");
  for (const [, heading] of withoutFences.matchAll(/^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$/gm)) {
    const text = (heading ?? "")
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .replace(/<[^>]+>/g, "")
      .toLowerCase();
    const slug = text.replace(/[^\p{L}\p{N}\p{M} _-]/gu, "").replace(/ /g, "-");
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    result.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return result;
}

/** Every relative link target of a document: inline links and images, and reference definitions. */
function relativeLinks(markdown: string): string[] {
  const text = prose(markdown);
  const targets = [
    ...[...text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1] ?? ""),
    ...[...text.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)].map((m) => m[1] ?? ""),
  ];
  return targets.filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

/** What is wrong with the links of one document (empty when nothing is). */
function brokenLinks(file: string, markdown: string, read: (path: string) => string | undefined): string[] {
  const problems: string[] = [];
  for (const target of relativeLinks(markdown)) {
    const [pathPart = "", fragment] = target.split("#", 2);
    const path = pathPart === "" ? file : join(dirname(file), decodeURIComponent(pathPart));
    const name = relative(root, path).split("\\").join("/");
    if (pathPart !== "" && !existsSync(path) && read(path) === undefined) {
      problems.push(`${target}: no file ${name}`);
      continue;
    }
    if (fragment === undefined || fragment === "") continue;
    if (!path.endsWith(".md")) {
      problems.push(`${target}: an anchor into ${name}, which is not markdown`);
      continue;
    }
    const content = read(path);
    if (content === undefined) {
      problems.push(`${target}: ${name} cannot be read`);
    } else if (!anchors(content).has(decodeURIComponent(fragment).toLowerCase())) {
      problems.push(`${target}: no heading #${fragment} in ${name}`);
    }
  }
  return problems;
}

function readIfFile(path: string): string | undefined {
  return existsSync(path) && statSync(path).isFile() ? readFileSync(path, "utf8") : undefined;
}

describe("documentation links", () => {
  it("finds the broken links it exists to find: a missing file, a missing heading, a stray anchor", () => {
    const file = join(root, "docs", "example.md");
    const markdown = [
      "# Example",
      "## Options (`ws`) — in brief",
      "[ok](#options-ws--in-brief) [ok](options.md#events) [ok](../README.md) [ok](https://example.test/x)",
      "[missing file](nowhere.md) [missing heading](options.md#no-such-heading) [stray](#elsewhere)",
      "`[in code](not-checked.md)`",
      "```md\n[in a fence](not-checked-either.md)\n```",
    ].join("\n");
    const read = (path: string) => (path === file ? markdown : readIfFile(path));
    expect(brokenLinks(file, markdown, read)).toEqual([
      "nowhere.md: no file docs/nowhere.md",
      "options.md#no-such-heading: no heading #no-such-heading in docs/options.md",
      "#elsewhere: no heading #elsewhere in docs/example.md",
    ]);
  });

  it("numbers repeated headings the way GitHub does", () => {
    expect([...anchors("# A\n## Events\n### Events\n## Server hints — the wire format")]).toEqual([
      "a",
      "events",
      "events-1",
      "server-hints--the-wire-format",
    ]);
  });

  for (const file of documents()) {
    it(`resolves every relative link in ${relative(root, file)}`, () => {
      const markdown = readFileSync(file, "utf8");
      const read = (path: string) => (path === file ? markdown : readIfFile(path));
      expect(brokenLinks(file, markdown, read)).toEqual([]);
    });
  }
});

describe("the README as a front door", () => {
  const readme = readFileSync(join(root, "README.md"), "utf8");

  it("stays under 15 KB, the rest being in docs/", () => {
    expect(Buffer.byteLength(readme)).toBeLessThan(15_000);
  });

  it("marks every TypeScript or JavaScript block as a runnable whole program or as a fragment", () => {
    const infos = [...readme.matchAll(/^```([^\n]*)$/gm)].map((m) => (m[1] ?? "").trim()).filter((s) => s);
    const code = infos.filter((info) => /^(ts|js|typescript|javascript)\b/.test(info));
    expect(code.filter((info) => info.includes("runnable=")).length).toBeGreaterThan(0);
    for (const info of code) expect(info).toMatch(/^(ts|js) (fragment|runnable=(node|browser))$/);
    for (const info of infos.filter((i) => i.includes("runnable="))) {
      expect(info).toMatch(/^(js|ts|html) runnable=(node|browser)$/);
    }
  });

  it("names the file of every runnable block in its first line, as the quick starts tell the reader to save it", () => {
    const runnable = [...readme.matchAll(/^```[^\n]* runnable=[^\n]*\n([^\n]*)/gm)].map((m) => m[1] ?? "");
    expect(runnable.length).toBeGreaterThan(0);
    for (const first of runnable) expect(first).toMatch(/^(\/\/|<!--) [\w.-]+\.(mjs|cjs|js|html)\b/);
  });

  it("names the install line with its peers and the two commands a fresh machine needs", () => {
    expect(readme).toContain("npm install resilient-reconnect ws");
    expect(readme).toContain("npm install resilient-reconnect socket.io-client");
    expect(readme).toMatch(/^npm start\b/m);
    expect(readme).toMatch(/^npm test\b/m);
  });
});

/** Every public reflection typedoc finds without documentation, as "name (Kind)". */
async function undocumentedApi(): Promise<string[]> {
  const app = await Application.bootstrapWithPlugins({
    options: join(root, "typedoc.json"),
    validation: { notDocumented: true, notExported: false, invalidLink: false },
    treatWarningsAsErrors: false,
  });
  const found = new Set<string>();
  const problems: string[] = [];
  const log = app.logger.log.bind(app.logger);
  app.logger.log = (message: string, level: LogLevel) => {
    // The console logger's colour codes end with "m" before the name, so the name is the word before " (".
    const undocumented = /(\S+) \((\w+)\), defined in .* does not have any documentation/.exec(message);
    if (undocumented) found.add(`${undocumented[1]} (${undocumented[2]})`);
    else if (level >= LogLevel.Warn) problems.push(message);
    else if (level > LogLevel.Info) log(message, level);
  };
  const project = await app.convert();
  if (project === undefined) throw new Error(`typedoc could not convert the sources: ${problems.join("; ")}`);
  app.validate(project);
  return [...found].sort();
}

describe("the API reference", () => {
  it("documents every public class, method, option and event field of every entry", async () => {
    expect(await undocumentedApi()).toEqual([]);
  }, 180_000);
});
