// The part of five-bells-condition 3.3.1 (CommonJS, untyped) that the oracle tests use.
declare module 'five-bells-condition' {
  namespace FiveBells {
    class Condition {
      static fromUri(uri: string): Condition;
      getTypeId(): number;
      getBitmask(): number;
      getHash(): Buffer;
      getMaxFulfillmentLength(): number;
      serializeUri(): string;
      serializeBinary(): Buffer;
    }
    class Fulfillment {
      static fromUri(uri: string): Fulfillment;
      getTypeId(): number;
      getCondition(): Condition;
      getConditionUri(): string;
      serializeUri(): string;
      serializeBinary(): Buffer;
      /** throws instead of returning false for most invalid fulfillments */
      validate(message: Buffer): boolean;
    }
    class PreimageSha256 extends Fulfillment {
      setPreimage(preimage: Buffer): void;
    }
    class PrefixSha256 extends Fulfillment {
      setPrefix(prefix: Buffer): void;
      setSubfulfillment(subfulfillment: Fulfillment): void;
      setSubcondition(subcondition: Condition): void;
    }
    class ThresholdSha256 extends Fulfillment {
      setThreshold(threshold: number): void;
      addSubfulfillment(subfulfillment: Fulfillment, weight?: number): void;
      addSubcondition(subcondition: Condition, weight?: number): void;
    }
    class Ed25519 extends Fulfillment {
      sign(message: Buffer, privateKey: Buffer): void;
      signature: Buffer | null;
    }
  }
  export = FiveBells;
}
