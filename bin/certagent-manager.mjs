#!/usr/bin/env node
// The reference management server, run from a checkout.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../manager/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
