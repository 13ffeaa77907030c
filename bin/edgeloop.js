#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader, so the same sources run in development and installed.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
