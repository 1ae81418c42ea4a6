import { Suspense } from "react";
import { HistoryList } from "@/components/history/history-list";

export default function Page() {
  return (
    <Suspense>
      <HistoryList />
    </Suspense>
  );
}
