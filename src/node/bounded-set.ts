/** A set that forgets its oldest entries beyond `capacity`: a memory of recent work with a fixed cost. */
export class BoundedSet<T> {
  private readonly entries = new Set<T>();

  constructor(readonly capacity: number) {}

  has(value: T): boolean {
    return this.entries.has(value);
  }

  add(value: T): void {
    this.entries.add(value);
    // A Set iterates in insertion order: the first entry is the oldest.
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.values().next().value as T);
  }

  get size(): number {
    return this.entries.size;
  }
}
