/**
 * Bead IDs, by Beads' algorithm (research/beads.md §2; internal/idgen/hash.go):
 * SHA-256 over `title|description|creator|createdAtUnixNano|nonce`, the first
 * bytes read big-endian, base36, left-padded, the last `length` characters kept.
 * The length adapts to how many top-level IDs the prefix already has, so IDs stay
 * short while the birthday collision probability stays under a bound.
 *
 * SHA-256 from @noble/hashes rather than node:crypto: `bd create` hashes one
 * short string, and loading node:crypto (with node:stream under it) was ~10%
 * of the whole command's time and 2 MB of its memory (issue 18). Bulk hashing
 * (the JSONL content hashes of an import) stays on node:crypto.
 */
import { sha256 } from '@noble/hashes/sha2.js';

/** Bytes of hash material per ID length (5/6 and 7/8 share bytes, as in Beads). */
const BYTES_FOR_LENGTH: Record<number, number> = { 3: 2, 4: 3, 5: 4, 6: 4, 7: 5, 8: 5 };

export const MIN_HASH_LENGTH = 3;
export const MAX_HASH_LENGTH = 8;
export const MAX_COLLISION_PROBABILITY = 0.25;
export const NONCES_PER_LENGTH = 10;

export function hashSuffix(title: string, description: string, creator: string, createdAtNanos: bigint, nonce: number, length: number): string {
  const bytes = BYTES_FOR_LENGTH[length];
  if (bytes === undefined) throw new RangeError(`hash length must be ${MIN_HASH_LENGTH}..${MAX_HASH_LENGTH}, got ${length}`);
  const digest = sha256(new TextEncoder().encode(`${title}|${description}|${creator}|${createdAtNanos}|${nonce}`));
  let value = 0n;
  for (let i = 0; i < bytes; i++) value = (value << 8n) | BigInt(digest[i] ?? 0);
  return value.toString(36).padStart(length, '0').slice(-length);
}

export function hashId(prefix: string, title: string, description: string, creator: string, createdAtNanos: bigint, nonce: number, length: number): string {
  return `${prefix}-${hashSuffix(title, description, creator, createdAtNanos, nonce, length)}`;
}

export interface AdaptiveIdConfig {
  minLength: number;
  maxLength: number;
  maxCollisionProbability: number;
}

export const DEFAULT_ID_CONFIG: AdaptiveIdConfig = {
  minLength: MIN_HASH_LENGTH,
  maxLength: MAX_HASH_LENGTH,
  maxCollisionProbability: MAX_COLLISION_PROBABILITY,
};

/** The shortest length whose birthday collision probability with `existing` IDs stays within the bound. */
export function adaptiveLength(existing: number, config: AdaptiveIdConfig = DEFAULT_ID_CONFIG): number {
  for (let length = config.minLength; length < config.maxLength; length++) {
    const space = 36 ** length;
    const probability = 1 - Math.exp(-(existing * existing) / (2 * space));
    if (probability <= config.maxCollisionProbability) return length;
  }
  return config.maxLength;
}

/**
 * Normalizes a prefix as `bd init` does: leading dots and trailing dashes trimmed,
 * dots become underscores, and a prefix that does not start with a letter or `_`
 * gets `bd_` in front.
 */
export function normalizePrefix(raw: string): string {
  let prefix = raw.trim().replace(/^\.+/, '').replace(/-+$/, '').replace(/\./g, '_');
  if (prefix === '') return 'bd';
  if (!/^[A-Za-z_]/.test(prefix)) prefix = `bd_${prefix}`;
  return prefix;
}

export function isValidPrefix(prefix: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_-]{0,39}$/.test(prefix) && !prefix.endsWith('-');
}

/** Depth of an ID in the child hierarchy: `bd-a3f8` is 0, `bd-a3f8.1.2` is 2. */
export function childDepth(id: string): number {
  // Prefixes never contain dots (normalizePrefix), so every dot is a level.
  return id.split('.').length - 1;
}

export const MAX_CHILD_DEPTH = 3;
