#!/usr/bin/env node
// The configuration side of the same program: `certagent-config X` is `certagent config X`
// for configuration verbs, and `certagent X` for the rest (credstore, status).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../agent/cli/main.ts');
process.exitCode = await main(process.argv.slice(2), { programName: 'certagent-config' });
