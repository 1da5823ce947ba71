#!/usr/bin/env node
// Runs the agent's TypeScript sources straight from a checkout; release builds bundle
// agent/cli/main.ts into a single executable instead.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../agent/cli/main.ts');
process.exitCode = await main(process.argv.slice(2), { programName: 'certagent' });
