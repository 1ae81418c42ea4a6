import type { Metadata } from "next";
import { Suspense } from "react";
import { EditorPage } from "@/components/editor/editor-page";

export const metadata: Metadata = { title: "Editor · project_llm" };

/** `/editor?pipeline=NAME`: the client editor reads its search params, hence the Suspense boundary. */
export default function Page() {
  return (
    <Suspense fallback={<p className="text-sm text-neutral-500">Loading the editor…</p>}>
      <EditorPage />
    </Suspense>
  );
}
