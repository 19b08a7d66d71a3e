// The base class of the components: SST's (Pulumi's) ComponentResource, which exists only inside
// the program SST runs. Imported anywhere else (plain node, a test, an editor), the module still
// loads and the component says where it belongs when constructed.

class OutsideSst {
  constructor() {
    throw new Error('lambda-dispatch/sst: construct LambdaDispatch inside run() of an SST app (sst.config.ts)');
  }
}

/** SST's `$util`, or undefined where it is not defined (reading it there throws a ReferenceError). */
function sstUtil(): typeof $util | undefined {
  try {
    return $util;
  } catch {
    return undefined;
  }
}

export const ComponentResource: typeof $util.ComponentResource =
  sstUtil()?.ComponentResource ?? (OutsideSst as unknown as typeof $util.ComponentResource);
