import { Button, TrashIcon, type GraphiQLPlugin } from "@graphiql/react";
import { useSyncExternalStore } from "react";
import { pickedFiles, type PickedFile } from "./picked-files.js";

/** An upload arrow for the plugin bar (GraphiQL's icon set has none). */
function FilesIcon() {
  return (
    <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="1.5" strokeLinecap="round" strokeLinejoin="round" aria-hidden="true">
      <path d="M12 15V3m0 0L7.5 7.5M12 3l4.5 4.5" />
      <path d="M3 14v5a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2v-5" />
    </svg>
  );
}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function FileRow({ entry }: { entry: PickedFile }) {
  return (
    <li className="media-files-row">
      <label>
        <span>Variable</span>
        <input
          type="text"
          className="media-files-path"
          aria-label="Variable path"
          spellCheck={false}
          value={entry.path}
          onChange={(e) => pickedFiles.update(entry.id, { path: e.target.value })}
        />
      </label>
      <label>
        <span>File</span>
        <input type="file" aria-label="File" onChange={(e) => pickedFiles.update(entry.id, { file: e.target.files?.[0] ?? null })} />
      </label>
      {entry.file ? (
        <p className="media-files-picked">
          {entry.file.name} · {formatSize(entry.file.size)}
        </p>
      ) : null}
      <Button type="button" className="media-files-remove" aria-label={`Remove ${entry.path}`} onClick={() => pickedFiles.remove(entry.id)}>
        <TrashIcon />
      </Button>
    </li>
  );
}

function FilesPanel() {
  const entries = useSyncExternalStore(pickedFiles.subscribe, pickedFiles.current);
  return (
    <section className="media-files" aria-label="Files">
      <div className="graphiql-doc-explorer-title">Files</div>
      <p className="media-files-help">
        Pick a file for each <code>Upload</code> variable, by its path below <code>variables</code>: <code>input.file</code> for{" "}
        <code>uploadShelf</code>, <code>input.files.0</code>, <code>input.files.1</code>… for <code>uploadShelves</code>. An
        operation that declares the path's variable is then sent as a multipart request with its files.
      </p>
      <ul className="media-files-list">
        {entries.map((entry) => (
          <FileRow key={entry.id} entry={entry} />
        ))}
      </ul>
      <Button type="button" onClick={() => pickedFiles.add()}>
        Add a file
      </Button>
    </section>
  );
}

export const filesPlugin: GraphiQLPlugin = { title: "Files", icon: FilesIcon, content: FilesPanel };
