// The control port's TLS identity: the certificate and key from LAMBDA_DISPATCH_TlsCertFile and
// LAMBDA_DISPATCH_TlsKeyFile, or a fresh self-signed EC P-256 pair made at start. Nobody checks it
// against a CA: every invoke carries its SHA-256 (certSha256) and the extension refuses any other
// certificate (core/cert-pin.ts).
//
// Both happen on the dispatcher thread (thread.ts), the one thread that serves TLS: the private key
// never crosses the MessagePort or workerData, so no status, log or crash report of the main thread
// can ever contain it. Only the certificate's fingerprint leaves this thread.

import { readFileSync } from 'node:fs';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { generate } from 'selfsigned';
import { certSha256 } from '../cert-pin.ts';
import { SettingError } from '../settings/env.ts';

export const CERT_FILE_SETTING = 'LAMBDA_DISPATCH_TlsCertFile';
export const KEY_FILE_SETTING = 'LAMBDA_DISPATCH_TlsKeyFile';

export interface ControlTls {
  /** PEM. */
  cert: string;
  /** PEM; never logged, never posted to another thread. */
  key: string;
  /** The pin: SHA-256 of the certificate's DER, lower-case hex. */
  certSha256: string;
  source: 'generated' | 'files' | 'settings';
}

/**
 * A self-signed certificate for the control port. The pin, not the name or dates, is what the
 * extension trusts, so the subject is only a label and the validity is long: the pair lives as
 * long as the process.
 */
export async function generateControlTls(now = new Date()): Promise<ControlTls> {
  const notAfter = new Date(now.getTime() + 10 * 365 * 24 * 3600 * 1000);
  const pems = await generate([{ name: 'commonName', value: 'lambda-dispatch router' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
    ],
  });
  return { cert: pems.cert, key: pems.private, certSha256: certSha256(new X509Certificate(pems.cert).raw), source: 'generated' };
}

function readSetting(setting: string, path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new SettingError(setting, path, `a readable ${what} file`, `${setting} must be a readable ${what} file, got ${JSON.stringify(path)} (${why})`);
  }
}

/** Loads and checks the given pair; every failure is a SettingError naming the file's setting. */
export function loadControlTls(certFile: string, keyFile: string): ControlTls {
  const certPem = readSetting(CERT_FILE_SETTING, certFile, 'PEM certificate');
  const keyPem = readSetting(KEY_FILE_SETTING, keyFile, 'PEM private key');
  return { ...checkPair(certPem, keyPem, { setting: CERT_FILE_SETTING, shown: certFile, what: 'file' }, { setting: KEY_FILE_SETTING, shown: keyFile, what: 'file' }), source: 'files' };
}

export const CERT_PEM_SETTING = 'LAMBDA_DISPATCH_TlsCert';
export const KEY_PEM_SETTING = 'LAMBDA_DISPATCH_TlsKey';

/** The pair given as PEM text (a deployment's secret store, where files are not at hand); checked as the files are. */
export function controlTlsFromPem(certPem: string, keyPem: string): ControlTls {
  return { ...checkPair(certPem, keyPem, { setting: CERT_PEM_SETTING, shown: '(PEM)', what: 'value' }, { setting: KEY_PEM_SETTING, shown: '(secret)', what: 'value' }), source: 'settings' };
}

interface Origin {
  setting: string;
  /** What an error may show of it: a file's path, never a key. */
  shown: string;
  what: 'file' | 'value';
}

function checkPair(certPem: string, keyPem: string, cert: Origin, keyOrigin: Origin): Omit<ControlTls, 'source'> {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certPem);
  } catch (err) {
    throw new SettingError(cert.setting, cert.shown, `a PEM certificate ${cert.what}`, `${cert.setting} (${cert.shown}) holds no PEM certificate: ${(err as Error).message}`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    // The library's message may quote the file; a key's content is never repeated.
    throw new SettingError(keyOrigin.setting, keyOrigin.shown, `an unencrypted PEM private key ${keyOrigin.what}`, `${keyOrigin.setting} (${keyOrigin.shown}) holds no unencrypted PEM private key`);
  }
  if (!x509.checkPrivateKey(key)) {
    throw new SettingError(
      keyOrigin.setting,
      keyOrigin.shown,
      `the private key of the certificate in ${cert.setting}`,
      `${keyOrigin.setting} (${keyOrigin.shown}) is not the private key of the certificate in ${cert.setting} (${cert.shown})`,
    );
  }
  return { cert: certPem, key: keyPem, certSha256: certSha256(x509.raw) };
}
