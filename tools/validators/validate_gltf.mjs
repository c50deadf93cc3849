// Validate a .glb/.gltf with the Khronos glTF validator and print its JSON report.
// Usage: node tools/validators/validate_gltf.mjs FILE
// Exit status: 0 when the report has no errors, 1 when it has errors, 2 on bad usage.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const validator = require("gltf-validator");

const file = process.argv[2];
if (!file) {
  console.error("usage: node validate_gltf.mjs FILE");
  process.exit(2);
}
const fullpath = path.resolve(file);
const bytes = new Uint8Array(fs.readFileSync(fullpath));
const report = await validator.validateBytes(bytes, {
  uri: path.basename(fullpath),
  maxIssues: 0,
  externalResourceFunction: (uri) =>
    fs.promises.readFile(path.resolve(path.dirname(fullpath), decodeURIComponent(uri))),
});
console.log(JSON.stringify(report, null, 2));
process.exit(report.issues.numErrors > 0 ? 1 : 0);
