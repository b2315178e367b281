// Lets a variant module anywhere import 'pkvm-check' (its published types and API, api.ts): the
// specifier resolves to this installation, in ES modules (a resolve hook) and in CommonJS (where
// tsx turns a TypeScript module's imports into require() calls), whether or not pkvm-check is
// installed beside the module.
import Module, { register as registerHooks } from 'node:module';
import { fileURLToPath } from 'node:url';

const API = new URL('../api.ts', import.meta.url);

export function register() {
  registerHooks(
    `data:text/javascript,${encodeURIComponent(
      `export async function resolve(s, c, next) { return next(s === 'pkvm-check' ? ${JSON.stringify(API.href)} : s, c); }`,
    )}`,
  );
  const original = Module._resolveFilename;
  Module._resolveFilename = function (request, ...rest) {
    return original.call(this, request === 'pkvm-check' ? fileURLToPath(API) : request, ...rest);
  };
}
