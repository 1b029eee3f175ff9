// Validates Kubernetes objects against the API's OpenAPI schemas with kubernetes-models. Reads a JSON array of
// objects on stdin and writes one result per object: { ok: true } or { error }. It is a separate process
// because kubernetes-models is ESM-only and Jest runs the tests as CommonJS (test/deploy/k8s.test.ts).
import { text } from 'node:stream/consumers';

const kindModule = (apiVersion, kind) => {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : [undefined, apiVersion];
  return group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
};

const results = [];
for (const object of JSON.parse(await text(process.stdin))) {
  const { apiVersion, kind } = object ?? {};
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') {
    results.push({ error: 'apiVersion and kind must be strings' });
    continue;
  }
  let Model;
  try {
    Model = (await import(kindModule(apiVersion, kind)))[kind];
  } catch {
    Model = undefined;
  }
  // Sub-schemas (DeploymentSpec, Container, ...) are models too; only top-level kinds carry apiVersion and kind.
  if (!Model || Model.apiVersion !== apiVersion || Model.kind !== kind) {
    results.push({ error: `unknown kind ${apiVersion} ${kind}` });
    continue;
  }
  try {
    new Model(object).validate();
    results.push({ ok: true });
  } catch (err) {
    results.push({ error: err instanceof Error ? err.message : String(err) });
  }
}
process.stdout.write(JSON.stringify(results));
