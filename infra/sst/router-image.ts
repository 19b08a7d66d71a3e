// Where LambdaDispatch finds the router image and what `sst dev` runs, for this repository: the
// image built from the sources (infra/router.Dockerfile, the app root as context) and the router
// from the sources with tsx. The package's build swaps in router-image.package.ts, which points
// at the router bundle inside the installed package.

export interface RouterImageDefaults {
  image: { context: string; dockerfile: string };
  devCommand: string;
}

export function routerImageDefaults(): RouterImageDefaults {
  return {
    image: { context: '.', dockerfile: 'infra/router.Dockerfile' },
    devCommand: 'node --import tsx infra/router/dev.ts',
  };
}
