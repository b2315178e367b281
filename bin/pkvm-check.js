#!/usr/bin/env node
// Runs the TypeScript sources directly (no build step): tsx registers its loaders, then the CLI runs.
// Both hooks: a user's variant module written in TypeScript may sit in a CommonJS scope (a folder
// without a package.json of "type": "module"), where Node loads it through require().
import { register } from 'tsx/esm/api';
import { register as registerCjs } from 'tsx/cjs/api';
import { register as registerSelf } from './self-resolve.js';

register();
registerCjs();
registerSelf();
process.env.NODE_ENV ??= "production";
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
