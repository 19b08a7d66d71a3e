// The demo app as a plain Lambda HTTP handler (Function URL events, no lambda-dispatch): what the
// local Lambda's direct mode runs as the bench's "direct Lambda" baseline. The app is the same one
// the router's function serves (demo/function.ts), so only the dispatch differs.

import { demoApp } from '../demo/app.ts';
import { urlEventHandler } from '../infra/local/url-function.ts';

export const handler = urlEventHandler(demoApp);
