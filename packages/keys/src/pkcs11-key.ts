import { constants, createHash, createPublicKey, publicEncrypt, randomBytes, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import * as pkcs11 from 'pkcs11js';
import { RmsError } from '@openrms/domain';
import { decodeOaepSha256 } from './oaep';

/*
 * The cluster key kept in a PKCS#11 token (an HSM, or SoftHSM2 for tests): generated there with
 * CKA_SENSITIVE and without CKA_EXTRACTABLE, so its private half never exists outside the token.
 * This process holds a session logged in with the user PIN and asks the token to sign and to
 * decrypt; docs/adr/0016-pkcs11-key-protection.md says why and how.
 */

/** What the configuration database stores instead of a wrapped key: where the key is, never the PIN. */
export interface Pkcs11Reference {
  format: typeof PKCS11_REFERENCE_FORMAT;
  /** Path of the PKCS#11 module (the vendor's .so) on every member. */
  module: string;
  /** Label of the token (CKA_LABEL of the token, as `softhsm2-util --show-slots` prints it). */
  token: string;
  /** CKA_LABEL of the key objects. */
  label: string;
  /** CKA_ID of the key objects, hex: what the key is found by. */
  id: string;
  /** SHA-256 of the public key (SPKI DER), hex: the token's key must be this one. */
  publicKeySha256: string;
}

export const PKCS11_REFERENCE_FORMAT = 'openrms-pkcs11-v1';

/** How the token opens what is sealed to the key. */
export type UnsealMechanism = 'CKM_RSA_PKCS_OAEP' | 'CKM_RSA_X_509';

export interface Pkcs11Location {
  module: string;
  token: string;
  pin: string;
}

// pkcs11js 2.1 leaves CK_MECHANISM.pParameter unset (and frees it) when a mechanism has no
// parameter: an empty buffer makes it a valid pointer with length 0.
const NO_PARAMETER = Buffer.alloc(0);
// pkcs11js does not export CKZ_DATA_SPECIFIED.
const CKZ_DATA_SPECIFIED = 1;
const OAEP_SHA256: pkcs11.Mechanism = {
  mechanism: pkcs11.CKM_RSA_PKCS_OAEP,
  parameter: { type: pkcs11.CK_PARAMS_RSA_OAEP, hashAlg: pkcs11.CKM_SHA256, mgf: pkcs11.CKG_MGF1_SHA256, source: CKZ_DATA_SPECIFIED } as pkcs11.RsaOAEP,
};
const RAW_RSA: pkcs11.Mechanism = { mechanism: pkcs11.CKM_RSA_X_509, parameter: NO_PARAMETER };
const SIGN_SHA256: pkcs11.Mechanism = { mechanism: pkcs11.CKM_SHA256_RSA_PKCS, parameter: NO_PARAMETER };

const PIN_ERRORS = new Set([pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_INVALID, pkcs11.CKR_PIN_LEN_RANGE, pkcs11.CKR_PIN_EXPIRED, pkcs11.CKR_PIN_LOCKED]);
/** A session that died with the token or the HSM connection: open another and try once more. */
const RECONNECT_ERRORS = new Set([
  pkcs11.CKR_SESSION_HANDLE_INVALID,
  pkcs11.CKR_SESSION_CLOSED,
  pkcs11.CKR_USER_NOT_LOGGED_IN,
  pkcs11.CKR_DEVICE_REMOVED,
  pkcs11.CKR_TOKEN_NOT_PRESENT,
  pkcs11.CKR_OBJECT_HANDLE_INVALID,
  pkcs11.CKR_KEY_HANDLE_INVALID,
  pkcs11.CKR_DEVICE_ERROR,
]);
/** The token refuses OAEP with SHA-256 parameters (SoftHSM 2.6 knows SHA-1 only). */
const PARAMETER_ERRORS = new Set([pkcs11.CKR_ARGUMENTS_BAD, pkcs11.CKR_MECHANISM_PARAM_INVALID, pkcs11.CKR_MECHANISM_INVALID]);

function ckrName(code: number): string {
  const name = Object.keys(pkcs11).find((k) => k.startsWith('CKR_') && (pkcs11 as unknown as Record<string, unknown>)[k] === code);
  return name ?? `CKR 0x${code.toString(16)}`;
}

function codeOf(e: unknown): number | undefined {
  return e instanceof pkcs11.Pkcs11Error ? e.code : undefined;
}

function reason(e: unknown): string {
  const code = codeOf(e);
  if (code !== undefined) return ckrName(code);
  return String((e as Error)?.message ?? e).split('\n')[0]!;
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest();

/** Modules loaded in this process: C_Initialize once per module. */
const modules = new Map<string, pkcs11.PKCS11>();

function loadModule(path: string): pkcs11.PKCS11 {
  const loaded = modules.get(path);
  if (loaded) return loaded;
  const m = new pkcs11.PKCS11();
  try {
    m.load(path);
  } catch (e) {
    // dlopen's message starts with the path again.
    throw new RmsError('InvalidInput', `cannot load the PKCS#11 module ${path}: ${reason(e).replace(`${path}: `, '')}`);
  }
  try {
    m.C_Initialize({ flags: pkcs11.CKF_OS_LOCKING_OK });
  } catch (e) {
    // Another copy of this package in the process (a test runner's fresh module registry) did it.
    if (codeOf(e) !== pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) throw new RmsError('Unavailable', `the PKCS#11 module ${path} did not start: ${reason(e)}`);
  }
  modules.set(path, m);
  return m;
}

function findSlot(m: pkcs11.PKCS11, module: string, token: string): pkcs11.Handle {
  let slots: pkcs11.Handle[];
  try {
    slots = m.C_GetSlotList(true);
  } catch (e) {
    throw new RmsError('Unavailable', `the PKCS#11 module ${module} lists no slots: ${reason(e)}`);
  }
  const labels: string[] = [];
  for (const slot of slots) {
    const label = m.C_GetTokenInfo(slot).label.trim();
    if (label === token) return slot;
    if (label) labels.push(`"${label}"`);
  }
  throw new RmsError('NotFound', `no token labelled "${token}" in the PKCS#11 module ${module} (${labels.length ? `it has ${labels.sort().join(', ')}` : 'it has no initialised token'})`);
}

/**
 * One logged-in session per token and process, shared by every key object opened in it: PKCS#11
 * logs in per application, not per session, and each operation below is one synchronous
 * init-and-finish pair, so nothing interleaves on it. The PIN stays here to log in again when the
 * token drops the session (a network HSM restarts, say).
 */
class TokenSession {
  readonly #m: pkcs11.PKCS11;
  readonly #pin: string;
  #session: pkcs11.Handle;

  private constructor(
    m: pkcs11.PKCS11,
    readonly module: string,
    readonly token: string,
    pin: string,
  ) {
    this.#m = m;
    this.#pin = pin;
    this.#session = this.#login();
  }

  static readonly #open = new Map<string, TokenSession>();

  static get(loc: Pkcs11Location): TokenSession {
    const key = `${loc.module}\0${loc.token}`;
    const open = TokenSession.#open.get(key);
    if (open) {
      // Logged in already: a different PIN is a wrong one, as the token would say.
      if (!timingSafeEqual(sha256(open.#pin), sha256(loc.pin))) throw TokenSession.#wrongPin(loc.token, pkcs11.CKR_PIN_INCORRECT);
      return open;
    }
    const s = new TokenSession(loadModule(loc.module), loc.module, loc.token, loc.pin);
    TokenSession.#open.set(key, s);
    return s;
  }

  static #wrongPin(token: string, code: number): RmsError {
    const why = code === pkcs11.CKR_PIN_LOCKED ? 'is locked (too many wrong PINs; the security officer must reset it)' : code === pkcs11.CKR_PIN_EXPIRED ? 'has expired' : 'is wrong';
    return new RmsError('KeyPasswordInvalid', `the PIN of the PKCS#11 token "${token}" ${why}`);
  }

  #login(): pkcs11.Handle {
    if (!this.#pin) throw new RmsError('KeyPasswordInvalid', `the PIN of the PKCS#11 token "${this.token}" is missing`);
    const slot = findSlot(this.#m, this.module, this.token);
    let session: pkcs11.Handle;
    try {
      session = this.#m.C_OpenSession(slot, pkcs11.CKF_SERIAL_SESSION | pkcs11.CKF_RW_SESSION);
    } catch (e) {
      throw new RmsError('Unavailable', `cannot open a session with the PKCS#11 token "${this.token}": ${reason(e)}`);
    }
    try {
      this.#m.C_Login(session, pkcs11.CKU_USER, this.#pin);
    } catch (e) {
      const code = codeOf(e);
      if (code === pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
        // Logged in by an earlier copy of this module in the process: log in again so the PIN is checked.
        this.#m.C_Logout(session);
        return this.#loginAgain(session);
      }
      this.#closeQuietly(session);
      if (code !== undefined && PIN_ERRORS.has(code)) throw TokenSession.#wrongPin(this.token, code);
      throw new RmsError('Unavailable', `cannot log in to the PKCS#11 token "${this.token}": ${reason(e)}`);
    }
    return session;
  }

  #loginAgain(session: pkcs11.Handle): pkcs11.Handle {
    try {
      this.#m.C_Login(session, pkcs11.CKU_USER, this.#pin);
      return session;
    } catch (e) {
      this.#closeQuietly(session);
      const code = codeOf(e);
      if (code !== undefined && PIN_ERRORS.has(code)) throw TokenSession.#wrongPin(this.token, code);
      throw new RmsError('Unavailable', `cannot log in to the PKCS#11 token "${this.token}": ${reason(e)}`);
    }
  }

  #closeQuietly(session: pkcs11.Handle): void {
    try {
      this.#m.C_CloseSession(session);
    } catch {
      // Already gone with the token.
    }
  }

  /**
   * Runs `fn` on the session; when the token lost the session, logs in again and runs it once
   * more with the objects found again (`fn` gets whether it is the second try).
   */
  run<T>(what: string, fn: (m: pkcs11.PKCS11, session: pkcs11.Handle, retry: boolean) => T): T {
    try {
      return fn(this.#m, this.#session, false);
    } catch (e) {
      const code = codeOf(e);
      if (code === undefined || !RECONNECT_ERRORS.has(code)) throw e;
      this.#closeQuietly(this.#session);
      try {
        this.#session = this.#login();
      } catch (again) {
        if (again instanceof RmsError) throw new RmsError('Unavailable', `${what}: ${again.message}`);
        throw again;
      }
      return fn(this.#m, this.#session, true);
    }
  }
}

function findObjects(m: pkcs11.PKCS11, session: pkcs11.Handle, template: pkcs11.Template): pkcs11.Handle[] {
  m.C_FindObjectsInit(session, template);
  try {
    return m.C_FindObjects(session, 16);
  } finally {
    m.C_FindObjectsFinal(session);
  }
}

function publicKeyOf(m: pkcs11.PKCS11, session: pkcs11.Handle, object: pkcs11.Handle): KeyObject {
  const [n, e] = m.C_GetAttributeValue(session, object, [{ type: pkcs11.CKA_MODULUS }, { type: pkcs11.CKA_PUBLIC_EXPONENT }]);
  return createPublicKey({ key: { kty: 'RSA', n: n!.value.toString('base64url'), e: e!.value.toString('base64url') }, format: 'jwk' });
}

function spkiSha256(key: KeyObject): string {
  return sha256(key.export({ format: 'der', type: 'spki' })).toString('hex');
}

/** The private key of a cluster, kept in a PKCS#11 token; only sign and decrypt reach it. */
export class Pkcs11PrivateKey {
  readonly #token: TokenSession;
  #handle: pkcs11.Handle;
  readonly publicKey: KeyObject;
  readonly reference: Pkcs11Reference;
  readonly unsealMechanism: UnsealMechanism;
  readonly #modulusBytes: number;

  private constructor(token: TokenSession, handle: pkcs11.Handle, publicKey: KeyObject, reference: Pkcs11Reference, probeUnseal: boolean) {
    this.#token = token;
    this.#handle = handle;
    this.publicKey = publicKey;
    this.reference = reference;
    this.#modulusBytes = Math.ceil((publicKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
    this.unsealMechanism = probeUnseal ? this.#chooseUnsealMechanism() : 'CKM_RSA_PKCS_OAEP';
  }

  /**
   * Generates an RSA key pair inside the token, as token objects (they outlive the session), the
   * private one sensitive and not extractable. `label` must not name a key the token holds.
   */
  static generate(loc: Pkcs11Location, label: string, modulusBits = 2048): Pkcs11PrivateKey {
    const token = TokenSession.get(loc);
    const id = randomBytes(16);
    return token.run(`generating a key in the PKCS#11 token "${loc.token}"`, (m, session) => {
      if (findObjects(m, session, [{ type: pkcs11.CKA_LABEL, value: label }]).length > 0) {
        throw new RmsError('AlreadyExists', `the PKCS#11 token "${loc.token}" already holds objects labelled "${label}"; choose another label`);
      }
      let pair: pkcs11.KeyPair;
      try {
        pair = m.C_GenerateKeyPair(
          session,
          { mechanism: pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, parameter: NO_PARAMETER },
          [
            { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_PUBLIC_KEY },
            { type: pkcs11.CKA_KEY_TYPE, value: pkcs11.CKK_RSA },
            { type: pkcs11.CKA_TOKEN, value: true },
            { type: pkcs11.CKA_PRIVATE, value: false },
            { type: pkcs11.CKA_LABEL, value: label },
            { type: pkcs11.CKA_ID, value: id },
            { type: pkcs11.CKA_MODULUS_BITS, value: modulusBits },
            { type: pkcs11.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
            { type: pkcs11.CKA_VERIFY, value: true },
            { type: pkcs11.CKA_ENCRYPT, value: true },
          ],
          [
            { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_PRIVATE_KEY },
            { type: pkcs11.CKA_KEY_TYPE, value: pkcs11.CKK_RSA },
            { type: pkcs11.CKA_TOKEN, value: true },
            { type: pkcs11.CKA_PRIVATE, value: true },
            { type: pkcs11.CKA_SENSITIVE, value: true },
            { type: pkcs11.CKA_EXTRACTABLE, value: false },
            { type: pkcs11.CKA_LABEL, value: label },
            { type: pkcs11.CKA_ID, value: id },
            { type: pkcs11.CKA_SIGN, value: true },
            { type: pkcs11.CKA_DECRYPT, value: true },
            { type: pkcs11.CKA_UNWRAP, value: false },
          ],
        );
      } catch (e) {
        throw new RmsError('Unavailable', `the PKCS#11 token "${loc.token}" did not generate an RSA-${modulusBits} key: ${reason(e)}`);
      }
      const publicKey = publicKeyOf(m, session, pair.privateKey);
      const reference: Pkcs11Reference = { format: PKCS11_REFERENCE_FORMAT, module: loc.module, token: loc.token, label, id: id.toString('hex'), publicKeySha256: spkiSha256(publicKey) };
      return new Pkcs11PrivateKey(token, pair.privateKey, publicKey, reference, true);
    });
  }

  /** Opens the key a reference names with the token's user PIN; proves it signs and decrypts. */
  static open(reference: Pkcs11Reference, pin: string): Pkcs11PrivateKey {
    const token = TokenSession.get({ module: reference.module, token: reference.token, pin });
    const { handle, publicKey } = token.run(`opening the cluster key in the PKCS#11 token "${reference.token}"`, (m, session) => Pkcs11PrivateKey.#find(m, session, reference));
    return new Pkcs11PrivateKey(token, handle, publicKey, reference, true);
  }

  static #find(m: pkcs11.PKCS11, session: pkcs11.Handle, ref: Pkcs11Reference): { handle: pkcs11.Handle; publicKey: KeyObject } {
    const found = findObjects(m, session, [
      { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_PRIVATE_KEY },
      { type: pkcs11.CKA_ID, value: Buffer.from(ref.id, 'hex') },
    ]);
    if (found.length === 0) throw new RmsError('NotFound', `the PKCS#11 token "${ref.token}" holds no private key with id ${ref.id} (label "${ref.label}"): is this the cluster's token?`);
    if (found.length > 1) throw new RmsError('InvalidInput', `the PKCS#11 token "${ref.token}" holds ${found.length} private keys with id ${ref.id}`);
    const publicKey = publicKeyOf(m, session, found[0]!);
    if (spkiSha256(publicKey) !== ref.publicKeySha256) {
      throw new RmsError('InvalidInput', `the key with id ${ref.id} in the PKCS#11 token "${ref.token}" is not this cluster's key (its public key differs)`);
    }
    return { handle: found[0]!, publicKey };
  }

  #run<T>(what: string, fn: (m: pkcs11.PKCS11, session: pkcs11.Handle) => T): T {
    try {
      return this.#token.run(what, (m, session, retry) => {
        // Handles may not survive a new session: find the key again.
        if (retry) this.#handle = Pkcs11PrivateKey.#find(m, session, this.reference).handle;
        return fn(m, session);
      });
    } catch (e) {
      if (e instanceof RmsError) throw e;
      throw new RmsError('Unavailable', `${what}: ${reason(e)}`);
    }
  }

  /** RSASSA-PKCS1-v1_5 with SHA-256 (CKM_SHA256_RSA_PKCS): the token hashes and signs. */
  sign(data: Buffer): Buffer {
    return this.#run(`the PKCS#11 token "${this.reference.token}" did not sign`, (m, session) => {
      m.C_SignInit(session, SIGN_SHA256, this.#handle);
      return Buffer.from(m.C_Sign(session, data, Buffer.alloc(this.#modulusBytes)));
    });
  }

  /**
   * RSA-OAEP (SHA-256, MGF1-SHA-256, no label) decryption of one block sealed to this key. When the
   * token cannot do those parameters, it does the raw RSA operation and the padding is removed
   * here (decodeOaepSha256). A block that does not open is `undefined`; a token that does not
   * answer is an Unavailable error.
   */
  decryptOaep(block: Buffer): Buffer | undefined {
    const mechanism = this.unsealMechanism;
    return this.#run(`the PKCS#11 token "${this.reference.token}" did not decrypt`, (m, session) => {
      try {
        if (mechanism === 'CKM_RSA_PKCS_OAEP') {
          m.C_DecryptInit(session, OAEP_SHA256, this.#handle);
          return Buffer.from(m.C_Decrypt(session, block, Buffer.alloc(this.#modulusBytes)));
        }
        m.C_DecryptInit(session, RAW_RSA, this.#handle);
        const em = Buffer.from(m.C_Decrypt(session, block, Buffer.alloc(this.#modulusBytes)));
        try {
          return decodeOaepSha256(em, this.#modulusBytes);
        } finally {
          em.fill(0);
        }
      } catch (e) {
        const code = codeOf(e);
        if (code === pkcs11.CKR_ENCRYPTED_DATA_INVALID || code === pkcs11.CKR_ENCRYPTED_DATA_LEN_RANGE || code === pkcs11.CKR_DATA_LEN_RANGE) return undefined;
        throw e;
      }
    });
  }

  /**
   * Asks the token for RSA-OAEP with SHA-256 once; a token that refuses the parameters gets the
   * raw RSA operation with the padding checked here. Either way a probe must round-trip.
   */
  #chooseUnsealMechanism(): UnsealMechanism {
    const probe = randomBytes(32);
    const block = publicEncrypt({ key: this.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, probe);
    const tried: string[] = [];
    for (const [name, mechanism] of [['CKM_RSA_PKCS_OAEP', OAEP_SHA256], ['CKM_RSA_X_509', RAW_RSA]] as const) {
      let out: Buffer | undefined;
      try {
        out = this.#token.run('probe', (m, session) => {
          m.C_DecryptInit(session, mechanism, this.#handle);
          const raw = Buffer.from(m.C_Decrypt(session, block, Buffer.alloc(this.#modulusBytes)));
          return name === 'CKM_RSA_PKCS_OAEP' ? raw : decodeOaepSha256(raw, this.#modulusBytes);
        });
      } catch (e) {
        const code = codeOf(e);
        if (code === undefined || !PARAMETER_ERRORS.has(code)) throw new RmsError('Unavailable', `the PKCS#11 token "${this.reference.token}" did not decrypt with the cluster key: ${reason(e)}`);
        tried.push(`${name}: ${reason(e)}`);
        continue;
      }
      if (out?.equals(probe)) return name;
      tried.push(`${name}: wrong result`);
    }
    throw new RmsError('InvalidInput', `the PKCS#11 token "${this.reference.token}" cannot decrypt RSA-OAEP with SHA-256 (${tried.join('; ')})`);
  }

  /** A test signature the public key verifies: the token is there, logged in, and holds the key. */
  probe(): void {
    const data = randomBytes(32);
    if (!verify('sha256', data, this.publicKey, this.sign(data))) {
      throw new RmsError('Unavailable', `the PKCS#11 token "${this.reference.token}" signed with another key`);
    }
  }

  /** Removes the key pair from the token: only for a key just generated whose cluster was not written. */
  destroy(): void {
    this.#run(`the PKCS#11 token "${this.reference.token}" did not remove the key`, (m, session) => {
      for (const o of findObjects(m, session, [{ type: pkcs11.CKA_ID, value: Buffer.from(this.reference.id, 'hex') }])) m.C_DestroyObject(session, o);
    });
  }

  /** For tests and checks: what the token says of the private key object's protection. */
  attributes(): { sensitive: boolean; extractable: boolean; token: boolean; neverExtractable: boolean; alwaysSensitive: boolean } {
    return this.#run(`the PKCS#11 token "${this.reference.token}" did not answer`, (m, session) => {
      const [sensitive, extractable, token, neverExtractable, alwaysSensitive] = m.C_GetAttributeValue(session, this.#handle, [
        { type: pkcs11.CKA_SENSITIVE },
        { type: pkcs11.CKA_EXTRACTABLE },
        { type: pkcs11.CKA_TOKEN },
        { type: pkcs11.CKA_NEVER_EXTRACTABLE },
        { type: pkcs11.CKA_ALWAYS_SENSITIVE },
      ]);
      const bool = (a: pkcs11.AttributeResult | undefined) => a?.value[0] === 1;
      return { sensitive: bool(sensitive), extractable: bool(extractable), token: bool(token), neverExtractable: bool(neverExtractable), alwaysSensitive: bool(alwaysSensitive) };
    });
  }

  /** Asks the token for the private exponent; a kept key refuses (true). For tests and checks. */
  refusesExport(): boolean {
    return this.#run(`the PKCS#11 token "${this.reference.token}" did not answer`, (m, session) => {
      for (const type of [pkcs11.CKA_PRIVATE_EXPONENT, pkcs11.CKA_PRIME_1, pkcs11.CKA_VALUE]) {
        try {
          const [a] = m.C_GetAttributeValue(session, this.#handle, [{ type }]);
          if (a && a.value.length > 0) return false;
        } catch (e) {
          const code = codeOf(e);
          if (code !== pkcs11.CKR_ATTRIBUTE_SENSITIVE && code !== pkcs11.CKR_ATTRIBUTE_TYPE_INVALID) throw e;
        }
      }
      return true;
    });
  }
}

/** Reads a stored reference; undefined when `stored` is not one (a password-wrapped key, say). */
export function parsePkcs11Reference(stored: string): Pkcs11Reference | undefined {
  let r: Partial<Pkcs11Reference>;
  try {
    r = JSON.parse(stored) as Partial<Pkcs11Reference>;
  } catch {
    return undefined;
  }
  if (r?.format !== PKCS11_REFERENCE_FORMAT) return undefined;
  for (const f of ['module', 'token', 'label', 'id', 'publicKeySha256'] as const) {
    if (typeof r[f] !== 'string' || r[f] === '') throw new RmsError('InvalidInput', `the stored PKCS#11 key reference lacks ${f}`);
  }
  return r as Pkcs11Reference;
}
