import { Application, LogLevel } from "typedoc";

const app = await Application.bootstrapWithPlugins({
  options: "typedoc.json",
  validation: { notDocumented: true, notExported: false, invalidLink: false },
  treatWarningsAsErrors: false,
});
const found = new Set();
app.logger.log = (message, level) => {
  const u = /(\S+) \((\w+)\), defined in (.*?) does not have any documentation/.exec(message);
  if (u) found.add(`${u[1]} (${u[2]}) ${process.env.WHERE ? u[3] : ""}`);
  else if (level >= LogLevel.Warn) console.error("WARN", message);
};
const project = await app.convert();
app.validate(project);
console.log([...found].sort().join("\n"));
console.error("count", found.size);
