/**
 * A task run on demand, one run at a time: a request while a run is under way asks for one more
 * run after it, however many requests come in meanwhile. Queues use it to look for work when
 * work is added and on a timer, without ever looking twice at once.
 */
export class CoalescedRun {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly task: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {}

  request(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.task()
      .catch(this.onError)
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.request();
        }
      });
  }

  /** Resolves once no run is under way (a run asked for meanwhile included). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }
}
