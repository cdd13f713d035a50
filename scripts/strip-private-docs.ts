/**
 * Runs after tsup (`npm run build`): takes the JSDoc of private members and of `@internal` declarations out of
 * the emitted `.d.ts` files. Those comments are implementation notes for whoever reads the source ("six
 * closures would cost some 400 bytes"); in the package they would show up in a user's editor on hover. The
 * declarations themselves stay (a class's private members keep it nominal for the type checker).
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const JSDOC_BEFORE_LINE = /^([ \t]*)\/\*\*(?:(?!\*\/)[\s\S])*?\*\/[ \t]*\n(?=([^\n]*)\n?)/gm;

/** `text` (a `.d.ts`) without the JSDoc of private members and of declarations tagged `@internal`. */
export function stripPrivateDocs(text: string): string {
  return text.replace(JSDOC_BEFORE_LINE, (comment: string, _indent: string, next: string) => {
    const privateMember = /^\s*(?:private|#private)\b/.test(next);
    return privateMember || /@internal\b/.test(comment) ? "" : comment;
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dist = join(process.argv[2] ?? "dist");
  let changed = 0;
  for (const name of readdirSync(dist)) {
    if (!/\.d\.c?ts$/.test(name)) continue;
    const file = join(dist, name);
    const before = readFileSync(file, "utf8");
    const after = stripPrivateDocs(before);
    if (after !== before) {
      writeFileSync(file, after);
      changed++;
    }
  }
  console.log(`strip-private-docs: ${changed} declaration files cleaned`);
}
