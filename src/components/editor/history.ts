/**
 * Undo and redo over immutable states. A change may carry a key: changes with the same key in a row
 * (each keystroke in one field, each step of one drag) make one entry, so one undo takes back the whole edit.
 */
export interface History<T> {
  past: T[];
  present: T;
  future: T[];
  /** The key of the change that made `present`, if it had one. */
  lastKey?: string;
}

/** Entries kept for undo; older ones are dropped. */
export const historyLimit = 200;

export function createHistory<T>(present: T): History<T> {
  return { past: [], present, future: [] };
}

/** Records `next` as the present state; a change with the same key as the last one replaces it instead. */
export function pushHistory<T>(history: History<T>, next: T, key?: string): History<T> {
  if (next === history.present) return history;
  if (key !== undefined && key === history.lastKey) return { ...history, present: next, future: [] };
  return { past: [...history.past, history.present].slice(-historyLimit), present: next, future: [], lastKey: key };
}

export function undoHistory<T>(history: History<T>): History<T> {
  const previous = history.past.at(-1);
  if (previous === undefined) return history;
  return { past: history.past.slice(0, -1), present: previous, future: [history.present, ...history.future] };
}

export function redoHistory<T>(history: History<T>): History<T> {
  const [next, ...rest] = history.future;
  if (next === undefined) return history;
  return { past: [...history.past, history.present], present: next, future: rest };
}
