// Every router setting (core/config.ts): unset gives the default, a good value is parsed into its
// field, a bad one stops the start with a SettingError naming the variable. One table, so that a
// setting added without a row here is visible in review.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, configuredCallbackHost, loadRouterConfig, type RouterConfig } from '../config.ts';
import { SettingError } from './env.ts';
import { assertSettingError } from './fixtures/assert.ts';

interface Row {
  variable: string;
  field: keyof RouterConfig;
  fallback: unknown;
  good: [raw: string, parsed: unknown][];
  bad: string[];
}

const SECRET = 'a-worker-secret-of-some-length';

const ROWS: Row[] = [
  { variable: 'LAMBDA_DISPATCH_FunctionName', field: 'functionName', fallback: 'lambda-dispatch-demo', good: [[' my-fn ', 'my-fn']], bad: [] },
  { variable: 'LAMBDA_DISPATCH_MaxConcurrentCount', field: 'maxConcurrentCount', fallback: 32, good: [['4', 4], ['20', 20]], bad: ['abc', '0', '1001', '2.5'] },
  { variable: 'LAMBDA_DISPATCH_MinConcurrentCount', field: 'minConcurrentCount', fallback: 1, good: [['4', 4], ['32', 32]], bad: ['abc', '0', '1001', '33'] },
  { variable: 'LAMBDA_DISPATCH_ChannelCount', field: 'channelCount', fallback: 132, good: [['40', 40], ['5000', 5000]], bad: ['x', '0', '10001', '5'] },
  { variable: 'LAMBDA_DISPATCH_MaxSocketsPerInstance', field: 'maxSocketsPerInstance', fallback: 100, good: [['0', 0], ['500', 500]], bad: ['x', '-1', '5001'] },
  { variable: 'LAMBDA_DISPATCH_InstanceCountMultiplier', field: 'instanceCountMultiplier', fallback: 1.25, good: [['1.5', 1.5]], bad: ['0.5', '101', 'two'] },
  { variable: 'LAMBDA_DISPATCH_IncomingRequestHTTPPort', field: 'incomingPort', fallback: 5001, good: [['0', 0], ['8080', 8080]], bad: ['-1', '65536', 'http'] },
  { variable: 'LAMBDA_DISPATCH_ControlChannelInsecureHTTP2Port', field: 'controlPort', fallback: 5003, good: [['0', 0], ['5004', 5004]], bad: ['65536', 'x'] },
  { variable: 'LAMBDA_DISPATCH_ScalingAlgorithm', field: 'scalingAlgorithm', fallback: 'simple', good: [['ewma', 'ewma'], ['EWMA', 'ewma']], bad: ['fast'] },
  { variable: 'LAMBDA_DISPATCH_IncomingRequestTimeout', field: 'incomingRequestTimeoutMs', fallback: 60_000, good: [['5', 5000], ['0.25', 250]], bad: ['0', '3601', '5s'] },
  { variable: 'LAMBDA_DISPATCH_MaxPendingRequests', field: 'maxPendingRequests', fallback: 10_000, good: [['50', 50]], bad: ['0', '10000001', 'lots'] },
  { variable: 'LAMBDA_DISPATCH_MinInstances', field: 'minInstances', fallback: 0, good: [['3', 3]], bad: ['-1', '10001', 'x', '1001'] },
  { variable: 'LAMBDA_DISPATCH_MaxInstances', field: 'maxInstances', fallback: 1000, good: [['5', 5]], bad: ['0', '10001', 'x'] },
  { variable: 'LAMBDA_DISPATCH_FunctionTimeout', field: 'functionTimeoutMs', fallback: 900_000, good: [['60', 60_000]], bad: ['0', '901', '1.5'] },
  { variable: 'LAMBDA_DISPATCH_PingIntervalMs', field: 'pingIntervalMs', fallback: 2000, good: [['500', 500]], bad: ['49', '60001', '100.5'] },
  { variable: 'LAMBDA_DISPATCH_WindowBytes', field: 'windowBytes', fallback: 512 * 1024, good: [['65536', 65_536]], bad: ['1024', String(64 * 1024 * 1024 + 1), 'big'] },
  { variable: 'LAMBDA_DISPATCH_RingBytes', field: 'ringBytes', fallback: 4 * 1024 * 1024, good: [['65536', 65_536]], bad: ['100000', '32768', String(2 ** 31), 'x'] },
  { variable: 'LAMBDA_DISPATCH_DispatcherThread', field: 'dispatcherThread', fallback: 'auto', good: [['worker', 'worker'], ['MAIN', 'main']], bad: ['both', '1'] },
  { variable: 'LAMBDA_DISPATCH_MaxHeaderBytes', field: 'maxHeaderBytes', fallback: 16 * 1024, good: [['4096', 4096]], bad: ['1023', String(1024 * 1024 + 1)] },
  { variable: 'LAMBDA_DISPATCH_ScaleOutIntervalMs', field: 'scaleOutIntervalMs', fallback: 2000, good: [['0', 0]], bad: ['-1', '600001'] },
  { variable: 'LAMBDA_DISPATCH_ScaleInIntervalMs', field: 'scaleInIntervalMs', fallback: 5000, good: [['500', 500]], bad: ['-1', '3600001'] },
  { variable: 'LAMBDA_DISPATCH_IdleReleaseMs', field: 'idleReleaseMs', fallback: 5000, good: [['10000', 10_000], ['100', 100]], bad: ['99', '3600001', '1.5', 'soon'] },
  { variable: 'LAMBDA_DISPATCH_ReplacementWaitMs', field: 'replacementWaitMs', fallback: 2000, good: [['0', 0]], bad: ['-5', '600001'] },
  { variable: 'LAMBDA_DISPATCH_PrewarmOnStart', field: 'prewarmOnStart', fallback: false, good: [['true', true], ['yes', true], ['0', false]], bad: ['sometimes'] },
  { variable: 'LAMBDA_DISPATCH_WorkerSecret', field: 'workerSecret', fallback: undefined, good: [[SECRET, SECRET]], bad: ['short', ` ${SECRET}`, `${SECRET} `, `${SECRET}\n`, '                    '] },
  { variable: 'AWS_ENDPOINT_URL_LAMBDA', field: 'lambdaEndpoint', fallback: undefined, good: [['http://127.0.0.1:5051', 'http://127.0.0.1:5051']], bad: ['127.0.0.1:5051', 'ws://x'] },
  { variable: 'AWS_REGION', field: 'region', fallback: 'us-east-1', good: [['eu-west-1', 'eu-west-1']], bad: [] },
  { variable: 'LAMBDA_DISPATCH_BindHost', field: 'bindHost', fallback: undefined, good: [['127.0.0.1', '127.0.0.1'], ['::', '::'], ['localhost', 'localhost']], bad: ['0.0.0.0:5001', 'http://x'] },
  { variable: 'LAMBDA_DISPATCH_ShutdownGraceMs', field: 'shutdownGraceMs', fallback: 20_000, good: [['10000', 10_000], ['0', 0]], bad: ['abc', '-1', '3600001', '1.5'] },
  { variable: 'LAMBDA_DISPATCH_AbortAckMs', field: 'abortAckMs', fallback: 2000, good: [['500', 500]], bad: ['99', '600001', 'soon', '1.5'] },
  {
    variable: 'LAMBDA_DISPATCH_Routes',
    field: 'routes',
    fallback: undefined,
    good: [],
    bad: [
      '{',
      '{"functions":[],"routes":[]}',
      '{"functions":[{"name":"a","functionName":"a"}],"routes":[{"function":"b"}]}',
      '{"functions":[{"name":"a","functionName":"a","settings":{"IncomingRequestHTTPPort":1}}],"routes":[{"function":"a"}]}',
      '{"functions":[{"name":"a","functionName":"a","settings":{"MaxConcurrentCount":0}}],"routes":[{"function":"a"}]}',
    ],
  },
  {
    variable: 'LAMBDA_DISPATCH_TrustProxy',
    field: 'trustProxy',
    fallback: [],
    good: [[' 10.0.0.0/16, 192.168.1.7 ,fd00::/8', ['10.0.0.0/16', '192.168.1.7/32', 'fd00::/8']]],
    bad: ['10.0.0.0/33', '10.0.0/16', 'fd00::/129', 'alb', '10.0.0.0/16, x', '10.0.0.0/-1'],
  },
  { variable: 'LAMBDA_DISPATCH_AdminPort', field: 'adminPort', fallback: 5002, good: [['0', 0], ['9000', 9000]], bad: ['-1', '65536', 'admin'] },
  { variable: 'LAMBDA_DISPATCH_AdminBindHost', field: 'adminBindHost', fallback: '127.0.0.1', good: [['0.0.0.0', '0.0.0.0'], ['::1', '::1']], bad: ['127.0.0.1:5002', 'http://x'] },
  { variable: 'LAMBDA_DISPATCH_ControlTls', field: 'controlTls', fallback: true, good: [['false', false], ['0', false], ['true', true]], bad: ['off', 'tls'] },
  { variable: 'LAMBDA_DISPATCH_Multiplex', field: 'multiplex', fallback: true, good: [['false', false], ['true', true]], bad: ['sometimes'] },
  { variable: 'LAMBDA_DISPATCH_RequestTelemetry', field: 'requestTelemetry', fallback: true, good: [['false', false]], bad: ['maybe'] },
  { variable: 'LAMBDA_DISPATCH_LogLevel', field: 'logLevel', fallback: 'info', good: [['warn', 'warn'], ['SILENT', 'silent']], bad: ['verbose', '3'] },
  { variable: 'LAMBDA_DISPATCH_AccessLogSample', field: 'accessLogSample', fallback: 1, good: [['0', 0], ['0.1', 0.1]], bad: ['-0.1', '1.5', 'half'] },
  { variable: 'LAMBDA_DISPATCH_EmfNamespace', field: 'emfNamespace', fallback: undefined, good: [['LambdaDispatch', 'LambdaDispatch']], bad: [] },
  { variable: 'LAMBDA_DISPATCH_EmfService', field: 'emfService', fallback: 'lambda-dispatch-demo', good: [['shop-prod', 'shop-prod']], bad: [] },
  { variable: 'LAMBDA_DISPATCH_EmfIntervalMs', field: 'emfIntervalMs', fallback: 60_000, good: [['10000', 10_000]], bad: ['999', '3600001', '1.5'] },
  { variable: 'LAMBDA_DISPATCH_RouterCallbackHost', field: 'callbackHost', fallback: '127.0.0.1', good: [['10.0.0.5', '10.0.0.5']], bad: ['10.0.0.5:5003', 'ws://10.0.0.5'] },
];

describe('router settings', () => {
  test('defaults when nothing is set; the result is frozen', () => {
    const config = loadRouterConfig({});
    for (const row of ROWS) assert.deepEqual(config[row.field], row.fallback, row.variable);
    assert.ok(Object.isFrozen(config));
  });

  for (const row of ROWS) {
    test(row.variable, () => {
      for (const [raw, parsed] of row.good) assert.deepEqual(loadRouterConfig({ [row.variable]: raw })[row.field], parsed, `${row.variable}=${JSON.stringify(raw)}`);
      assert.deepEqual(loadRouterConfig({ [row.variable]: '' })[row.field], row.fallback, 'blank is unset');
      for (const raw of row.bad) assertSettingError(() => loadRouterConfig({ [row.variable]: raw }), row.variable);
    });
  }

  test('a bad value says what was expected and what was given', () => {
    assertSettingError(() => loadRouterConfig({ LAMBDA_DISPATCH_MaxConcurrentCount: 'abc' }), 'LAMBDA_DISPATCH_MaxConcurrentCount', /^LAMBDA_DISPATCH_MaxConcurrentCount must be an integer from 1 to 1000, got "abc"$/);
    assertSettingError(() => loadRouterConfig({ LAMBDA_DISPATCH_RingBytes: '100000' }), 'LAMBDA_DISPATCH_RingBytes', /power of two/);
    assertSettingError(() => loadRouterConfig({ LAMBDA_DISPATCH_WorkerSecret: 'short' }), 'LAMBDA_DISPATCH_WorkerSecret', /at least 16 characters/);
    assertSettingError(() => loadRouterConfig({ LAMBDA_DISPATCH_WorkerSecret: ` ${SECRET}` }), 'LAMBDA_DISPATCH_WorkerSecret', /whitespace/);
  });

  test('settings that depend on each other', () => {
    // Without its own value, ChannelCount is room for the requests at once and the sockets.
    assert.equal(loadRouterConfig({ LAMBDA_DISPATCH_MaxConcurrentCount: '32', LAMBDA_DISPATCH_MaxSocketsPerInstance: '0' }).channelCount, 32);
    assert.equal(loadRouterConfig({ LAMBDA_DISPATCH_MaxConcurrentCount: '8', LAMBDA_DISPATCH_MaxSocketsPerInstance: '40' }).channelCount, 48);
    assertSettingError(
      () => loadRouterConfig({ LAMBDA_DISPATCH_MaxConcurrentCount: '8', LAMBDA_DISPATCH_ChannelCount: '4' }),
      'LAMBDA_DISPATCH_ChannelCount',
      /LAMBDA_DISPATCH_ChannelCount \(4\) must be at least LAMBDA_DISPATCH_MaxConcurrentCount \(8\)/,
    );
    assertSettingError(
      () => loadRouterConfig({ LAMBDA_DISPATCH_MinInstances: '5', LAMBDA_DISPATCH_MaxInstances: '2' }),
      'LAMBDA_DISPATCH_MinInstances',
      /LAMBDA_DISPATCH_MinInstances \(5\) exceeds LAMBDA_DISPATCH_MaxInstances \(2\)/,
    );
  });

  test('the admin port is never the client or the control port (0, ephemeral, always differs)', () => {
    for (const other of ['LAMBDA_DISPATCH_IncomingRequestHTTPPort', 'LAMBDA_DISPATCH_ControlChannelInsecureHTTP2Port']) {
      assertSettingError(() => loadRouterConfig({ LAMBDA_DISPATCH_AdminPort: '7000', [other]: '7000' }), 'LAMBDA_DISPATCH_AdminPort', new RegExp(`must differ from ${other}`));
    }
    assertSettingError(() => loadRouterConfig({ LAMBDA_DISPATCH_AdminPort: '5001' }), 'LAMBDA_DISPATCH_AdminPort');
    const both = loadRouterConfig({ LAMBDA_DISPATCH_AdminPort: '0', LAMBDA_DISPATCH_IncomingRequestHTTPPort: '0' });
    assert.equal(both.adminPort, 0);
    // The client port's bind host does not move the admin listener off loopback.
    assert.equal(loadRouterConfig({ LAMBDA_DISPATCH_BindHost: '0.0.0.0' }).adminBindHost, '127.0.0.1');
  });

  test('the control port\'s certificate and key files: both or neither, and only with TLS on', () => {
    const none = loadRouterConfig({});
    assert.equal(none.tlsCertFile, undefined);
    assert.equal(none.tlsKeyFile, undefined);
    const both = loadRouterConfig({ LAMBDA_DISPATCH_TlsCertFile: ' /etc/ld/cert.pem ', LAMBDA_DISPATCH_TlsKeyFile: '/etc/ld/key.pem' });
    assert.equal(both.tlsCertFile, '/etc/ld/cert.pem');
    assert.equal(both.tlsKeyFile, '/etc/ld/key.pem');
    assert.equal(both.controlTls, true);
    assertSettingError(() => loadRouterConfig({ LAMBDA_DISPATCH_TlsCertFile: '/etc/ld/cert.pem' }), 'LAMBDA_DISPATCH_TlsKeyFile', /must be set together with LAMBDA_DISPATCH_TlsCertFile/);
    assertSettingError(() => loadRouterConfig({ LAMBDA_DISPATCH_TlsKeyFile: '/etc/ld/key.pem' }), 'LAMBDA_DISPATCH_TlsCertFile', /must be set together with LAMBDA_DISPATCH_TlsKeyFile/);
    assertSettingError(
      () => loadRouterConfig({ LAMBDA_DISPATCH_ControlTls: 'false', LAMBDA_DISPATCH_TlsCertFile: '/c', LAMBDA_DISPATCH_TlsKeyFile: '/k' }),
      'LAMBDA_DISPATCH_ControlTls',
      /is false but LAMBDA_DISPATCH_TlsCertFile/,
    );
    assertSettingError(() => loadRouterConfig({ LAMBDA_DISPATCH_ControlTls: 'maybe' }), 'LAMBDA_DISPATCH_ControlTls', /true or false/);
  });

  test('several functions: each gets the router\'s settings with its name and its own overrides', () => {
    const routes = {
      functions: [
        { name: 'api', functionName: 'api-fn', settings: { MaxConcurrentCount: 4, MinInstances: 1 } },
        { name: 'img', functionName: 'img-fn' },
      ],
      routes: [{ pathPrefix: '/img', function: 'img' }, { function: 'api' }],
    };
    const config = loadRouterConfig({ LAMBDA_DISPATCH_Routes: JSON.stringify(routes), LAMBDA_DISPATCH_MaxConcurrentCount: '16' });
    assert.deepEqual(config.routes?.spec, routes);
    const [api, img] = config.routes!.functions;
    assert.deepEqual([api!.functionName, api!.maxConcurrentCount, api!.minInstances], ['api-fn', 4, 1]);
    assert.deepEqual([img!.functionName, img!.maxConcurrentCount, img!.minInstances], ['img-fn', 16, 0]);
    assert.equal(api!.routes, undefined);
    assertSettingError(
      () => loadRouterConfig({ LAMBDA_DISPATCH_Routes: JSON.stringify({ ...routes, functions: [{ name: 'api', functionName: 'x', settings: { MaxConcurrentCount: 0 } }], routes: [{ function: 'api' }] }) }),
      'LAMBDA_DISPATCH_Routes',
      /functions\[0\] \("api"\): LAMBDA_DISPATCH_MaxConcurrentCount must be an integer/,
    );
  });

  test('the control port\'s certificate and key as PEM text (LAMBDA_DISPATCH_TlsCert, _TlsKey): both or neither, not with the files, only with TLS on', () => {
    const none = loadRouterConfig({});
    assert.equal(none.tlsCertPem, undefined);
    assert.equal(none.tlsKeyPem, undefined);
    // A one-line secret's written-out \\n is a line break.
    const both = loadRouterConfig({ LAMBDA_DISPATCH_TlsCert: '-----BEGIN CERTIFICATE-----\\nAAA\\n-----END CERTIFICATE-----', LAMBDA_DISPATCH_TlsKey: '-----BEGIN PRIVATE KEY-----\nBBB\n-----END PRIVATE KEY-----' });
    assert.equal(both.tlsCertPem, '-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----');
    assert.equal(both.tlsKeyPem, '-----BEGIN PRIVATE KEY-----\nBBB\n-----END PRIVATE KEY-----');
    assertSettingError(() => loadRouterConfig({ LAMBDA_DISPATCH_TlsCert: 'x' }), 'LAMBDA_DISPATCH_TlsKey', /must be set together with LAMBDA_DISPATCH_TlsCert/);
    assertSettingError(() => loadRouterConfig({ LAMBDA_DISPATCH_TlsKey: 'x' }), 'LAMBDA_DISPATCH_TlsCert', /must be set together with LAMBDA_DISPATCH_TlsKey/);
    assertSettingError(
      () => loadRouterConfig({ LAMBDA_DISPATCH_TlsCert: 'x', LAMBDA_DISPATCH_TlsKey: 'y', LAMBDA_DISPATCH_TlsCertFile: '/c', LAMBDA_DISPATCH_TlsKeyFile: '/k' }),
      'LAMBDA_DISPATCH_TlsCert',
      /give the certificate one way/,
    );
    assertSettingError(() => loadRouterConfig({ LAMBDA_DISPATCH_ControlTls: 'false', LAMBDA_DISPATCH_TlsCert: 'x', LAMBDA_DISPATCH_TlsKey: 'y' }), 'LAMBDA_DISPATCH_ControlTls', /TlsCert and LAMBDA_DISPATCH_TlsKey are set/);
  });

  test('region falls back to AWS_DEFAULT_REGION', () => {
    assert.equal(loadRouterConfig({ AWS_DEFAULT_REGION: 'ap-south-1' }).region, 'ap-south-1');
    assert.equal(loadRouterConfig({ AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'ap-south-1' }).region, 'eu-west-1');
  });

  test('the callback host: explicit, else the variable EnvVarForCallbackIp names (K8S_POD_IP by default)', () => {
    assert.deepEqual(configuredCallbackHost({}), undefined);
    assert.deepEqual(configuredCallbackHost({ K8S_POD_IP: '10.1.2.3' }), { host: '10.1.2.3', source: 'EnvVarForCallbackIp' });
    assert.deepEqual(configuredCallbackHost({ LAMBDA_DISPATCH_EnvVarForCallbackIp: 'MY_IP', MY_IP: '10.9.9.9', K8S_POD_IP: '10.1.2.3' }), { host: '10.9.9.9', source: 'EnvVarForCallbackIp' });
    assert.deepEqual(configuredCallbackHost({ LAMBDA_DISPATCH_RouterCallbackHost: 'router.internal', K8S_POD_IP: '10.1.2.3' }), { host: 'router.internal', source: 'RouterCallbackHost' });
    assertSettingError(() => configuredCallbackHost({ LAMBDA_DISPATCH_EnvVarForCallbackIp: 'not a name' }), 'LAMBDA_DISPATCH_EnvVarForCallbackIp');
    assertSettingError(() => configuredCallbackHost({ K8S_POD_IP: 'http://10.1.2.3' }), 'K8S_POD_IP');
    assert.equal(loadRouterConfig({ K8S_POD_IP: '10.1.2.3' }).callbackHost, '10.1.2.3');
  });

  test('ConfigError, the name callers have caught, is the shared SettingError', () => {
    assert.equal(ConfigError, SettingError);
    assert.throws(() => loadRouterConfig({ LAMBDA_DISPATCH_MaxInstances: 'x' }), ConfigError);
  });
});
