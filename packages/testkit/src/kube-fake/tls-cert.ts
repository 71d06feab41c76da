import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';

/**
 * A self-signed certificate for the fake's HTTPS listener, made fresh at every start (nothing to commit,
 * nothing that expires in the repository). HTTPS is not decoration: kubectl (client-go) sends no bearer
 * token to a plain-http server, so the fake could not require one from kubectl otherwise. The certificate
 * is its own CA (basicConstraints CA:TRUE) and names 127.0.0.1 and localhost, so kubectl and client-node
 * verify it from the kubeconfig's certificate-authority-data without skipping TLS verification.
 *
 * Node has no API that writes X.509, so this is a minimal DER encoder for exactly one certificate shape
 * (ECDSA P-256 with SHA-256, RFC 5280).
 */

export interface SelfSignedCert {
  /** PEM certificate (also the CA to trust). */
  cert: string;
  /** PEM PKCS#8 private key. */
  key: string;
}

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
};

export function selfSignedCert(commonName = 'pdrouter-kube-api-fake', validDays = 30): SelfSignedCert {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const algorithm = seq(oid(OID.ecdsaWithSha256));
  const name = seq(set(seq(oid(OID.commonName), tlv(0x0c, Buffer.from(commonName, 'utf8')))));
  const now = Date.now();
  const serial = randomBytes(12);
  // Positive, and a first byte that is not zero: DER wants the shortest INTEGER, and OpenSSL refuses a
  // leading zero byte before one below 0x80 ("illegal padding"), which a random first byte would give
  // about once in 256 certificates.
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x01;
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))), // version v3
    integer(serial),
    algorithm,
    name,
    seq(time(new Date(now - 3_600_000)), time(new Date(now + validDays * 86_400_000))),
    name,
    spki,
    tlv(
      0xa3,
      seq(
        extension(OID.basicConstraints, true, seq(tlv(0x01, Buffer.from([0xff])))),
        // digitalSignature (bit 0) and keyCertSign (bit 5): 0b1000_0100, 2 unused bits.
        extension(OID.keyUsage, true, tlv(0x03, Buffer.from([0x02, 0x84]))),
        extension(
          OID.subjectAltName,
          false,
          seq(tlv(0x87, Buffer.from([127, 0, 0, 1])), tlv(0x82, Buffer.from('localhost', 'ascii'))),
        ),
      ),
    ),
  );
  const signature = sign('sha256', tbs, privateKey);
  const der = seq(tbs, algorithm, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const body = der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trimEnd();
  return {
    cert: `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`,
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

function tlv(tag: number, value: Buffer): Buffer {
  const n = value.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else if (n < 0x100) len = Buffer.from([0x81, n]);
  else len = Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, value]);
}

const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));

function integer(bytes: Buffer): Buffer {
  return tlv(0x02, (bytes[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const out = [a * 40 + b];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
  // UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5).
  return d.getUTCFullYear() < 2050
    ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`, 'ascii'))
    : tlv(0x18, Buffer.from(`${iso}Z`, 'ascii'));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [tlv(0x01, Buffer.from([0xff]))] : []), tlv(0x04, value));
}
