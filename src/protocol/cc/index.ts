/**
 * Crypto-conditions in the 2016 draft-01 format of cryptoconditions 0.4.1 / five-bells-condition 3.x, as
 * BigchainDB 0.6 uses them (PROTOCOL R5). Import from here: loading this module registers every type.
 */
import { CryptoConditionError } from './errors.ts';
import { Fulfillment, withConditionMemo, type FulfillmentParseOptions, type Message } from './fulfillment.ts';
import { Ed25519Fulfillment } from './ed25519.ts';
import { InvertedThresholdSha256Fulfillment } from './inverted-threshold-sha256.ts';
import { PrefixSha256Fulfillment } from './prefix-sha256.ts';
import { PreimageSha256Fulfillment } from './preimage-sha256.ts';
import { ThresholdSha256Fulfillment } from './threshold-sha256.ts';
import { TimeoutFulfillment } from './timeout.ts';

export * from './errors.ts';
export * from './limits.ts';
export { Condition } from './condition.ts';
export type {
  ConditionDetails,
  Ed25519Details,
  FulfillmentDetails,
  PrefixSha256Details,
  PreimageSha256Details,
  SubfulfillmentDetails,
  ThresholdSha256Details,
  TimeoutDetails,
} from './details.ts';
export { Fulfillment, type FulfillmentParseOptions, type Message } from './fulfillment.ts';
export { type ThresholdEntry } from './threshold-sha256.ts';
export {
  Ed25519Fulfillment,
  InvertedThresholdSha256Fulfillment,
  PrefixSha256Fulfillment,
  PreimageSha256Fulfillment,
  ThresholdSha256Fulfillment,
  TimeoutFulfillment,
};

/** The fulfillment types a BigchainDB node accepts in transactions (0.4.1's registry: no PREFIX, no RSA). */
export const BIGCHAINDB_TYPE_IDS: readonly number[] = Object.freeze([
  PreimageSha256Fulfillment.TYPE_ID,
  ThresholdSha256Fulfillment.TYPE_ID,
  Ed25519Fulfillment.TYPE_ID,
  InvertedThresholdSha256Fulfillment.TYPE_ID,
  TimeoutFulfillment.TYPE_ID,
]);

/**
 * The five-bells check: the fulfillment parses, its derived condition URI equals `conditionUri`, and it validates.
 * A fulfillment that does not parse (or has a type outside `options.allowedTypeIds`) or does not match gives
 * false; a malformed `now` reaching a timeout throws InvalidTimeError, as in validate(). Every condition in the
 * structure is derived once for the whole check.
 */
export function validateFulfillment(
  fulfillmentUri: string,
  conditionUri: string,
  message: Message,
  now?: string,
  options?: FulfillmentParseOptions,
): boolean {
  return withConditionMemo(() => {
    let fulfillment: Fulfillment;
    try {
      fulfillment = Fulfillment.fromUri(fulfillmentUri, options);
      if (fulfillment.conditionUri !== conditionUri) return false;
    } catch (error) {
      if (error instanceof CryptoConditionError) return false;
      throw error;
    }
    return fulfillment.validate(message, now);
  });
}
