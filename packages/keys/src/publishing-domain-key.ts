import { createPublicKey, type KeyObject } from 'node:crypto';
import { RmsError } from '@openrms/domain';
import { ContentKey } from './content-key';
import { openSealed } from './sealing';

/**
 * The private key of a trusted publishing domain (another cluster's SLC key, imported with
 * `rmsctl key import`). It opens content keys sealed to that cluster and does nothing else: it
 * cannot sign, so what this cluster issues is always signed with its own key.
 */
export class PublishingDomainKey {
  readonly #privateKey: KeyObject;
  readonly publicKey: KeyObject;

  /** @internal built by ClusterKey.openPublishingDomainKey */
  constructor(privateKey: KeyObject) {
    if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'rsa') throw new RmsError('InvalidInput', 'publishing domain keys are RSA');
    this.#privateKey = privateKey;
    this.publicKey = createPublicKey(privateKey);
  }

  /** Opens a content key sealed to the imported cluster (the ENABLINGBITS of a PL addressed to it). */
  unsealContentKey(blob: Buffer): ContentKey {
    const bytes = openSealed(this.#privateKey, blob, 'content-key');
    try {
      return ContentKey.fromBytes(bytes);
    } finally {
      bytes.fill(0);
    }
  }

  toJSON(): { publicKeyPem: string } {
    return { publicKeyPem: this.publicKey.export({ format: 'pem', type: 'spki' }).toString() };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `PublishingDomainKey<RSA-${this.publicKey.asymmetricKeyDetails?.modulusLength ?? 0}>`;
  }
}
