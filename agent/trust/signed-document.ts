import * as openpgp from 'openpgp';
import { OperationalError } from '../cli/errors.ts';

export interface DetachedSignatureInput {
  /** The exact bytes that were signed. */
  data: Uint8Array;
  /** The armoured detached signature (`.asc`). */
  signatureArmored: string;
  /** Armoured public keys trusted to sign this kind of document. */
  trustedKeysArmored: string[];
  /** Where the document came from (URL or file), for messages. */
  source: string;
}

/**
 * Verifies a detached OpenPGP signature over a document against the trusted release keys.
 * Resolves to the fingerprint of the key that signed; throws an OperationalError with a
 * stable code (`trust.signature-malformed`, `trust.unknown-signer`, `trust.bad-signature`)
 * otherwise. Nothing in the document may be used before this resolves.
 */
export async function verifyDetachedSignature(input: DetachedSignatureInput): Promise<string> {
  const keys = await readTrustedKeys(input.trustedKeysArmored);
  const signature = await readSignature(input);

  const signer = findSigner(signature, keys);
  if (!signer) {
    const ids = signature.getSigningKeyIDs().map((id) => id.toHex());
    throw new OperationalError(
      `${input.source}: signed by key ${ids.join(', ') || '(none)'}, which is not a trusted ` +
        `release key; refusing it. If the release key was rotated, install the new key first.`,
      'trust.unknown-signer',
    );
  }

  await checkSignature(input, signature, signer);
  return signer.getFingerprint();
}

async function readTrustedKeys(armored: string[]): Promise<openpgp.PublicKey[]> {
  if (armored.length === 0) {
    throw new OperationalError(
      'no trusted release key is configured, so no signature can be checked; ' +
        'reinstall the agent or bootstrap from an official build',
      'trust.no-key',
    );
  }
  return Promise.all(armored.map((armoredKey) => openpgp.readKey({ armoredKey })));
}

async function readSignature(input: DetachedSignatureInput): Promise<openpgp.Signature> {
  try {
    return await openpgp.readSignature({ armoredSignature: input.signatureArmored });
  } catch (err) {
    throw new OperationalError(
      `${input.source}: the signature file is not an armoured OpenPGP signature; ` +
        'the distribution host or a proxy in between is serving a damaged or forged file',
      'trust.signature-malformed',
      { cause: err },
    );
  }
}

function findSigner(
  signature: openpgp.Signature,
  keys: openpgp.PublicKey[],
): openpgp.PublicKey | undefined {
  const wanted = signature.getSigningKeyIDs();
  return keys.find((key) => key.getKeyIDs().some((keyId) => wanted.some((id) => id.equals(keyId))));
}

async function checkSignature(
  input: DetachedSignatureInput,
  signature: openpgp.Signature,
  signer: openpgp.PublicKey,
): Promise<void> {
  const message = await openpgp.createMessage({ binary: input.data });
  try {
    const result = await openpgp.verify({
      message,
      signature,
      verificationKeys: signer,
      expectSigned: true,
      format: 'binary',
    });
    await result.signatures[0]?.verified;
  } catch (err) {
    throw new OperationalError(
      `${input.source}: the OpenPGP signature does not match the document (it was changed ` +
        `after signing, or the signing key is expired or revoked); refusing it`,
      'trust.bad-signature',
      { cause: err },
    );
  }
}
