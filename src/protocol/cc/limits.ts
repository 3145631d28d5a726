/**
 * Hard limits on what the parsers accept, so that hostile input can neither exhaust memory nor make condition
 * derivation (pseudo-polynomial in the threshold, see threshold-sha256.ts) or recursion blow up. Neither 0.4.1
 * nor five-bells had limits; these are far above anything BigchainDB itself produces.
 */

/** Largest fulfillment payload (decoded from a URI) and largest binary input, in bytes. */
export const MAX_PAYLOAD_LENGTH = 65_536;

/** Deepest nesting of sub-fulfillments (threshold in threshold ..., prefix in prefix ...). */
export const MAX_DEPTH = 16;

/** Most entries one threshold may have. */
export const MAX_SUBCONDITIONS = 1024;

/** Largest threshold; weights may be larger (any weight ≥ the threshold simply meets it alone). */
export const MAX_THRESHOLD = 1024;

/** Largest integer a VARUINT may carry: readers accept at most 6 value bytes (both libraries). */
export const MAX_VARUINT = 2 ** 48 - 1;

/** Longest fingerprint a condition URI can carry (86 base64url characters). */
export const MAX_FINGERPRINT_LENGTH = 64;

/** Largest bitmask a condition URI can carry (8 hex digits). */
export const MAX_BITMASK = 0xffff_ffff;
