// router-image.ts as the package ships it (infra/package/build.ts puts this module in its place):
// the router image is built from the package's own bundle, dist/router/ with its Dockerfile, found
// by resolving the package from the app root (SST bundles sst.config.ts, so this module cannot
// look beside itself), and `sst dev` runs the package's bin.

import { createRequire } from 'node:module';
import path from 'node:path';
import type { RouterImageDefaults } from './router-image.ts';

export function routerImageDefaults(): RouterImageDefaults {
  const root = $cli.paths.root;
  const manifest = createRequire(path.join(root, 'package.json')).resolve('lambda-dispatch/package.json');
  // SST takes the context relative to the app root (and the Dockerfile relative to the context).
  const context = path.relative(root, path.join(path.dirname(manifest), 'dist', 'router')).split(path.sep).join('/');
  return {
    image: { context, dockerfile: 'Dockerfile' },
    devCommand: 'npx lambda-dispatch router --bind 127.0.0.1',
  };
}
