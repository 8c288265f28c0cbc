/** The files picked in the Files plugin, each with the variable path it fills; read by the fetcher. */

export interface PickedFile {
  id: number;
  /** Dotted path below `variables`, e.g. `input.file` or `input.files.0`. */
  path: string;
  file: File | null;
}

type Listener = () => void;

let nextId = 1;
let entries: readonly PickedFile[] = [{ id: nextId++, path: "input.file", file: null }];
const listeners = new Set<Listener>();

function publish(next: readonly PickedFile[]): void {
  entries = next;
  for (const listener of listeners) listener();
}

// Shaped for React's useSyncExternalStore: the plugin pane unmounts when hidden, the picks stay.
export const pickedFiles = {
  subscribe(listener: Listener): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  current(): readonly PickedFile[] {
    return entries;
  },
  add(): void {
    publish([...entries, { id: nextId++, path: nextPath(entries.at(-1)?.path), file: null }]);
  },
  update(id: number, change: Partial<Omit<PickedFile, "id">>): void {
    publish(entries.map((e) => (e.id === id ? { ...e, ...change } : e)));
  },
  remove(id: number): void {
    publish(entries.filter((e) => e.id !== id));
  },
};

/** The path a new row suggests: the next list index after `input.files.0`, else the same path. */
function nextPath(previous: string | undefined): string {
  if (!previous) return "input.file";
  const indexed = /^(.*\.)(\d+)$/.exec(previous);
  return indexed ? `${indexed[1]}${Number(indexed[2]) + 1}` : previous;
}
