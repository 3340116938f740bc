/** The two kinds of call the gate keeps apart. */
export type GatedCall = 'clone' | 'snapshotOpen';

/**
 * @internal Keeps snapshot opens and clones of one connection apart: calls of
 * one kind run together, a call of the other kind waits until they are done.
 * This is the workaround for librbd 16.2's snapshot-open/clone race (README,
 * "Known issues"), used only on the librbd releases that need it
 * (`RbdCluster.snapshotOpenGate`). A waiter of the other kind stops new calls
 * of the running kind from joining, so neither kind starves; when the running
 * calls end, every waiter of the first waiter's kind is let in.
 */
export class SnapshotOpenGate {
  #running: GatedCall | undefined;
  #count = 0;
  readonly #waiting: Array<{ kind: GatedCall; enter: () => void }> = [];

  /**
   * Resolves when a call of `kind` may run, with the function that ends it
   * (call it exactly once, when the librbd call has settled).
   */
  enter(kind: GatedCall): Promise<() => void> {
    if (this.#count === 0 || (this.#running === kind && this.#waiting.length === 0)) {
      this.#running = kind;
      this.#count++;
      return Promise.resolve(this.#leaveOnce());
    }
    return new Promise((resolve) => this.#waiting.push({ kind, enter: () => resolve(this.#leaveOnce()) }));
  }

  #leaveOnce(): () => void {
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.#leave();
    };
  }

  #leave(): void {
    if (--this.#count > 0) return;
    this.#running = undefined;
    const next = this.#waiting[0];
    if (!next) return;
    this.#running = next.kind;
    for (let i = 0; i < this.#waiting.length; ) {
      const waiter = this.#waiting[i]!;
      if (waiter.kind !== next.kind) {
        i++;
        continue;
      }
      this.#waiting.splice(i, 1);
      this.#count++;
      waiter.enter();
    }
  }
}
