// LAMBDA_DISPATCH_RemoveBasePath: an API Gateway stage or custom-domain mapping puts a prefix in
// front of the app's own paths (`/prod/users`); taken off here the app sees `/users`, as behind
// AWS Lambda Web Adapter's AWS_LWA_REMOVE_BASE_PATH. Only whole segments match: `/prod` is taken
// off `/prod` and `/prod/x`, never off `/production`.

/** `path` without the leading `base` (given without trailing slashes), or `path` as it was. */
export function removeBasePath(path: string, base: string | undefined): string {
  if (base === undefined || !path.startsWith(base)) return path;
  const rest = path.slice(base.length);
  if (rest === '') return '/';
  return rest.startsWith('/') ? rest : path;
}
