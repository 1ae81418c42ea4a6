import { Suspense } from "react";
import { ComparePage } from "@/components/history/compare-page";

export default function Page() {
  return (
    <Suspense>
      <ComparePage />
    </Suspense>
  );
}
