// The control port's certificate: generated (EC P-256, self-signed, its pin the DER's SHA-256) or
// loaded from LAMBDA_DISPATCH_TlsCertFile / TlsKeyFile, where every problem names its setting and
// no key material ever appears in a message.

import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { assertSettingError } from '../settings/fixtures/assert.ts';
import { certSha256 } from '../cert-pin.ts';
import { controlTlsFromPem, generateControlTls, loadControlTls } from './control-tls.ts';

const dir = mkdtempSync(join(tmpdir(), 'ld-tls-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('control port certificate', () => {
  test('generated: a self-signed EC P-256 certificate for its key, pinned by its DER SHA-256', async () => {
    const t = await generateControlTls();
    assert.equal(t.source, 'generated');
    const x = new X509Certificate(t.cert);
    const key = createPrivateKey(t.key);
    assert.equal(key.asymmetricKeyType, 'ec');
    assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.ok(x.checkPrivateKey(key));
    assert.ok(x.verify(x.publicKey), 'self-signed');
    assert.equal(t.certSha256, certSha256(x.raw));
    assert.ok(new Date(x.validTo).getTime() > Date.now() + 365 * 24 * 3600 * 1000, 'outlives any process');
    const other = await generateControlTls();
    assert.notEqual(other.certSha256, t.certSha256, 'a new pair at every start');
  });

  test('from files: the same certificate and pin', async () => {
    const t = await generateControlTls();
    const loaded = loadControlTls(file('good.crt', t.cert), file('good.key', t.key));
    assert.equal(loaded.source, 'files');
    assert.equal(loaded.certSha256, t.certSha256);
    assert.equal(loaded.cert, t.cert);
  });

  test('from PEM text (a secret store): the same pin; a bad or mismatched pair names its setting, never the key', async () => {
    const [t, other] = await Promise.all([generateControlTls(), generateControlTls()]);
    const given = controlTlsFromPem(t.cert, t.key);
    assert.equal(given.source, 'settings');
    assert.equal(given.certSha256, t.certSha256);
    assertSettingError(() => controlTlsFromPem('junk', t.key), 'LAMBDA_DISPATCH_TlsCert', /holds no PEM certificate/);
    const swapped = assertSettingError(() => controlTlsFromPem(t.cert, t.cert), 'LAMBDA_DISPATCH_TlsKey', /holds no unencrypted PEM private key/);
    assert.ok(!swapped.message.includes('BEGIN'));
    const mismatched = assertSettingError(() => controlTlsFromPem(t.cert, other.key), 'LAMBDA_DISPATCH_TlsKey', /is not the private key of the certificate in LAMBDA_DISPATCH_TlsCert/);
    const body = other.key.split('\n')[1]!;
    assert.ok(!mismatched.message.includes(body) && !String(mismatched.value).includes(body), 'no key material in the error');
  });

  test('bad files: a SettingError naming the setting, the key never quoted', async () => {
    const [t, other] = await Promise.all([generateControlTls(), generateControlTls()]);
    const cert = file('c.crt', t.cert);
    const key = file('c.key', t.key);
    const missing = join(dir, 'nope.pem');
    assertSettingError(() => loadControlTls(missing, key), 'LAMBDA_DISPATCH_TlsCertFile', /must be a readable PEM certificate file, got ".*nope\.pem" \(ENOENT\)/);
    assertSettingError(() => loadControlTls(cert, missing), 'LAMBDA_DISPATCH_TlsKeyFile', /must be a readable PEM private key file, got ".*nope\.pem" \(ENOENT\)/);
    assertSettingError(() => loadControlTls(dir, key), 'LAMBDA_DISPATCH_TlsCertFile', /EISDIR/);
    assertSettingError(() => loadControlTls(file('junk.crt', 'not a certificate'), key), 'LAMBDA_DISPATCH_TlsCertFile', /holds no PEM certificate/);
    // The key where the certificate should be, and the other way round.
    assertSettingError(() => loadControlTls(key, key), 'LAMBDA_DISPATCH_TlsCertFile', /holds no PEM certificate/);
    const swapped = assertSettingError(() => loadControlTls(cert, cert), 'LAMBDA_DISPATCH_TlsKeyFile', /holds no unencrypted PEM private key/);
    assert.ok(!swapped.message.includes('BEGIN'));
    const mismatched = assertSettingError(
      () => loadControlTls(cert, file('other.key', other.key)),
      'LAMBDA_DISPATCH_TlsKeyFile',
      /^LAMBDA_DISPATCH_TlsKeyFile \(.*other\.key\) is not the private key of the certificate in LAMBDA_DISPATCH_TlsCertFile \(.*c\.crt\)$/,
    );
    const body = other.key.split('\n')[1]!;
    assert.ok(!mismatched.message.includes(body) && !String(mismatched.value).includes(body), 'no key material in the error');
  });
});
