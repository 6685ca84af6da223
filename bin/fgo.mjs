#!/usr/bin/env node
// Runs the TypeScript CLI directly through tsx's loader, so `npx fgo` works right after `npm ci`
// with no build step to forget.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
await main(process.argv);
