/** A count an operator tool was given (a batch size, a number of shards): a safe integer of at least `min`. */
export function wholeNumber(value: number, what: string, min = 1): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${what} must be a whole number of at least ${min}, not ${value}`);
  }
  return value;
}
