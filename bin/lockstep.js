#!/usr/bin/env node
// The lockstep command. The sources are TypeScript run through tsx, so there is no build step
// and no stale output to go out of date.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
