"use client";
/**
 * Modal dialogs on the browser's own `<dialog>`: it keeps the focus inside, Escape cancels, the rest of the
 * page is inert; the focus goes back where it was when the dialog closes.
 */
import { useTranslations } from "next-intl";
import { useEffect, useId, useRef, type ReactNode } from "react";
import { buttonClass, primaryButtonClass } from "./fields";

/** A dialog shown while it is rendered. The element marked `data-autofocus` gets the focus first. */
export function Dialog({ title, onCancel, children, testId }: { title: ReactNode; onCancel: () => void; children: ReactNode; testId?: string }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    const previous = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    dialog.showModal();
    dialog.querySelector<HTMLElement>("[data-autofocus]")?.focus();
    return () => {
      dialog.close();
      if (previous?.isConnected) previous.focus();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      data-testid={testId}
      onCancel={(event) => {
        // Escape: the owner decides (and unmounts the dialog), the browser does not close it behind its back.
        event.preventDefault();
        onCancel();
      }}
      className="m-auto w-[min(34rem,calc(100vw-2rem))] rounded-lg border border-neutral-300 bg-white p-4 text-sm text-neutral-900 shadow-xl backdrop:bg-black/40 dark:border-neutral-700 dark:bg-neutral-900 dark:text-neutral-100"
    >
      <h2 id={titleId} className="mb-2 text-base font-semibold">
        {title}
      </h2>
      {children}
    </dialog>
  );
}

/** A question with one action and a way back; the way back has the focus. */
export function ConfirmDialog({ message, confirmLabel, onConfirm, onCancel }: { message: ReactNode; confirmLabel: string; onConfirm: () => void; onCancel: () => void }) {
  const t = useTranslations("editor.confirm");
  return (
    <Dialog title={t("title")} onCancel={onCancel} testId="confirm-dialog">
      <p>{message}</p>
      <div className="mt-4 flex flex-wrap justify-end gap-2">
        <button type="button" className={buttonClass} onClick={onCancel} data-autofocus>
          {t("stay")}
        </button>
        <button type="button" className={primaryButtonClass} onClick={onConfirm}>
          {confirmLabel}
        </button>
      </div>
    </Dialog>
  );
}
