/**
 * The worker's egress CA: an ECDSA P-256 certificate authority made at worker start, whose key
 * lives only in this process's memory, valid for a bounded time (a new one at every start).
 * The egress proxy signs a leaf certificate per host with it, on demand, to open the TLS of
 * the phases whose requests it must see (steps, agent: their method policy). The certificates
 * are written in DER here, with node's crypto signing them: no dependency.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';

/** How long a worker's CA is valid; the worker makes a new one at each start. */
export const CA_LIFETIME_DAYS = 7;
/** notBefore lies this far in the past, for clocks a little behind the worker's. */
const BACKDATE_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface EgressCa {
  /** The CA certificate (PEM): what the sandbox's bundle adds to trust the proxy. */
  readonly certPem: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Key and certificate (PEM) for `host`, made on first use and cached; never outlives the CA. */
  leaf(host: string): { keyPem: string; certPem: string };
  /** The server-side TLS context for `host` (cached with its leaf). */
  context(host: string): SecureContext;
}

export interface EgressCaOptions {
  lifetimeDays?: number;
  /** The CA's clock (tests). */
  now?: () => Date;
  /** Names the CA (e.g. the worker's host), to tell workers' CAs apart in a bundle. */
  label?: string;
}

/**
 * The CA a long-running worker uses: the one current when a command's egress opens (each
 * command keeps the CA it started with, the one its sandbox's bundle names). It is made anew
 * once half its lifetime has passed, so a worker that runs for weeks never signs with, nor
 * hands sandboxes, an expired CA.
 */
export interface RenewingEgressCa {
  current(): EgressCa;
}

export function renewingEgressCa(options: EgressCaOptions = {}): RenewingEgressCa {
  const now = options.now ?? (() => new Date());
  let ca = createEgressCa(options);
  return {
    current: () => {
      const made = ca.notBefore.getTime() + BACKDATE_MS;
      if (now().getTime() >= made + (ca.notAfter.getTime() - made) / 2) ca = createEgressCa(options);
      return ca;
    },
  };
}

export function createEgressCa(options: EgressCaOptions = {}): EgressCa {
  const now = options.now ?? (() => new Date());
  const lifetime = (options.lifetimeDays ?? CA_LIFETIME_DAYS) * DAY_MS;
  const made = now().getTime();
  const notBefore = new Date(made - BACKDATE_MS);
  const notAfter = new Date(made + lifetime);
  const caKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  // One key for every leaf: the leaves differ by name only, and the key never leaves memory.
  const leafKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const leafKeyPem = leafKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const caSpki = spki(caKeys.publicKey);
  const caKeyId = keyId(caSpki);
  const caName = name(
    `Lockstep egress CA${options.label ? ` ${options.label}` : ''} ${randomBytes(4).toString('hex')}`,
  );
  const caDer = certificate(caKeys.privateKey, {
    issuer: caName,
    subject: caName,
    notBefore,
    notAfter,
    spki: caSpki,
    extensions: [
      extension(OID.basicConstraints, true, seq(bool(true), int(Buffer.from([0])))),
      // keyCertSign, cRLSign, digitalSignature
      extension(OID.keyUsage, true, tlv(0x03, Buffer.from([0x01, 0x86]))),
      extension(OID.subjectKeyIdentifier, false, tlv(0x04, caKeyId)),
    ],
  });
  const certPem = pem(caDer);
  const leaves = new Map<string, { keyPem: string; certPem: string; context: SecureContext }>();

  const make = (host: string) => {
    const cached = leaves.get(host);
    if (cached) return cached;
    if (isIP(host) || !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(host))
      throw new Error(`no certificate for "${host}": not a host name`);
    const t = now().getTime();
    const leafSpki = spki(leafKeys.publicKey);
    const der = certificate(caKeys.privateKey, {
      issuer: caName,
      subject: name(host),
      notBefore: new Date(Math.max(t - BACKDATE_MS, notBefore.getTime())),
      notAfter,
      spki: leafSpki,
      extensions: [
        extension(OID.basicConstraints, true, seq()),
        // digitalSignature
        extension(OID.keyUsage, true, tlv(0x03, Buffer.from([0x07, 0x80]))),
        extension(OID.extKeyUsage, false, seq(oid(OID.serverAuth))),
        extension(OID.subjectAltName, true, seq(tlv(0x82, Buffer.from(host, 'ascii')))),
        extension(OID.subjectKeyIdentifier, false, tlv(0x04, keyId(leafSpki))),
        extension(OID.authorityKeyIdentifier, false, seq(tlv(0x80, caKeyId))),
      ],
    });
    const leaf = {
      keyPem: leafKeyPem,
      certPem: pem(der),
      context: createSecureContext({ key: leafKeyPem, cert: pem(der) }),
    };
    leaves.set(host, leaf);
    return leaf;
  };

  return {
    certPem,
    notBefore,
    notAfter,
    leaf: (host) => {
      const { keyPem, certPem: cert } = make(host);
      return { keyPem, certPem: cert };
    },
    context: (host) => make(host).context,
  };
}

// ---------------------------------------------------------------------------------------------
// DER, just what an X.509 v3 certificate with ECDSA needs.

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
} as const;

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let length: Buffer;
  if (n < 0x80) length = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    length = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), length, content]);
}

const seq = (...parts: Buffer[]): Buffer => tlv(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]): Buffer => tlv(0x31, Buffer.concat(parts));
const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0x00]));
const explicit = (n: number, content: Buffer): Buffer => tlv(0xa0 + n, content);

/** A non-negative INTEGER from its big-endian bytes. */
function int(bytes: Buffer): Buffer {
  let b = bytes;
  while (b.length > 1 && b[0] === 0 && ((b[1] as number) & 0x80) === 0) b = b.subarray(1);
  return tlv(0x02, ((b[0] as number) & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), b]) : b);
}

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]];
  const out = [a * 40 + b];
  for (const arc of rest) {
    const chunk: number[] = [];
    for (let v = arc; ; v = Math.floor(v / 128)) {
      chunk.unshift((v & 0x7f) | (chunk.length ? 0x80 : 0));
      if (v < 128) break;
    }
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime until 2049, GeneralizedTime after (RFC 5280 4.1.2.5). */
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${iso}Z`));
}

const name = (cn: string): Buffer =>
  seq(
    set(seq(oid(OID.organization), tlv(0x0c, Buffer.from('Lockstep')))),
    set(seq(oid(OID.commonName), tlv(0x0c, Buffer.from(cn, 'utf8')))),
  );

const extension = (id: string, critical: boolean, value: Buffer): Buffer =>
  seq(oid(id), ...(critical ? [bool(true)] : []), tlv(0x04, value));

const spki = (key: KeyObject): Buffer => key.export({ type: 'spki', format: 'der' });

/** RFC 5280 4.2.1.2 (1): SHA-1 of the subjectPublicKey bits (the 65-byte point for P-256). */
const keyId = (der: Buffer): Buffer => createHash('sha1').update(der.subarray(-65)).digest();

function certificate(
  signer: KeyObject,
  fields: { issuer: Buffer; subject: Buffer; notBefore: Date; notAfter: Date; spki: Buffer; extensions: Buffer[] },
): Buffer {
  const algorithm = seq(oid(OID.ecdsaWithSha256));
  const serial = randomBytes(16);
  serial[0] = (serial[0] as number) & 0x7f;
  const tbs = seq(
    explicit(0, int(Buffer.from([2]))),
    int(serial),
    algorithm,
    fields.issuer,
    seq(time(fields.notBefore), time(fields.notAfter)),
    fields.subject,
    fields.spki,
    explicit(3, seq(...fields.extensions)),
  );
  // Node signs ECDSA in DER (r, s) by default, which is what X.509 carries.
  const signature = sign('sha256', tbs, signer);
  return seq(tbs, algorithm, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
}

function pem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}
