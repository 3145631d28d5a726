import { registerFulfillmentType, type Message } from './fulfillment.ts';
import { ThresholdSha256Fulfillment } from './threshold-sha256.ts';

/**
 * INVERTED-THRESHOLD-SHA-256 (type 98, BigchainDB only, spec §5.5): the threshold encoding byte for byte, valid
 * exactly when the threshold is not. Meant for timeouts (escrow); over a signature it is valid when that
 * signature is wrong.
 */
export class InvertedThresholdSha256Fulfillment extends ThresholdSha256Fulfillment {
  static override readonly TYPE_ID: number = 98;

  override readonly typeId: number = InvertedThresholdSha256Fulfillment.TYPE_ID;

  override validate(message?: Message, now?: string): boolean {
    return !super.validate(message, now);
  }
}

registerFulfillmentType(InvertedThresholdSha256Fulfillment);
