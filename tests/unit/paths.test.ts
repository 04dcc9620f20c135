/**
 * Where a clone and an installed package keep state and tools, and which of its own sources the
 * workflow bundler compiles when Lockstep lives under node_modules.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installedPackage, projectRoot, setupCommand, stateDir, toolsDir } from '../../config/paths.ts';
import { compileOwnSources } from '../../workers/worker.ts';

const clone = join('/', 'src', 'lockstep');
const installed = join('/', 'home', 'ana', 'fleet', 'node_modules', 'lockstep');

describe('the state and tools folders', () => {
  it('keeps state in the working folder, whatever the package folder', () => {
    expect(stateDir({}, join('/', 'home', 'ana', 'fleet'))).toBe(join('/', 'home', 'ana', 'fleet', '.lockstep'));
    expect(stateDir({ LOCKSTEP_STATE_DIR: '/var/lib/lockstep' }, '/anywhere')).toBe('/var/lib/lockstep');
  });

  it("keeps a clone's tools in .tools/ and an installed package's per user", () => {
    expect(installedPackage(clone)).toBe(false);
    expect(installedPackage(installed)).toBe(true);
    expect(toolsDir({ HOME: '/home/ana' }, clone)).toBe(join(clone, '.tools'));
    expect(toolsDir({ HOME: '/home/ana' }, installed)).toBe('/home/ana/.cache/lockstep');
    expect(toolsDir({ HOME: '/home/ana', XDG_CACHE_HOME: '/cache' }, installed)).toBe('/cache/lockstep');
    expect(toolsDir({ LOCKSTEP_TOOLS_DIR: '/opt/tools' }, installed)).toBe('/opt/tools');
    expect(toolsDir({ LOCKSTEP_TOOLS_DIR: '/opt/tools' }, clone)).toBe('/opt/tools');
    expect(setupCommand(clone)).toBe('npm run bootstrap');
    expect(setupCommand(installed)).toBe('npx lockstep setup');
  });
});

describe("the workflow bundler's TypeScript rule", () => {
  it("compiles Lockstep's own sources under node_modules, and still skips other packages'", () => {
    const rule: { test: RegExp; exclude: RegExp | ((file: string) => boolean); use: string } = {
      test: /\.ts$/,
      exclude: /node_modules/,
      use: 'swc-loader',
    };
    const config = compileOwnSources({ module: { rules: [{ test: /\.js$/ }, rule] } });
    expect(config.module?.rules?.[1]).toBe(rule);
    const exclude = rule.exclude as (file: string) => boolean;
    const own = (path: string) => join(projectRoot, path);
    expect(exclude(own('workflows/change.ts'))).toBe(false);
    expect(exclude(own('node_modules/some-package/index.ts'))).toBe(true);
    expect(exclude(join('/', 'elsewhere', 'node_modules', 'other', 'index.ts'))).toBe(true);
    expect(exclude(join('/', 'elsewhere', 'src', 'index.ts'))).toBe(false);
  });

  it('says so when the bundler has no TypeScript rule to adjust', () => {
    expect(() => compileOwnSources({ module: { rules: [{ test: /\.js$/ }] } })).toThrow(/no TypeScript rule/);
  });
});
