// The router's metrics in CloudWatch: the settings that turn on its Embedded Metric Format lines
// (one JSON line a minute on stdout, which the task's awslogs driver ships to CloudWatch Logs, where
// the metrics are extracted), a dashboard and alarms over them. Part of the LambdaDispatch
// component (lambda-dispatch.ts), which validates the options here and creates the resources when
// it deploys the router (not in `sst dev`, where the router runs on your machine and its stdout
// reaches no log group).

/** The router's metrics (name, EMF unit): one line per interval, one dimension, `Service`. */
export const ROUTER_METRICS = {
  Requests: 'Count',
  Responses4xx: 'Count',
  Responses5xx: 'Count',
  RequestDuration: 'Milliseconds',
  QueueWait: 'Milliseconds',
  AppTime: 'Milliseconds',
  Invokes: 'Count',
  InvokeFailures: 'Count',
  InFlight: 'Count',
  Waiting: 'Count',
  Instances: 'Count',
} as const;
export type RouterMetric = keyof typeof ROUTER_METRICS;

export const DEFAULT_NAMESPACE = 'LambdaDispatch';
export const DIMENSION = 'Service';
/** Every metric and alarm works on one-minute periods: the router's default emission interval. */
export const PERIOD_SECONDS = 60;
/**
 * A one-minute period counts for the rate and latency alarms only with at least this many requests:
 * at 1 of 2 requests failing the rate is 50%, and the p99 of three requests is the slowest of them.
 */
export const MIN_REQUESTS_PER_MINUTE = 20;
/**
 * Every alarm fires on 3 breaching minutes of the last 5: one bad minute (a deploy, a burst of
 * instance starts) is no page, a fault that lasts shows within three minutes and is not hidden
 * by one good minute in between.
 */
export const EVALUATION_PERIODS = 5;
export const DATAPOINTS_TO_ALARM = 3;

export interface MetricsOptions {
  /**
   * The CloudWatch namespace of the router's metrics (LAMBDA_DISPATCH_EmfNamespace). Default
   * `LambdaDispatch`: one namespace for every deployment, told apart by the `Service` dimension
   * (`{app}-{stage}-{component name}`), so that all of them list together in the console.
   */
  namespace?: string;
}

export interface AlarmsOptions {
  /**
   * Alarm when more than this percentage of requests end in a 5xx (the app's and the router's own
   * 502/503/504) in a minute with at least 20 requests. Default 5: a healthy deployment stays well
   * under 1%, so 5% for three of five minutes is a fault users see, not the odd failing request.
   */
  errorRatePercent?: number;
  /**
   * Alarm when the p99 of RequestDuration (client head to end of response) is above this many
   * milliseconds in a minute with at least 20 requests. Default 5000: where a user of an
   * interactive API has long been waiting. Not derived from `function.timeout`, which is the
   * ceiling of the slowest request allowed, not what is normal: at half the default 60 s only
   * requests about to time out would trip it, and those already show as 504s in the 5xx alarm.
   * Raise it for apps whose responses are long by design (streams, server-sent events, long polls).
   */
  p99Ms?: number;
  /**
   * Alarm when the p99 of QueueWait (a request waiting for a free channel) is above this many
   * milliseconds in a minute with at least 20 requests. Default 1000: a new instance of a Node
   * function in a VPC starts in well under a second, so a p99 above it for minutes means starts lag
   * demand (throttling, the account's concurrency limit, a function failing to start, channel
   * settings too low), not the odd cold start.
   */
  queueWaitP99Ms?: number;
  /**
   * Alarm when more than this many invokes fail (throttled, function error, instance never called
   * back) in a minute. Default 0, so any failure in three of five minutes: the router backs off
   * after failures (at most one start per 15–30 s once the backoff is at its cap), so a function
   * that cannot start at all fails only 2–4 times a minute per router task, which a higher
   * threshold would never see; a healthy deployment has the odd failure, not one every minute.
   */
  invokeFailuresPerMinute?: number;
  /**
   * SNS topic ARNs notified when an alarm fires and when it returns to OK (CloudWatch allows 5).
   * Default none: the alarms show their state in the console and on the dashboard only.
   */
  actions?: $util.Input<string>[];
}

export interface ObservabilityArgs {
  /**
   * The router's metrics in CloudWatch (Embedded Metric Format lines in its log, one a minute).
   * Default on, namespace `LambdaDispatch`: the dashboard and the alarms read them, and they cost
   * 11 custom metrics (about $3.30 a month) and a few KB of log a minute. `false` turns them off
   * (then `alarms` must be `false` too). Never in `sst dev`: the local router's output reaches no
   * log group.
   */
  metrics?: false | MetricsOptions;
  /**
   * A CloudWatch dashboard of the router's metrics, its ECS service's CPU and memory and the
   * function's errors, throttles and concurrency. Default `true`: it is where you look first,
   * and it costs $3 a month beyond the account's first three dashboards. Not in `sst dev`.
   */
  dashboard?: boolean;
  /**
   * Alarms on the 5xx rate, the p99 of request duration and of queue wait, and invoke failures,
   * each over one-minute periods, firing on 3 of the last 5, missing data not breaching. Default
   * on with the thresholds below ($0.10 a month per metric an alarm reads: $0.70 for the four).
   * `false` creates none. Not in `sst dev`.
   */
  alarms?: false | AlarmsOptions;
}

export interface ObservabilitySettings {
  /** The EMF namespace, or undefined with metrics off. */
  namespace: string | undefined;
  dashboard: boolean;
  alarms: { errorRatePercent: number; p99Ms: number; queueWaitP99Ms: number; invokeFailuresPerMinute: number; actions: $util.Input<string>[] } | undefined;
}

const MAX_ALARM_ACTIONS = 5;

/** Validates the options into `problems` (the component reports them all at once). */
export function checkObservability(args: ObservabilityArgs, routerSettings: Record<string, unknown>, problems: string[]): ObservabilitySettings {
  const namespace = args.metrics === false ? undefined : (args.metrics?.namespace ?? DEFAULT_NAMESPACE);
  // CloudWatch's rule for namespaces (PutMetricData), which EMF follows.
  if (namespace !== undefined && (!/^[0-9A-Za-z._\-/#: ]{1,255}$/.test(namespace) || !namespace.trim() || namespace.startsWith(':') || namespace.startsWith('AWS/'))) {
    problems.push(`metrics.namespace must be 1–255 of A-Z a-z 0-9 . - _ / # : and space, not start with ":" or "AWS/", got "${namespace}"`);
  }
  for (const key of ['LAMBDA_DISPATCH_EmfNamespace', 'LAMBDA_DISPATCH_EmfService']) {
    if (key in routerSettings) problems.push(`router.settings.${key} cannot be set: the dashboard and the alarms follow the component's (use metrics.namespace, or metrics: false)`);
  }
  if (args.alarms === false) return { namespace, dashboard: args.dashboard ?? true, alarms: undefined };

  const a = args.alarms ?? {};
  const num = (label: string, v: number | undefined, dflt: number, ok: (n: number) => boolean, what: string) => {
    const n = v ?? dflt;
    if (typeof n !== 'number' || !Number.isFinite(n) || !ok(n)) problems.push(`alarms.${label} must be ${what}, got ${n}`);
    return n;
  };
  const alarms = {
    errorRatePercent: num('errorRatePercent', a.errorRatePercent, 5, (n) => n > 0 && n < 100, 'a percentage above 0 and below 100'),
    p99Ms: num('p99Ms', a.p99Ms, 5000, (n) => n > 0, 'a number of milliseconds above 0'),
    queueWaitP99Ms: num('queueWaitP99Ms', a.queueWaitP99Ms, 1000, (n) => n > 0, 'a number of milliseconds above 0'),
    invokeFailuresPerMinute: num('invokeFailuresPerMinute', a.invokeFailuresPerMinute, 0, (n) => Number.isInteger(n) && n >= 0, 'an integer from 0'),
    actions: a.actions ?? [],
  };
  if (alarms.actions.length > MAX_ALARM_ACTIONS) problems.push(`alarms.actions may name at most ${MAX_ALARM_ACTIONS} topics (CloudWatch's limit), got ${alarms.actions.length}`);
  for (const arn of alarms.actions) {
    // Only a literal can be checked here; a topic's `arn` output is the caller's to keep.
    if (typeof arn === 'string' && !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]+(\.fifo)?$/.test(arn)) problems.push(`alarms.actions must be SNS topic ARNs, got "${arn}"`);
  }
  if (namespace === undefined) problems.push('alarms watch the router\'s metrics: with metrics: false, set alarms: false too');
  const interval = routerSettings.LAMBDA_DISPATCH_EmfIntervalMs;
  if (typeof interval === 'string' && !(Number(interval) > 0 && Number(interval) <= PERIOD_SECONDS * 1000)) {
    problems.push(`router.settings.LAMBDA_DISPATCH_EmfIntervalMs must be 1–${PERIOD_SECONDS * 1000} (ms) while there are alarms (they count per minute), got "${interval}"`);
  }
  return { namespace, dashboard: args.dashboard ?? true, alarms };
}

/** The value of the `Service` dimension: unique to this app, stage and component. */
export function serviceDimension(name: string): string {
  return `${$app.name}-${$app.stage}-${name}`;
}

/** The router's settings that turn on its EMF lines, or none with metrics off. */
export function emfEnvironment(name: string, o: ObservabilitySettings): Record<string, string> {
  return o.namespace === undefined ? {} : { LAMBDA_DISPATCH_EmfNamespace: o.namespace, LAMBDA_DISPATCH_EmfService: serviceDimension(name) };
}

interface ObservedResources {
  region: $util.Input<string>;
  clusterName: $util.Input<string>;
  serviceName: $util.Input<string>;
  functionName: $util.Input<string>;
}

/**
 * Creates the dashboard and the alarms the settings ask for; none in `sst dev`, where the router
 * runs on your machine and the Service has no ECS service.
 */
export function createObservability(
  name: string,
  o: ObservabilitySettings,
  c: { region: $util.Input<string>; cluster: InstanceType<typeof sst.aws.Cluster>; router: InstanceType<typeof sst.aws.Service>; fn: InstanceType<typeof sst.aws.Function> },
  opts: $util.CustomResourceOptions,
) {
  if ($dev) return { dashboard: undefined, alarms: [] };
  const service = serviceDimension(name);
  const on = { region: c.region, clusterName: c.cluster.nodes.cluster.name, serviceName: c.router.nodes.service.name, functionName: c.fn.name };
  const alarms = o.namespace !== undefined && o.alarms ? createAlarms(name, service, o.namespace, o.alarms, opts) : [];
  // Dashboards are global to the account (alarms are regional): the region keeps the same app and
  // stage deployed in two regions from overwriting each other's.
  const dashboardName = $output(c.region).apply((region) => `${service}-${region}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 255));
  const dashboard = o.dashboard
    ? new aws.cloudwatch.Dashboard(`${name}Dashboard`, { dashboardName, dashboardBody: dashboardBody(service, o, on) }, opts)
    : undefined;
  return { dashboard, alarms };
}

type Stat = 'Sum' | 'Average' | 'Maximum' | 'p50' | 'p99';

function dashboardBody(service: string, o: ObservabilitySettings, on: ObservedResources): $util.Output<string> {
  const ns = o.namespace;
  const m = (metric: RouterMetric, stat: Stat, extra: Record<string, unknown> = {}) => [ns, metric, DIMENSION, service, { stat, ...extra }];
  const ecs = (metric: string, stat: Stat) => ['AWS/ECS', metric, 'ClusterName', on.clusterName, 'ServiceName', on.serviceName, { stat, label: `${metric} ${stat}` }];
  const lambda = (metric: string, stat: Stat, extra: Record<string, unknown> = {}) => ['AWS/Lambda', metric, 'FunctionName', on.functionName, { stat, ...extra }];
  const line = (label: string, value: number | undefined) => (value === undefined ? {} : { annotations: { horizontal: [{ label, value }] } });
  const widget = (title: string, metrics: unknown[][], extra: Record<string, unknown> = {}) => ({
    type: 'metric',
    width: 12,
    height: 6,
    properties: { title, region: on.region, view: 'timeSeries', stacked: false, period: PERIOD_SECONDS, yAxis: { left: { min: 0 } }, metrics, ...extra },
  });
  const router = ns === undefined
    ? []
    : [
        widget('Requests and 4xx/5xx per minute', [
          m('Requests', 'Sum', { id: 'requests' }),
          m('Responses4xx', 'Sum', { id: 'r4xx' }),
          m('Responses5xx', 'Sum', { id: 'r5xx' }),
          [{ id: 'rate', expression: errorRateExpression('requests', 'r5xx'), label: '5xx % (the alarm\'s)', yAxis: 'right' }],
        ]),
        widget(
          'RequestDuration (ms)',
          [m('RequestDuration', 'p50', { label: 'p50' }), m('RequestDuration', 'p99', { label: 'p99' })],
          line('p99 alarm', o.alarms?.p99Ms),
        ),
        widget(
          'QueueWait and AppTime (ms)',
          [m('QueueWait', 'p50', { label: 'QueueWait p50' }), m('QueueWait', 'p99', { label: 'QueueWait p99' }), m('AppTime', 'p99', { label: 'AppTime p99' })],
          line('QueueWait p99 alarm', o.alarms?.queueWaitP99Ms),
        ),
        // Gauges sampled by each router task: the busiest task's value in the minute.
        widget('In flight, waiting, Lambda instances (busiest router task)', [
          m('InFlight', 'Maximum'),
          m('Waiting', 'Maximum'),
          m('Instances', 'Maximum'),
        ]),
        widget('Invokes and failures per minute', [m('Invokes', 'Sum'), m('InvokeFailures', 'Sum')], line('InvokeFailures alarm', o.alarms?.invokeFailuresPerMinute)),
      ];
  const widgets = [
    ...router,
    widget('Router tasks CPU and memory (%)', [ecs('CPUUtilization', 'Average'), ecs('CPUUtilization', 'Maximum'), ecs('MemoryUtilization', 'Average'), ecs('MemoryUtilization', 'Maximum')], {
      yAxis: { left: { min: 0, max: 100 } },
    }),
    widget('Function errors, throttles, concurrency', [
      lambda('Errors', 'Sum'),
      lambda('Throttles', 'Sum'),
      lambda('ConcurrentExecutions', 'Maximum', { yAxis: 'right' }),
    ]),
  ];
  // Two widgets a row on the 24-column grid.
  return $util.jsonStringify({ widgets: widgets.map((w, i) => ({ ...w, x: (i % 2) * 12, y: Math.floor(i / 2) * 6 })) });
}

function errorRateExpression(requests: string, errors: string): string {
  return `IF(${requests} >= ${MIN_REQUESTS_PER_MINUTE}, 100 * FILL(${errors}, 0) / ${requests}, 0)`;
}

function createAlarms(name: string, service: string, namespace: string, a: NonNullable<ObservabilitySettings['alarms']>, opts: $util.CustomResourceOptions) {
  const metric = (id: string, metricName: RouterMetric, stat: Stat) => ({
    id,
    metric: { namespace, metricName, dimensions: { [DIMENSION]: service }, period: PERIOD_SECONDS, stat },
  });
  const common = {
    comparisonOperator: 'GreaterThanThreshold',
    evaluationPeriods: EVALUATION_PERIODS,
    datapointsToAlarm: DATAPOINTS_TO_ALARM,
    treatMissingData: 'notBreaching',
    alarmActions: a.actions,
    okActions: a.actions,
  };
  const when = `in ${DATAPOINTS_TO_ALARM} of ${EVALUATION_PERIODS} minutes`;
  const guarded = `minutes with fewer than ${MIN_REQUESTS_PER_MINUTE} requests count as OK`;
  /** A percentile that counts only in minutes with enough requests. */
  const p99 = (metricName: RouterMetric, threshold: number, what: string) => ({
    ...common,
    threshold,
    alarmDescription: `${service}: ${what} p99 above ${threshold} ms ${when} (${guarded})`,
    metricQueries: [
      metric('requests', 'Requests', 'Sum'),
      metric('latency', metricName, 'p99'),
      { id: 'guarded', expression: `IF(requests >= ${MIN_REQUESTS_PER_MINUTE}, latency, 0)`, label: `${metricName} p99 (ms)`, returnData: true },
    ],
  });
  const alarm = (suffix: string, resource: string, args: Omit<aws.cloudwatch.MetricAlarmArgs, 'name'>) =>
    new aws.cloudwatch.MetricAlarm(`${name}${resource}Alarm`, { name: `${service}-${suffix}`, ...args }, opts);
  return [
    alarm('5xx-rate', 'ErrorRate', {
      ...common,
      threshold: a.errorRatePercent,
      alarmDescription: `${service}: more than ${a.errorRatePercent}% of requests answered 5xx ${when} (${guarded})`,
      metricQueries: [
        metric('requests', 'Requests', 'Sum'),
        metric('errors', 'Responses5xx', 'Sum'),
        { id: 'rate', expression: errorRateExpression('requests', 'errors'), label: '5xx % of requests', returnData: true },
      ],
    }),
    alarm('request-duration-p99', 'RequestDurationP99', p99('RequestDuration', a.p99Ms, 'request duration')),
    alarm('queue-wait-p99', 'QueueWaitP99', p99('QueueWait', a.queueWaitP99Ms, 'queue wait')),
    alarm('invoke-failures', 'InvokeFailures', {
      ...common,
      threshold: a.invokeFailuresPerMinute,
      alarmDescription: `${service}: more than ${a.invokeFailuresPerMinute} failed invokes a minute ${when}`,
      namespace,
      metricName: 'InvokeFailures',
      dimensions: { [DIMENSION]: service },
      statistic: 'Sum',
      period: PERIOD_SECONDS,
    }),
  ];
}
