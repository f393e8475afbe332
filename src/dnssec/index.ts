// Public entry of the dnssec capability: keys and their files, the online signer, rollovers.
export {
  ALGORITHM_NAMES,
  dnskeyRdata,
  dsRdata,
  dsText,
  flagsOf,
  isPublished,
  isSigning,
  keySet,
  keySetProblem,
  keyTag,
  signingUntil,
  tagOf,
  type KeyRole,
  type KeySet,
  type ZoneKey,
} from './keys.js';
export { generateKey, keyFileName, loadZoneKeys, readKey, readKeys, writeKey } from './key-files.js';
export {
  canonicalRRset,
  compactNsecRdata,
  typeBitmap,
  ZoneSigner,
  TYPE_CDS,
  TYPE_CDNSKEY,
  TYPE_NXNAME,
} from './sign.js';
